"""Shared by py_process.py and py_bench.py: how the reference Python client
(openvino-telemetry 2025.2.0) is made to talk to the loopback sink, and only to it.

The client hard-codes https://www.google-analytics.com as its collect URL (GA4Backend's
`backend_url`); `redirect()` replaces it with the loopback sink's URL and the same query.
As a second guard, `loopback_only()` (called before the client is imported) makes every
name lookup and connect to anything but 127.0.0.1 / ::1 / localhost raise, so no packet can
leave the machine even if the client changed; the client sends from forked processes
(multiprocessing, fork start method), which inherit both. scripts/bench also runs
everything inside a network namespace that has only `lo`.
"""

import os
import subprocess

TID = "G-BENCH00000"
_ALLOWED = {"127.0.0.1", "::1", "localhost"}


def loopback_only():
    import socket

    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        os.environ.pop(name, None)
    os.environ["no_proxy"] = "*"
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        h = host.decode() if isinstance(host, bytes) else host
        if h not in _ALLOWED:
            raise OSError("bench guard: lookup of %r refused (loopback only)" % (h,))
        return real_getaddrinfo(host, *args, **kwargs)

    def check(address):
        if isinstance(address, tuple) and address and address[0] not in _ALLOWED:
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


def redirect(telemetry, url):
    """Points the client's GA4 backend at `url` (the collect URL without its query)."""
    from openvino_telemetry.utils.params import telemetry_params

    backend = telemetry.backend
    if not hasattr(backend, "backend_url") or "google-analytics" not in backend.backend_url:
        raise SystemExit("bench: unexpected client layout: cannot redirect its collect URL")
    backend.backend_url = "{}?measurement_id={}&api_secret={}".format(
        url, TID, telemetry_params["api_key"])


def vm_hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sink:
    """The loopback test server's binary (tests/loopback, `loopback_server`) as a child process
    (mode ok or hang); "stats" on its stdin prints a line of counters on its stdout."""

    def __init__(self, binary, mode="ok"):
        self.proc = subprocess.Popen([binary, "--mode", mode], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.url = "http://127.0.0.1:%d/mp/collect" % self.port

    def stats(self):
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        return {k: int(v) for k, v in (item.split("=") for item in line[1:])}

    def close(self):
        self.proc.terminate()
        self.proc.communicate()
