//! The benchmarks' sink: the loopback server as a process, counting what it receives.
//!
//!   loopback_server [--mode MODE] [--port-file PATH]
//!
//! MODE is a text form of `Mode` (`ok`, the default, `hang`, `fail:2:500`, ...). The port is
//! printed as the first line on stdout (and written to PATH, atomically). Each line `stats`
//! on stdin prints one line of counters on stdout:
//!   stats connections=N requests=N events=N bytes=N body_bytes=N
//! At the end of stdin the server keeps serving; it stops when it is killed (SIGTERM).

use std::io::{BufRead, Write};

use ovt_loopback::{Mode, TestServer};

fn main() {
    let (mode, port_file) = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!(
                "loopback_server: {e}\nusage: loopback_server [--mode MODE] [--port-file PATH]"
            );
            std::process::exit(2);
        }
    };
    let server = TestServer::start_counting(mode);
    let port = server.addr().port();
    if let Some(path) = port_file {
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, format!("{port}\n")).expect("write the port file");
        std::fs::rename(&tmp, &path).expect("rename the port file");
    }
    let mut out = std::io::stdout();
    writeln!(out, "{port}")
        .and_then(|()| out.flush())
        .expect("stdout");
    for line in std::io::stdin().lock().lines() {
        if line.as_deref().is_ok_and(|l| l.trim() == "stats") {
            let s = server.stats();
            let line = format!(
                "stats connections={} requests={} events={} bytes={} body_bytes={}",
                s.connections, s.requests, s.events, s.bytes, s.body_bytes
            );
            writeln!(out, "{line}")
                .and_then(|()| out.flush())
                .expect("stdout");
        }
    }
    loop {
        std::thread::park();
    }
}

fn parse_args() -> Result<(Mode, Option<String>), String> {
    let mut mode = Mode::Ok204;
    let mut port_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--mode" => mode = value.parse()?,
            "--port-file" => port_file = Some(value),
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok((mode, port_file))
}
