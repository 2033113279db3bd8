"""Heal's status over HTTP: ``GET /api/v1/status`` (JSON) and ``GET /metrics`` (Prometheus text).

A stdlib ``ThreadingHTTPServer`` in a background thread, bound to loopback by default. It
only reads a snapshot the monitor publishes (no request can change anything), answers GET
and HEAD, and refuses ``Host`` headers that are not loopback names when bound to loopback
(a DNS-rebinding page cannot read the status).

Metrics (text exposition format 0.0.4)::

    kalashi_health_overall                     gauge   0 ok, 1 degraded, 2 failed
    kalashi_health_status{check}               gauge   same scale, one per check
    kalashi_health_check_latency_ms{check}     gauge
    kalashi_process_up{process}                gauge   1 running, 0 not
    kalashi_process_restarts_total{process}    counter restarts since heal started
    kalashi_repairs_total{action}              counter repairs since heal started
    kalashi_loop_iteration_age_seconds         gauge   since the journal's last iteration ended
    kalashi_loop_last_iteration                gauge   its number
    kalashi_heal_up                            gauge   1
"""

from __future__ import annotations

import http.server
import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..bridge.page import LOOPBACK_NAMES, host_name
from .checks import SEVERITY

log = logging.getLogger("kalashi.heal")

STATUS_PATH = "/api/v1/status"
METRICS_PATH = "/metrics"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(v: float | int) -> str:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
    return repr(float(v)) if isinstance(v, float) else str(v)


def metrics_text(status: Mapping[str, Any]) -> str:
    """Render a status snapshot (as served on /api/v1/status) in Prometheus text format."""
    out: list[str] = []

    def family(name: str, kind: str, help_: str, samples: Iterable[tuple[dict[str, str], float | int]]) -> None:
        rows = list(samples)
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in rows:
            lab = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            out.append(f"{name}{{{lab}}} {_num(value)}" if lab else f"{name} {_num(value)}")

    checks = status.get("checks") or []
    family("kalashi_heal_up", "gauge", "1 while kalashi heal is serving.", [({}, 1)])
    family("kalashi_health_overall", "gauge", "Overall health: 0 ok, 1 degraded, 2 failed.",
           [({}, SEVERITY.get(str(status.get("status")), 2))])
    family("kalashi_health_status", "gauge", "Health of each check: 0 ok, 1 degraded, 2 failed.",
           [({"check": c["name"]}, SEVERITY.get(c["status"], 2)) for c in checks])
    family("kalashi_health_check_latency_ms", "gauge", "How long each check took, in milliseconds.",
           [({"check": c["name"]}, float(c.get("latency_ms") or 0)) for c in checks])
    procs = status.get("processes") or []
    family("kalashi_process_up", "gauge", "1 when the supervised process is running.",
           [({"process": p["name"]}, 1 if p["state"] == "running" else 0) for p in procs])
    family("kalashi_process_restarts_total", "counter", "Restarts of each supervised process since heal started.",
           [({"process": p["name"]}, int(p.get("restarts") or 0)) for p in procs])
    family("kalashi_repairs_total", "counter", "Repairs heal made since it started, by action.",
           [({"action": a}, n) for a, n in sorted((status.get("repair_counts") or {}).items())])
    loop = next((c for c in checks if c["name"] == "loop"), None)
    facts = (loop or {}).get("facts") or {}
    if "iteration_age_s" in facts:
        family("kalashi_loop_iteration_age_seconds", "gauge", "Seconds since the journal's last iteration ended.",
               [({}, float(facts["iteration_age_s"]))])
    if "last_iteration" in facts:
        family("kalashi_loop_last_iteration", "gauge", "Number of the journal's last iteration.",
               [({}, int(facts["last_iteration"]))])
    return "\n".join(out) + "\n"


class StatusServer:
    """Serve a status snapshot as JSON and as Prometheus metrics, from a background thread."""

    def __init__(self, snapshot: Callable[[], Mapping[str, Any]], *, host: str = "127.0.0.1", port: int = 8002) -> None:
        self.snapshot = snapshot
        self.host = host
        self.requested_port = port
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the status server is not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{STATUS_PATH}"

    def start(self) -> StatusServer:
        """Bind and serve in a daemon thread.

        Raises:
            OSError: the address is in use or cannot be bound.
        """
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            server_version = "kalashi-heal/0.1"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                log.debug("status server: " + format, *args)

            def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
                self._answer(head=True)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(head=False)

            def _answer(self, *, head: bool) -> None:
                if server.host in LOOPBACK_NAMES and host_name(self.headers.get("Host") or "") not in LOOPBACK_NAMES:
                    self._send(403, "text/plain; charset=utf-8", b"forbidden host\n", head)
                    return
                path = urlsplit(self.path).path
                try:
                    snap = server.snapshot()
                except Exception as e:  # noqa: BLE001 - report, never crash the server thread
                    self._send(500, "text/plain; charset=utf-8", f"status unavailable: {e}\n".encode(), head)
                    return
                if path in (STATUS_PATH, STATUS_PATH + "/"):
                    body = json.dumps(snap, default=str, indent=None).encode()
                    self._send(200, "application/json", body, head)
                elif path == METRICS_PATH:
                    self._send(200, METRICS_CONTENT_TYPE, metrics_text(snap).encode(), head)
                else:
                    self._send(404, "application/json",
                               json.dumps({"error": f"no such path {path}",
                                           "paths": [STATUS_PATH, METRICS_PATH]}).encode(), head)

            def _send(self, code: int, ctype: str, body: bytes, head: bool) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        self._httpd = http.server.ThreadingHTTPServer((self.host, self.requested_port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.1,), name="kalashi-heal-status",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
