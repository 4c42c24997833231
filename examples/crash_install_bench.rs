//! What crash reports add to init, measured on the crash module alone (release build):
//! the first installation in a process (loader lookup resolved, main program's name,
//! unwinder warmed up, alternate stack, handlers) and then steady-state install/uninstall.
//!
//!     cargo run --release --example crash_install_bench
//!
//! `scripts/bench` measures the whole init with and without crash reports
//! (`init_crash_reports` in bench/ovt_bench.cpp).
use std::time::Instant;

use openvino_telemetry::crash;

fn main() {
    let dir = std::env::temp_dir().join(format!("ovt-crash-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = crash::Config {
        dir: dir.clone(),
        app_name: "bench".into(),
        app_version: "1".into(),
        client_id: "00000000-0000-4000-8000-000000000000".into(),
        debug: false,
    };
    let start = Instant::now();
    let first = crash::install(&config).unwrap();
    let first_ns = start.elapsed().as_nanos();
    drop(first);
    let (mut install, mut uninstall) = (Vec::new(), Vec::new());
    for _ in 0..2000 {
        let a = Instant::now();
        let installed = crash::install(&config).unwrap();
        let b = Instant::now();
        drop(installed);
        install.push((b - a).as_nanos());
        uninstall.push(b.elapsed().as_nanos());
    }
    install.sort_unstable();
    uninstall.sort_unstable();
    let p = |v: &[u128], q: usize| v[v.len() * q / 100];
    println!("first install in the process: {first_ns} ns");
    println!(
        "install   p50 {} ns, p99 {} ns (2000 runs)",
        p(&install, 50),
        p(&install, 99)
    );
    println!(
        "uninstall p50 {} ns, p99 {} ns",
        p(&uninstall, 50),
        p(&uninstall, 99)
    );
    std::fs::remove_dir_all(dir).unwrap();
}
