"""The status endpoint: JSON on /api/v1/status, Prometheus text on /metrics, nothing else."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from kalashi_cli.heal.status_server import METRICS_CONTENT_TYPE, StatusServer, metrics_text

SNAPSHOT: dict[str, Any] = {
    "v": 1, "status": "degraded", "exit_code": 10, "summary": "loop degraded: late",
    "checks": [
        {"name": "loop", "status": "degraded", "detail": "late", "latency_ms": "1.25",
         "facts": {"iteration_age_s": 75.5, "last_iteration": 41}},
        {"name": "journal_integrity", "status": "ok", "detail": 'ok "quoted" \\ path', "latency_ms": "3"},
        {"name": "process.loop", "status": "failed", "detail": "gave up", "latency_ms": "0"},
    ],
    "repairs": [{"ts": "2026-11-25T17:00:00Z", "action": "restart", "target": "loop", "ok": True, "detail": "x"}],
    "repair_counts": {"restart": 3, "give-up": 1},
    "processes": [{"name": "loop", "state": "gave_up", "restarts": 3},
                  {"name": "bridge", "state": "running", "restarts": 0}],
}

# one sample line of the text exposition format: name{labels} value
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? '
                    r'(-?[0-9.]+(?:e[+-]?[0-9]+)?|NaN|[+-]Inf)$')


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """A strict little parser: every line is HELP, TYPE or a sample; every sample's family was TYPEd."""
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    typed: dict[str, str] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("gauge", "counter"), line
            typed[name] = kind
            families.setdefault(name, [])
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name = m.group(1)
        assert name in typed, f"{name} has no TYPE"
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        families[name].append((labels, float(m.group(4))))
    return families


@pytest.fixture
def server() -> Iterator[StatusServer]:
    s = StatusServer(lambda: SNAPSHOT, port=0).start()
    yield s
    s.stop()


def get(s: StatusServer, path: str, *, method: str = "GET", host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    try:
        headers = {"Host": host} if host else {}
        conn.request(method, path, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_status_json(server: StatusServer) -> None:
    status, headers, body = get(server, "/api/v1/status")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == SNAPSHOT
    assert server.url == f"http://127.0.0.1:{server.port}/api/v1/status"


def test_metrics_parse_as_prometheus_text(server: StatusServer) -> None:
    status, headers, body = get(server, "/metrics")
    assert status == 200 and headers["content-type"] == METRICS_CONTENT_TYPE
    fam = parse_metrics(body.decode())
    assert fam["kalashi_heal_up"] == [({}, 1.0)]
    assert fam["kalashi_health_overall"] == [({}, 1.0)]
    assert dict((lab["check"], v) for lab, v in fam["kalashi_health_status"]) == {
        "loop": 1.0, "journal_integrity": 0.0, "process.loop": 2.0}
    assert ({"check": "loop"}, 1.25) in fam["kalashi_health_check_latency_ms"]
    assert dict((lab["process"], v) for lab, v in fam["kalashi_process_up"]) == {"loop": 0.0, "bridge": 1.0}
    assert ({"process": "loop"}, 3.0) in fam["kalashi_process_restarts_total"]
    assert dict((lab["action"], v) for lab, v in fam["kalashi_repairs_total"]) == {"give-up": 1.0, "restart": 3.0}
    assert fam["kalashi_loop_iteration_age_seconds"] == [({}, 75.5)]
    assert fam["kalashi_loop_last_iteration"] == [({}, 41.0)]


def test_label_values_are_escaped() -> None:
    snap = {**SNAPSHOT, "checks": [{"name": 'we"ird\\name\nx', "status": "ok", "latency_ms": "0"}]}
    text = metrics_text(snap)
    parse_metrics(text)
    assert 'check="we\\"ird\\\\name\\nx"' in text


def test_before_the_first_round(server: StatusServer) -> None:
    text = metrics_text({"status": "unknown", "checks": [], "processes": []})
    fam = parse_metrics(text)
    assert fam["kalashi_health_overall"] == [({}, 2.0)] and "kalashi_loop_last_iteration" not in fam


def test_unknown_paths_head_and_foreign_hosts(server: StatusServer) -> None:
    status, _, body = get(server, "/")
    assert status == 404 and "/api/v1/status" in json.loads(body)["paths"]
    status, headers, body = get(server, "/api/v1/status", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    status, _, _ = get(server, "/metrics", method="POST")
    assert status == 501
    status, _, _ = get(server, "/api/v1/status", host="attacker.example:8002")  # DNS rebinding
    assert status == 403
    status, _, _ = get(server, "/api/v1/status", host=f"localhost:{server.port}")
    assert status == 200


def test_a_broken_snapshot_is_a_500_not_a_dead_server() -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("boom")

    s = StatusServer(broken, port=0).start()
    try:
        status, _, body = get(s, "/api/v1/status")
        assert status == 500 and b"boom" in body
        status, _, _ = get(s, "/api/v1/status")
        assert status == 500  # still serving
    finally:
        s.stop()


def test_a_taken_port_is_an_oserror(server: StatusServer) -> None:
    with pytest.raises(OSError):
        StatusServer(lambda: SNAPSHOT, port=server.port).start()
