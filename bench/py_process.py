"""The reference Python client (openvino-telemetry 2025.2.0) doing what bench/ovt_process does.

    python py_process.py ENDPOINT_URL [--events N] [--timeout S] [--rss] [--baseline]

Telemetry(...) with consent from $HOME/intel (the same files) + start_session + N events
(100) + end_session + force_shutdown(S = 1.0 s), then exit.

The client hard-codes https://www.google-analytics.com as its collect URL (GA4Backend's
`backend_url`); it is replaced here by the loopback ENDPOINT_URL with the same query. As a
second guard, before the client is imported, every name lookup and connect to anything but
127.0.0.1 / ::1 raises, so no packet can leave the machine even if the client changed (the
benchmark also runs inside a network namespace with only `lo`, where it can). The client
sends from forked processes (multiprocessing), which inherit both the patched URL and the
guard.

--baseline: the interpreter and nothing else (the baseline for RSS); --rss prints
`vmhwm_kib=<peak RSS of this process>` on stderr at exit.
"""

import os
import sys


def _parse(argv):
    opts = {"url": None, "events": 100, "timeout": 1.0, "rss": False, "baseline": False}
    rest = list(argv[1:])
    while rest:
        a = rest.pop(0)
        if a == "--events":
            opts["events"] = int(rest.pop(0))
        elif a == "--timeout":
            opts["timeout"] = float(rest.pop(0))
        elif a == "--rss":
            opts["rss"] = True
        elif a == "--baseline":
            opts["baseline"] = True
        elif opts["url"] is None:
            opts["url"] = a
        else:
            raise SystemExit("usage: py_process.py ENDPOINT_URL [--events N] [--timeout S] [--rss]")
    if opts["url"] is None and not opts["baseline"]:
        raise SystemExit("usage: py_process.py ENDPOINT_URL [--events N] [--timeout S] [--rss]")
    return opts


def _vm_hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def _loopback_only():
    """Refuse any name lookup or connection that is not to the loopback addresses."""
    import socket

    allowed = {"127.0.0.1", "::1", "localhost"}
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        h = host.decode() if isinstance(host, bytes) else host
        if h not in allowed:
            raise OSError("bench guard: lookup of %r refused (loopback only)" % (h,))
        return real_getaddrinfo(host, *args, **kwargs)

    def check(address):
        if isinstance(address, tuple) and address and address[0] not in allowed:
            raise OSError("bench guard: connect to %r refused (loopback only)" % (address,))

    def connect(self, address):
        check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex


def main():
    opts = _parse(sys.argv)
    if opts["baseline"]:
        if opts["rss"]:
            print("vmhwm_kib=%d" % _vm_hwm_kib(), file=sys.stderr)
        return 0
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        os.environ.pop(name, None)
    os.environ["no_proxy"] = "*"
    _loopback_only()

    from openvino_telemetry import Telemetry
    from openvino_telemetry.utils.params import telemetry_params

    tid = "G-BENCH00000"
    t = Telemetry(app_name="py_process", app_version="1.0.0", tid=tid, backend="ga4",
                  enable_opt_in_dialog=False, disable_in_ci=False)
    if not t.consent:
        print("py_process: the client found no consent in $HOME/intel", file=sys.stderr)
        return 1
    if not hasattr(t.backend, "backend_url") or "google-analytics" not in t.backend.backend_url:
        print("py_process: unexpected client layout: cannot redirect its URL", file=sys.stderr)
        return 1
    t.backend.backend_url = "{}?measurement_id={}&api_secret={}".format(
        opts["url"], tid, telemetry_params["api_key"])

    t.start_session("py_process")
    for i in range(opts["events"]):
        t.send_event("py_process", "step", "a typical label", i)
    t.end_session("py_process")
    t.force_shutdown(opts["timeout"])
    if opts["rss"]:
        print("vmhwm_kib=%d" % _vm_hwm_kib(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
