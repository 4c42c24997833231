//! Load: 16 threads sending on one handle stay bounded in memory and count exactly.

use super::*;

const LOAD_THREADS: usize = 16;

/// In its own process: LOAD_THREADS threads × N sends on one handle. Argument `N:down` (nobody
/// listens) or `N:refusing` (429 with Retry-After: 0, so the worker gives up batch after
/// batch and writes the spool all the time).
fn send_under_load(argument: &str) {
    let (per_thread, server) = argument.split_once(':').unwrap();
    let per_thread: u64 = per_thread.parse().unwrap();
    let refusing = TestServer::start(Mode::TooManyRequests {
        retry_after_secs: 0,
        times: usize::MAX,
    });
    let endpoint = match server {
        "down" => closed_port_url(),
        _ => refusing.url(),
    };
    let dir = accepted_dir("load");
    let t = Arc::new(init(&options(&dir, &endpoint)));
    assert!(t.is_enabled());
    let hwm_before = proc_status_kb("VmHWM");
    let rss_before = proc_status_kb("VmRSS");
    let started = Instant::now();
    let threads: Vec<_> = (0..LOAD_THREADS)
        .map(|i| {
            let t = Arc::clone(&t);
            thread::spawn(move || {
                let (mut ok, mut full) = (0u64, 0u64);
                for n in 0..per_thread {
                    match t.send_event("load", "send", &i.to_string(), n as i64) {
                        Ok(()) => ok += 1,
                        Err(Error::QueueFull) => full += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                (ok, full)
            })
        })
        .collect();
    let (mut ok, mut full) = (0u64, 0u64);
    for th in threads {
        let (o, f) = th.join().unwrap();
        ok += o;
        full += f;
    }
    let elapsed = started.elapsed();
    let c = t.counters();
    let hwm_after = proc_status_kb("VmHWM");
    let rss_after = proc_status_kb("VmRSS");
    let total = LOAD_THREADS as u64 * per_thread;
    let stopped = Instant::now();
    let shutdown = t.shutdown(Duration::from_millis(500));
    let shutdown_ms = stopped.elapsed().as_millis();
    let end = t.counters();
    println!(
        "LOAD server={server} threads={LOAD_THREADS} per_thread={per_thread} total={total} ok={ok} \
         queue_full={full} queued={} dropped={} failed_before_shutdown={} secs={:.2} \
         sends_per_sec={:.0} hwm_before_kb={hwm_before} hwm_after_kb={hwm_after} \
         rss_before_kb={rss_before} rss_after_kb={rss_after} shutdown_ms={shutdown_ms} \
         shutdown={shutdown:?} spooled={}",
        c.queued,
        c.dropped,
        c.failed,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        spool_lines(&dir).len()
    );
    assert_eq!(ok + full, total);
    assert_eq!(c.queued, ok, "every OK is counted as queued");
    assert_eq!(c.dropped, full, "every QUEUE_FULL is counted as dropped");
    assert_eq!(c.queued + c.dropped, total);
    assert_eq!(end.sent, 0);
    assert_eq!(end.dropped, full, "nothing more dropped after the sends");
    assert_eq!(
        end.sent + end.failed,
        end.queued,
        "nothing pending after shutdown"
    );
    assert!(spool_lines(&dir).len() <= 1000);
    assert!(
        hwm_after.saturating_sub(hwm_before) < 64 * 1024,
        "peak RSS grew by {} kB",
        hwm_after - hwm_before
    );
    assert!(shutdown_ms < 5000, "{shutdown_ms} ms");
}

fn run_load(test: &str, server: &'static str) {
    let argument = move || {
        // The full figure of the issue; OVT_LOAD_SENDS overrides the sends per thread.
        let per_thread = std::env::var("OVT_LOAD_SENDS").unwrap_or_else(|_| "100000".into());
        format!("{per_thread}:{server}")
    };
    let run = run_in_own_process(test, argument, send_under_load, Duration::from_secs(300));
    assert!(run.status.success(), "{}", run.output);
    println!(
        "LOAD {} child_total_ms={}",
        line(&run.output, "LOAD "),
        run.elapsed.as_millis()
    );
}

#[test]
fn sixteen_threads_sending_with_the_server_down_stay_bounded_and_count_exactly() {
    run_load(
        rusty_fork_test_name!(
            sixteen_threads_sending_with_the_server_down_stay_bounded_and_count_exactly
        ),
        "down",
    );
}

#[test]
fn sixteen_threads_sending_while_the_worker_spools_stay_bounded_and_count_exactly() {
    run_load(
        rusty_fork_test_name!(
            sixteen_threads_sending_while_the_worker_spools_stay_bounded_and_count_exactly
        ),
        "refusing",
    );
}
