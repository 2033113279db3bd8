"""The status endpoint: JSON on /api/v1/status, Prometheus text on /metrics, nothing else."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import needs
import pytest

from kalashi_cli.heal.status_server import METRICS_CONTENT_TYPE, StatusServer, metrics_text

SNAPSHOT: dict[str, Any] = {
    "v": 1,
    "status": "degraded",
    "exit_code": 10,
    "summary": "loop degraded: late",
    "checks": [
        {
            "name": "loop",
            "status": "degraded",
            "detail": "late",
            "latency_ms": "1.25",
            "facts": {"iteration_age_s": 75.5, "last_iteration": 41},
        },
        {"name": "journal_integrity", "status": "ok", "detail": 'ok "quoted" \\ path', "latency_ms": "3"},
        {"name": "process.loop", "status": "failed", "detail": "gave up", "latency_ms": "0"},
    ],
    "repairs": [{"ts": "2026-11-25T17:00:00Z", "action": "restart", "target": "loop", "ok": True, "detail": "x"}],
    "repair_counts": {"restart": 3, "give-up": 1},
    "processes": [
        {"name": "loop", "state": "gave_up", "restarts": 3},
        {"name": "bridge", "state": "running", "restarts": 0},
    ],
}


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Parse with Prometheus' own text parser (prometheus_client's): sample name → [(labels, value)].

    Every sample must belong to a family its ``# TYPE`` line declared (the parser otherwise makes
    an untyped family of it), and every family must have ``# HELP``.
    """
    from prometheus_client.parser import text_string_to_metric_families

    assert text.endswith("\n")
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        assert fam.type in ("gauge", "counter"), (fam.name, fam.type)
        assert fam.documentation, f"{fam.name} has no HELP"
        families.setdefault(fam.name + ("_total" if fam.type == "counter" else ""), [])
        for sample in fam.samples:
            families.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return families


#: Prometheus' naming rules, as `promtool check metrics` applies them (client_golang's promlint)
BASE_UNITS = {"seconds", "bytes", "meters", "metres", "grams", "joules", "volts", "amperes", "celsius", "kelvin"}
NON_BASE_UNITS = {
    "minutes",
    "hours",
    "days",
    "weeks",
    "bits",
    "inches",
    "yards",
    "miles",
    "pounds",
    "ounces",
    "calories",
    "fahrenheit",
    "kelvins",
}
UNIT_PREFIXES = (
    "pico",
    "nano",
    "micro",
    "milli",
    "centi",
    "deci",
    "deca",
    "hecto",
    "kilo",
    "kibi",
    "mega",
    "mibi",
    "giga",
    "gibi",
    "tera",
    "tebi",
    "peta",
    "pebi",
)
ABBREVIATED_UNITS = ("s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d")
TYPE_WORDS = ("counter", "gauge", "summary", "histogram", "gauge_histogram")


def naming_problems(text: str) -> list[str]:
    """Every breach of the naming rules in an exposition (an empty list when it is clean)."""
    problems: list[str] = []
    helped = {line.split(" ")[2] for line in text.splitlines() if line.startswith("# HELP ")}
    for line in text.splitlines():
        if not line.startswith("# TYPE "):
            continue
        _, _, name, kind = line.split(" ", 3)
        low = name.lower()

        def bad(what: str, name: str = name) -> None:
            problems.append(f"{name}: {what}")

        if name not in helped:
            bad("no help text")
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            bad("not snake_case (or has a ':')")
        if kind == "counter" and not name.endswith("_total"):
            bad('counter metrics should have "_total" suffix')
        if kind != "counter" and name.endswith("_total"):
            bad('non-counter metrics should not have "_total" suffix')
        if kind not in ("histogram", "summary") and name.endswith(("_count", "_sum", "_bucket")):
            bad("a _count/_sum/_bucket suffix belongs to histograms and summaries")
        for word in name.split("_"):
            stem = next((word[len(p) :] for p in UNIT_PREFIXES if word.startswith(p)), word)
            if word in NON_BASE_UNITS or (stem != word and (stem in BASE_UNITS or stem in NON_BASE_UNITS)):
                bad(f"use a base unit instead of {word!r}")
        for abbr in ABBREVIATED_UNITS:
            if f"_{abbr}_" in low or low.endswith(f"_{abbr}"):
                bad(f"abbreviated unit {abbr!r} (use a base unit, spelled out)")
        for t in TYPE_WORDS:
            if f"_{t}_" in low or low.endswith(f"_{t}"):
                bad(f"metric name should not include its type {t!r}")
    for labels in re.findall(r"\{([^}]*)\}", text):
        for label in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', labels):
            if re.search(r"[a-z][A-Z]", label) or label in ("le", "quantile"):
                problems.append(f"label {label}: camelCase, or reserved for histograms/summaries")
    return problems


@pytest.fixture
def server() -> Iterator[StatusServer]:
    s = StatusServer(lambda: SNAPSHOT, port=0).start()
    yield s
    s.stop()


def get(
    s: StatusServer, path: str, *, method: str = "GET", host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
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
        "loop": 1.0,
        "journal_integrity": 0.0,
        "process.loop": 2.0,
    }
    assert ({"check": "loop"}, 0.00125) in fam["kalashi_health_check_duration_seconds"]  # base units
    assert dict((lab["process"], v) for lab, v in fam["kalashi_process_up"]) == {"loop": 0.0, "bridge": 1.0}
    assert ({"process": "loop"}, 3.0) in fam["kalashi_process_restarts_total"]
    assert dict((lab["action"], v) for lab, v in fam["kalashi_repairs_total"]) == {"give-up": 1.0, "restart": 3.0}
    assert fam["kalashi_loop_iteration_age_seconds"] == [({}, 75.5)]
    assert fam["kalashi_loop_last_iteration"] == [({}, 41.0)]


def test_metric_names_follow_the_prometheus_naming_rules() -> None:
    text = metrics_text(SNAPSHOT)
    assert naming_problems(text) == []
    # the rules bite: the old millisecond gauge, a counter without _total, a gauge with it
    assert naming_problems("# HELP a_latency_ms x\n# TYPE a_latency_ms gauge\na_latency_ms 1\n")
    assert naming_problems("# HELP a_wait_milliseconds x\n# TYPE a_wait_milliseconds gauge\n")
    assert naming_problems("# HELP a_restarts x\n# TYPE a_restarts counter\n")
    assert naming_problems("# HELP a_up_total x\n# TYPE a_up_total gauge\n")
    assert naming_problems("# TYPE a_up gauge\n") == ["a_up: no help text"]


def test_promtool_check_metrics_passes() -> None:
    promtool = shutil.which("promtool")  # fails under CI (.ci/run installs it), skips elsewhere
    needs.require(
        promtool is not None,
        "promtool",
        "promtool is not installed: apt-get install --no-install-recommends prometheus (only its promtool is used)",
    )
    assert promtool
    p = subprocess.run(
        [promtool, "check", "metrics"], input=metrics_text(SNAPSHOT), capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stdout + p.stderr
    # and it is the judge the rules above stand in for: the old name fails it
    old = (
        "# HELP kalashi_health_check_latency_ms x\n# TYPE kalashi_health_check_latency_ms gauge\n"
        'kalashi_health_check_latency_ms{check="loop"} 1.25\n'
    )
    p = subprocess.run([promtool, "check", "metrics"], input=old, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "abbreviated units" in p.stdout + p.stderr


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
