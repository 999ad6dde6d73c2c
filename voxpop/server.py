"""The production web server: cheroot, on plain HTTP and on HTTPS at once.

cheroot is a maintained, pure-Python, cross-platform WSGI server (CherryPy's) with built-in
TLS, so one process serves the laptop's own browser over ``http://localhost`` and tablets on
the LAN over HTTPS. See docs/architecture.md for why not waitress (no TLS) or gunicorn
(no Windows).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from voxpop.tls import TLSFiles

# Sized for 20 kiosks and a busy studio at once. A thread is held for a whole request (a
# 2 MiB tus chunk over slow Wi-Fi, a video streamed to the review page); idle keep-alive
# connections wait in cheroot's selector without one. cheroot never grows its pool by
# itself, so the pool is made this size at start (about 40 KB of memory per idle thread).
THREADS = 48
# The listen backlog: connections the kernel holds until a thread accepts them. cheroot's
# default of 5 reset 59 of 200 simultaneous kiosk posts (bench/burst.py); the kernel caps
# it at net.core.somaxconn (4096 on current Linux, 128 on older ones).
ACCEPT_BACKLOG = 1024
STOP_POLL_SECONDS = 0.25  # how soon Ctrl+C or SIGTERM is acted on


class PortInUse(OSError):
    """The port is taken (often: voxpop is already running)."""


def _server(app: Any, host: str, port: int, threads: int) -> wsgi.Server:
    server = wsgi.Server(
        (host, port), app, numthreads=threads, max=threads, server_name="voxpop",
        request_queue_size=ACCEPT_BACKLOG,
    )  # fmt: skip
    # Slow tablets on busy venue Wi-Fi: give each socket read a generous allowance.
    server.timeout = 60
    return server


def serve_forever(
    app: Any,
    host: str,
    port: int,
    tls_port: int,
    tls_files: TLSFiles,
    threads: int = THREADS,
    on_ready: Callable[[], None] | None = None,
    stop_event: threading.Event | None = None,
) -> None:
    """Serve ``app`` on HTTP ``port`` and HTTPS ``tls_port`` until Ctrl+C, SIGTERM or a stop.

    Raises PortInUse before serving anything if either port cannot be bound.
    """
    http = _server(app, host, port, threads)
    https = _server(app, host, tls_port, threads)
    https.ssl_adapter = BuiltinSSLAdapter(str(tls_files.server_cert), str(tls_files.server_key))
    for server, number in ((http, port), (https, tls_port)):
        try:
            server.prepare()
        except OSError as error:
            http.stop()
            raise PortInUse(f"Port {number} on {host} is not available ({error}).") from error

    stop = stop_event or threading.Event()
    # The signal handler only notes the signal. Setting the Event from it deadlocked: the
    # handler runs in the main thread, which may at that moment hold the Event's own lock
    # inside stop.wait(), and Event.set() then waits for that lock for ever (seen as a
    # `voxpop serve` that ignored Ctrl+C, every thread idle).
    signalled: list[int] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda number, _frame: signalled.append(number))
    workers = [
        threading.Thread(target=s.serve, name=f"voxpop-{n}", daemon=True)
        for s, n in ((http, "http"), (https, "https"))
    ]
    for worker in workers:
        worker.start()
    if on_ready:
        on_ready()
    while not signalled and not stop.wait(STOP_POLL_SECONDS):
        pass
    for server in (http, https):
        server.stop()
