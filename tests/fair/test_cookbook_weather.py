"""The cookbook's weather model (an external program writing `fair` records) runs as written, offline.

The program is taken from docs/cookbook.md (the block after ``<!-- fair-recipe: weather_fair.py -->``)
and pointed at a local fake of the Open-Meteo forecast API through ``FORECAST_URL``.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest

from kalashi_cli.record_schema import schema_for
from kalashi_cli.records import market_record

from .conftest import Kalashi, mk, records

COOKBOOK = Path(__file__).resolve().parents[2] / "docs" / "cookbook.md"
FORECAST_MAX = 82.3


def recipe() -> str:
    m = re.search(r"<!-- fair-recipe: weather_fair\.py -->\n```python\n(.*?)\n```", COOKBOOK.read_text(), re.S)
    assert m, "the weather recipe is missing from docs/cookbook.md"
    return m.group(1)


@pytest.fixture
def open_meteo() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    queries: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            queries.append(parse_qs(url.query))
            body = {
                "latitude": 40.78,
                "longitude": -73.97,
                "timezone": "America/New_York",
                "daily_units": {"time": "iso8601", "temperature_2m_max": "°F"},
                "daily": {"time": ["2026-07-24", "2026-07-25"], "temperature_2m_max": [FORECAST_MAX, 88.0]},
            }
            data = json.dumps(body).encode() if url.path == "/v1/forecast" else b"{}"
            self.send_response(200 if url.path == "/v1/forecast" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", queries
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def brackets() -> list[dict[str, object]]:
    ev = "KXHIGHNY-26JUL24"
    ms = [
        mk(f"{ev}-T80", event=ev, bid=0.02, ask=0.04, strike_type="less", cap_strike=Decimal(80)),
        mk(
            f"{ev}-B80.5",
            event=ev,
            bid=0.20,
            ask=0.23,
            strike_type="between",
            floor_strike=Decimal(80),
            cap_strike=Decimal(81),
        ),
        # the forecast puts ~31 % on 82-83°, and YES is offered at 0.15: value
        mk(
            f"{ev}-B82.5",
            event=ev,
            bid=0.13,
            ask=0.15,
            strike_type="between",
            floor_strike=Decimal(82),
            cap_strike=Decimal(83),
        ),
        mk(
            f"{ev}-B84.5",
            event=ev,
            bid=0.25,
            ask=0.28,
            strike_type="between",
            floor_strike=Decimal(84),
            cap_strike=Decimal(85),
        ),
        mk(f"{ev}-T85", event=ev, bid=0.10, ask=0.12, strike_type="greater", floor_strike=Decimal(85)),
    ]
    out = []
    for m in ms:
        rec = market_record(m)
        rec["ts"] = "2026-07-23T14:00:00Z"
        out.append(rec)
    return out


def test_the_weather_recipe_writes_valid_fair_records(
    open_meteo: tuple[str, list], tmp_path: Path, kalashi: Kalashi
) -> None:
    url, queries = open_meteo
    (tmp_path / "weather_fair.py").write_text(recipe() + "\n")
    markets = "\n".join(json.dumps(r) for r in brackets()) + "\n"
    env = {**os.environ, "FORECAST_URL": url}
    p = subprocess.run(
        [sys.executable, "weather_fair.py"],
        input=markets,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    out = records(p.stdout)
    fair = [r for r in out if r["kind"] == "fair"]
    assert [r["kind"] for r in out] == ["fair"] * 5 + ["market"] * 5  # values first, then the markets
    for r in fair:
        jsonschema.validate(r, schema_for("fair"))
    # one forecast request per city and day, for the station Kalshi settles on, in °F
    assert len(queries) == 1
    assert queries[0]["daily"] == ["temperature_2m_max"] and queries[0]["temperature_unit"] == ["fahrenheit"]
    p_by = {r["ticker"].rsplit("-", 1)[1]: float(r["p"]) for r in fair}
    assert sum(p_by.values()) == pytest.approx(1.0, abs=1e-5)  # the brackets partition the line

    def phi(x: float) -> float:
        return 0.5 * math.erfc(-x / math.sqrt(2))

    assert p_by["B82.5"] == pytest.approx(phi((83.5 - FORECAST_MAX) / 2.5) - phi((81.5 - FORECAST_MAX) / 2.5), abs=1e-6)
    # and kalashi takes them in the same pipe
    res = kalashi("analyze", "--fair", "-", input=p.stdout)
    opps = [r for r in records(res.stdout) if r["kind"] == "opportunity" and r["strategy"] == "value"]
    assert any(o["legs"][0]["ticker"].endswith("B82.5") and "model open-meteo-normal" in o["reason"] for o in opps)
