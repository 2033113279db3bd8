"""Heal's status over HTTP: ``GET /api/v1/status`` (JSON) and ``GET /metrics`` (Prometheus text).

Served by :mod:`kalashi_cli.httpserve` (the same small server as the dashboard page) from a
background thread, bound to loopback by default. It
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

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..httpserve import LOOPBACK_NAMES, HttpServer, Request, Response, json_response, loopback_host, text
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
        self._http = HttpServer(host, port, self.answer, name="kalashi-heal-status",
                                server_version="kalashi-heal/0.1", access_log=log)

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return f"{self._http.base_url()}{STATUS_PATH}"

    def start(self) -> StatusServer:
        """Bind and serve in a daemon thread.

        Raises:
            OSError: the address is in use or cannot be bound.
        """
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.close()

    def answer(self, req: Request) -> Response:
        """The answer to one GET/HEAD (never cached)."""
        resp = self._route(req)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _route(self, req: Request) -> Response:
        if self.host in LOOPBACK_NAMES and not loopback_host(req.host):
            return text(403, "forbidden host\n")
        path = req.path
        try:
            snap = self.snapshot()
        except Exception as e:  # noqa: BLE001 - report, never crash the server thread
            return text(500, f"status unavailable: {e}\n")
        if path in (STATUS_PATH, STATUS_PATH + "/"):
            return json_response(200, snap)
        if path == METRICS_PATH:
            return Response(200, metrics_text(snap).encode(), METRICS_CONTENT_TYPE)
        return json_response(404, {"error": f"no such path {path}", "paths": [STATUS_PATH, METRICS_PATH]})
