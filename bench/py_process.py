"""The reference Python client (openvino-telemetry 2025.2.0) doing what bench/ovt_process does.

    python py_process.py ENDPOINT_URL [--events N] [--timeout S] [--rss]
    python py_process.py --baseline [--rss]

Telemetry(...) with consent from $HOME/intel (the same files) + start_session + N events
(100) + end_session + force_shutdown(S = 1.0 s), then exit. The client's collect URL is
replaced by ENDPOINT_URL, and nothing but loopback can be reached (see py_common.py).

--baseline: the interpreter and nothing else (the baseline for RSS); --rss prints
`vmhwm_kib=<peak RSS of this process>` on stderr at exit (the processes the client forks
for each request are not included).
"""

import sys

import py_common


def main(argv):
    url, events, timeout, rss, baseline = None, 100, 1.0, False, False
    rest = list(argv[1:])
    while rest:
        a = rest.pop(0)
        if a == "--events":
            events = int(rest.pop(0))
        elif a == "--timeout":
            timeout = float(rest.pop(0))
        elif a == "--rss":
            rss = True
        elif a == "--baseline":
            baseline = True
        elif url is None:
            url = a
        else:
            raise SystemExit(__doc__)
    if baseline:
        if rss:
            print("vmhwm_kib=%d" % py_common.vm_hwm_kib(), file=sys.stderr)
        return 0
    if url is None:
        raise SystemExit(__doc__)

    py_common.loopback_only()
    from openvino_telemetry import Telemetry

    t = Telemetry(app_name="py_process", app_version="1.0.0", tid=py_common.TID, backend="ga4",
                  enable_opt_in_dialog=False, disable_in_ci=False)
    if not t.consent:
        print("py_process: the client found no consent in $HOME/intel", file=sys.stderr)
        return 1
    py_common.redirect(t, url)
    t.start_session("py_process")
    for i in range(events):
        t.send_event("py_process", "step", "a typical label", i)
    t.end_session("py_process")
    t.force_shutdown(timeout)
    if rss:
        print("vmhwm_kib=%d" % py_common.vm_hwm_kib(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
