"""The reference Python client's side of the per-call figures, measured like ovt_bench does.

    HOME=<dir with intel/openvino_telemetry = 1> python py_bench.py --sink PATH --out FILE [--quick]

Figures (same names as ovt_bench's JSON, each a distribution in ns unless the key says so):
  send_enabled_1t / send_enabled_8t    Telemetry.send_event with consent, per call
  send_disabled_1t / send_disabled_8t  the same without consent (batches of 1,000 calls)
  init                                 Telemetry.init(...) with consent stored
  shutdown_idle                        Telemetry.force_shutdown(1.0) with nothing queued
  throughput                           events delivered to the loopback sink per second

The client queues at most 1,000 messages and forks one process per message, so sends are
made in rounds of 100 (1 thread) or 8 x 13, waiting for its queue to drain in between.
"""

import json
import os
import sys
import threading
import time

import py_common


def dist(prefix, values):
    v = sorted(values)
    out = {prefix + "count": len(v)}
    if not v:
        return out
    out[prefix + "mean"] = sum(v) / len(v)

    def pct(p):
        rank = max(1, min(len(v), int(p / 100.0 * len(v) + 0.5)))
        return v[rank - 1]

    out.update({prefix + "min": v[0], prefix + "p50": pct(50), prefix + "p90": pct(90),
                prefix + "p99": pct(99), prefix + "p999": pct(99.9), prefix + "max": v[-1]})
    return out


def wait_drained(t, limit=60.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        with t.sender._lock:
            if t.sender.queue_size == 0:
                return True
        time.sleep(0.005)
    return False


def set_consent(home, value):
    with open(os.path.join(home, "intel", "openvino_telemetry"), "w") as f:
        f.write(value)


def main(argv):
    sink_bin, out, quick = None, "py_bench.json", False
    rest = list(argv[1:])
    while rest:
        a = rest.pop(0)
        if a == "--sink":
            sink_bin = rest.pop(0)
        elif a == "--out":
            out = rest.pop(0)
        elif a == "--quick":
            quick = True
        else:
            raise SystemExit(__doc__)
    if sink_bin is None:
        raise SystemExit(__doc__)
    home = os.environ["HOME"]

    py_common.loopback_only()
    from openvino_telemetry import Telemetry

    sink = py_common.Sink(sink_bin, "ok")
    figures = {}

    def init(increment=True):
        t.init("py_bench", "1.0.0", py_common.TID, "ga4", enable_opt_in_dialog=False,
               disable_in_ci=False, increment_stats=increment)
        if t.consent:
            py_common.redirect(t, sink.url)

    timer = []
    for _ in range(100000):
        a = time.perf_counter_ns()
        timer.append(time.perf_counter_ns() - a)
    timer.sort()
    timer_ns = timer[len(timer) // 2]
    figures["timer"] = dist("ns_", timer)

    set_consent(home, "1")
    t = Telemetry(app_name="py_bench", app_version="1.0.0", tid=py_common.TID, backend="ga4",
                  enable_opt_in_dialog=False, disable_in_ci=False)
    py_common.redirect(t, sink.url)
    if not t.consent:
        raise SystemExit("py_bench: no consent found in $HOME/intel")

    # --- send with consent ---------------------------------------------------------------
    rounds = 2 if quick else 5
    for threads, per_thread in ((1, 100), (8, 13)):
        samples = []
        lock = threading.Lock()

        def worker():
            mine = []
            for i in range(per_thread):
                a = time.perf_counter_ns()
                t.send_event("bench", "send_event", "a typical label", i)
                mine.append(max(0, time.perf_counter_ns() - a - timer_ns))
            with lock:
                samples.extend(mine)

        for _ in range(rounds):
            pool = [threading.Thread(target=worker) for _ in range(threads)]
            for th in pool:
                th.start()
            for th in pool:
                th.join()
            if not wait_drained(t):
                raise SystemExit("py_bench: the client's queue did not drain")
        fig = {"threads": threads, "rounds": rounds, "calls_per_thread_per_round": per_thread,
               "timer_ns_subtracted": timer_ns}
        fig.update(dist("ns_", samples))
        figures["send_enabled_%dt" % threads] = fig

    # --- throughput: events delivered per second -----------------------------------------
    events = 100 if quick else 300
    s0 = sink.stats()
    cpu0 = py_common.proc_cpu_seconds(sink.proc.pid)
    a = time.perf_counter()
    for i in range(events):
        t.send_event("bench", "send_event", "a typical label", i)
    while sink.stats()["events"] - s0["events"] < events and time.perf_counter() - a < 120:
        time.sleep(0.005)
    sec = time.perf_counter() - a
    s1 = sink.stats()
    cpu1 = py_common.proc_cpu_seconds(sink.proc.pid)
    wait_drained(t)
    ev = s1["events"] - s0["events"]
    figures["throughput"] = {
        "events_per_run": events,
        "events_per_s_p50": ev / sec,
        "requests_per_s_p50": (s1["requests"] - s0["requests"]) / sec,
        "bytes_per_event_p50": (s1["bytes"] - s0["bytes"]) / max(ev, 1),
        "body_bytes_per_event_p50": (s1["body_bytes"] - s0["body_bytes"]) / max(ev, 1),
        "sink_cpu_fraction_p50": (cpu1 - cpu0) / sec,
        "seconds_p50": sec,
    }

    # --- init, idle force_shutdown ---------------------------------------------------------
    n = 20 if quick else 50
    init_ns, shut_ns = [], []
    for i in range(n + 3):
        a = time.perf_counter_ns()
        init()
        b = time.perf_counter_ns()
        time.sleep(0.002)
        c = time.perf_counter_ns()
        t.force_shutdown(1.0)
        d = time.perf_counter_ns()
        if i >= 3:
            init_ns.append(b - a)
            shut_ns.append(d - c)
    figures["init"] = dist("ns_", init_ns)
    figures["shutdown_idle"] = dist("ns_", shut_ns)

    # --- disabled path --------------------------------------------------------------------
    set_consent(home, "0")
    init()
    if t.consent:
        raise SystemExit("py_bench: consent still given after writing 0")
    batches = 100 if quick else 400
    for threads in (1, 8):
        per_call = []
        lock = threading.Lock()

        def disabled_worker():
            mine = []
            for _ in range(batches // threads if threads > 1 else batches):
                a = time.perf_counter_ns()
                for i in range(1000):
                    t.send_event("bench", "send_event", "a typical label", i)
                mine.append((time.perf_counter_ns() - a) / 1000.0)
            with lock:
                per_call.extend(mine)

        pool = [threading.Thread(target=disabled_worker) for _ in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        fig = {"threads": threads, "batch_calls": 1000}
        fig.update(dist("ns_per_call_", per_call))
        figures["send_disabled_%dt" % threads] = fig
    set_consent(home, "1")

    sink.close()
    with open(out, "w") as f:
        json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
