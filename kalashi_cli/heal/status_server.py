"""Heal's status over HTTP: ``GET /api/v1/status`` (JSON) and ``GET /metrics`` (Prometheus text).

Served by :mod:`kalashi_cli.httpserve` (the same small server as the dashboard page) from a
background thread, bound to loopback by default. It
only reads a snapshot the monitor publishes (no request can change anything), answers GET
and HEAD, and refuses ``Host`` headers that are not loopback names when bound to loopback
(a DNS-rebinding page cannot read the status).

Metrics (text exposition format 0.0.4, rendered by ``prometheus_client``; names follow
Prometheus' naming rules — base units, ``_total`` only on counters — so ``promtool check
metrics`` passes)::

    kalashi_heal_up                                    gauge   1
    kalashi_health_overall                             gauge   0 ok, 1 degraded, 2 failed
    kalashi_health_status{check}                       gauge   same scale, one per check
    kalashi_health_check_duration_seconds{check}       gauge   how long the check took
    kalashi_process_up{process}                        gauge   1 running, 0 not
    kalashi_process_restarts_total{process}            counter restarts since heal started
    kalashi_repairs_total{action}                      counter repairs since heal started
    kalashi_loop_iteration_age_seconds                 gauge   since the journal's last iteration ended
    kalashi_loop_last_iteration                        gauge   its number
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..health import SEVERITY
from ..httpserve import LOOPBACK_NAMES, HttpServer, Request, Response, json_response, loopback_host, text

log = logging.getLogger("kalashi.heal")

STATUS_PATH = "/api/v1/status"
METRICS_PATH = "/metrics"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metrics_text(status: Mapping[str, Any]) -> str:
    """Render a status snapshot (as served on /api/v1/status) in Prometheus text format 0.0.4."""
    from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.exposition import generate_latest

    checks = status.get("checks") or []
    procs = status.get("processes") or []

    def gauge(
        name: str, help_: str, samples: Iterable[tuple[dict[str, str], float]], label: str | None = None
    ) -> Metric:
        fam = GaugeMetricFamily(name, help_, labels=[label] if label else None)
        for labels, value in samples:
            fam.add_metric([labels[label]] if label else [], value)
        return fam

    def counter(name: str, help_: str, label: str, samples: Iterable[tuple[str, float]]) -> Metric:
        fam = CounterMetricFamily(name.removesuffix("_total"), help_, labels=[label])
        for value_of_label, value in samples:
            fam.add_metric([value_of_label], value)
        return fam

    def families() -> Iterable[Metric]:
        yield gauge("kalashi_heal_up", "1 while kalashi heal is serving.", [({}, 1)])
        yield gauge(
            "kalashi_health_overall",
            "Overall health: 0 ok, 1 degraded, 2 failed.",
            [({}, SEVERITY.get(str(status.get("status")), 2))],
        )
        yield gauge(
            "kalashi_health_status",
            "Health of each check: 0 ok, 1 degraded, 2 failed.",
            [({"check": c["name"]}, SEVERITY.get(c["status"], 2)) for c in checks],
            "check",
        )
        yield gauge(
            "kalashi_health_check_duration_seconds",
            "How long each check took, in seconds.",
            [({"check": c["name"]}, float(c.get("latency_ms") or 0) / 1000) for c in checks],
            "check",
        )
        yield gauge(
            "kalashi_process_up",
            "1 when the supervised process is running.",
            [({"process": p["name"]}, 1 if p["state"] == "running" else 0) for p in procs],
            "process",
        )
        yield counter(
            "kalashi_process_restarts_total",
            "Restarts of each supervised process since heal started.",
            "process",
            [(p["name"], int(p.get("restarts") or 0)) for p in procs],
        )
        yield counter(
            "kalashi_repairs_total",
            "Repairs heal made since it started, by action.",
            "action",
            sorted((status.get("repair_counts") or {}).items()),
        )
        loop = next((c for c in checks if c["name"] == "loop"), None)
        facts = (loop or {}).get("facts") or {}
        if "iteration_age_s" in facts:
            yield gauge(
                "kalashi_loop_iteration_age_seconds",
                "Seconds since the journal's last iteration ended.",
                [({}, float(facts["iteration_age_s"]))],
            )
        if "last_iteration" in facts:
            yield gauge(
                "kalashi_loop_last_iteration",
                "Number of the journal's last iteration.",
                [({}, int(facts["last_iteration"]))],
            )

    class Snapshot:
        def collect(self) -> Iterable[Metric]:
            return families()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot())
    return generate_latest(registry).decode()


class StatusServer:
    """Serve a status snapshot as JSON and as Prometheus metrics, from a background thread."""

    def __init__(self, snapshot: Callable[[], Mapping[str, Any]], *, host: str = "127.0.0.1", port: int = 8002) -> None:
        self.snapshot = snapshot
        self.host = host
        self.requested_port = port
        self._http = HttpServer(
            host, port, self.answer, name="kalashi-heal-status", server_version="kalashi-heal/0.1", access_log=log
        )

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
