"""The shipped page in Debian's headless Chromium, against the Python bridge over a scripted backend.

A scripted state (tests/bridge/conftest.py ``ScriptedBackend``) gives the page exact shapes a sim
run would take long to reach: 120 positions and 80 resting orders, a flatten that closes 53 of 72
positions and answers only after the page's 10 s quiet mark. What is checked, as a user sees it:

* before the first state the cards say they are waiting, never "No open positions";
* Positions and Open orders fit their card at 390, 1024, 1440 and 1920 px (stacked rows on a
  phone), page in fifties, sort by a column, and total every row;
* every time shown names its clock; the percent rule holds for an edge_pct of 0.7778;
* the profile is picked from the bridge's list and switched only after a confirmation;
* a long flatten shows its progress, then its late answer with what stayed open and why;
* the disconnect banner says since when.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .conftest import FIXTURE_STATE, TOKEN, ProtocolSchemas, RunningBridge, ScriptedBackend, require_tool
from .test_e2e_browser import CHROMIUM, CHROMIUM_ARGS, STEP_MS

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WIDTHS = (390, 1024, 1440, 1920)


def big_state() -> dict[str, Any]:
    """The fixture state with 120 positions, 80 resting orders and a 77.78 % edge opportunity."""
    state: dict[str, Any] = json.loads(FIXTURE_STATE.read_text(encoding="utf-8"))
    state["positions"] = [
        {
            "ticker": f"KXMANYMARKETS-26DEC31-B{i:03d}",
            "title": f"Market number {i}",
            "outcome": "no" if i % 3 == 0 else "yes",
            "count": f"{i + 1}.00",
            "avg_price": f"0.{(i % 90) + 5:02d}00",
            "mark": None if i % 10 == 9 else f"0.{(i % 90) + 6:02d}00",
            "unrealized_pnl": None if i % 10 == 9 else f"{(i + 1) / 100:.4f}",
            "group": ("election", "crypto", "economy")[i % 3],
        }
        for i in range(120)
    ]
    state["open_orders"] = [
        {
            "client_order_id": f"kal-{i:04d}-spread-KXMANYMARKETS-26DEC31-B{i:03d}-a",
            "order_id": f"paper-{i:06d}",
            "ticker": f"KXMANYMARKETS-26DEC31-B{i:03d}",
            "outcome": "yes" if i % 2 else "no",
            "action": "buy",
            "price": "0.4200",
            "count": "20.00",
            "remaining": "12.50",
            "status": "resting",
            "created": f"2026-01-01T{12 + i // 60:02d}:{i % 60:02d}:00Z",  # the sim's clock
            "placed_wall": f"2026-11-25T14:{i // 60:02d}:{i % 60:02d}Z",
        }
        for i in range(80)
    ]
    state["opportunities"][0] = {**state["opportunities"][0], "edge_pct": "0.7778"}
    return state


@contextmanager
def browser_page(tmp_path: Path, width: int = 1440) -> Iterator[Any]:
    require_tool(
        CHROMIUM.exists(),
        f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium; .ci/run does)",
    )
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": 1200},
            color_scheme="light",
        )
        try:
            page = ctx.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            yield page
        finally:
            ctx.close()
    assert not problems, problems


def wait_text(page: Any, test_id: str, want: str) -> None:
    page.wait_for_function(
        '([id, want]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === want',
        arg=[test_id, want],
        timeout=STEP_MS,
    )


OVERFLOW = """() => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth) out.push(`page ${doc.scrollWidth} > ${window.innerWidth}`);
  for (const el of document.querySelectorAll('.glass-card, .data-table-box')) {
    if (el.scrollWidth > el.clientWidth + 1) {
      out.push(`${el.dataset.testid ?? el.closest('.glass-card')?.dataset.testid} ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  for (const t of document.querySelectorAll('.data-table')) {
    const card = t.closest('.glass-card').getBoundingClientRect();
    const r = t.getBoundingClientRect();
    if (r.right > card.right + 1 || r.left < card.left - 1) out.push(`${t.dataset.testid} runs past its card`);
  }
  return out;
}"""

LAYOUT = """(id) => {
  const t = document.querySelector(`[data-testid="${id}"]`);
  const row = t.querySelector('tbody tr');
  const shown = [...row.children].filter((c) => getComputedStyle(c).display !== 'none').map((c) => c.dataset.label);
  return {stacked: getComputedStyle(row).display === 'grid', shown};
}"""

UNLABELLED_TIMES = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (/\\b\\d\\d:\\d\\d(:\\d\\d)?\\b/.test(n.textContent) && !n.parentElement.closest('time[data-clock]')) out.push(n.textContent);
  }
  return out;
}"""


def test_tables_times_loading_and_profiles_in_the_browser(
    start_bridge: Callable[..., RunningBridge], schemas: ProtocolSchemas, tmp_path: Path
) -> None:
    state = big_state()
    schemas.check({"type": "state", "state": state})
    backend = ScriptedBackend(state)
    backend.state_ready.clear()  # the first state is late: the page must say it is waiting
    switched = threading.Event()

    def set_profile(args: dict[str, Any], _progress: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        backend.current["loop"]["profile"] = args["name"]
        switched.set()
        return {"profile": args["name"]}

    backend.commands["set_profile"] = set_profile
    bridge = start_bridge(backend, token=TOKEN)
    ARTIFACTS.mkdir(exist_ok=True)
    with browser_page(tmp_path) as page:
        page.goto(f"{bridge.page_url}?token={TOKEN}")
        wait_text(page, "connection-status", "live")
        # connected, no state yet: waiting, not "nothing"
        page.get_by_test_id("positions-loading").wait_for(timeout=STEP_MS)
        body = page.text_content("body") or ""
        for nothing in ("No open positions", "No resting orders", "No exposure", "No opportunities"):
            assert nothing not in body
        assert page.get_by_test_id("orders-loading").text_content() == "Waiting for the first state from the bridge…"
        backend.state_ready.set()
        wait_text(page, "positions-table-range", "1–50 of 120")
        assert page.locator("[data-loading]").count() == 0

        # tables: paged, totalled over every row, sortable
        assert page.locator("[data-testid=positions-table] tbody tr").count() == 50
        assert page.get_by_test_id("positions-total-count").text_content() == "7,260"
        assert "Total (120)" in (page.get_by_test_id("positions-table-totals").text_content() or "")
        wait_text(page, "open-orders-table-range", "1–50 of 80")
        assert page.get_by_test_id("orders-total-remaining").text_content() == "1,000"
        assert page.get_by_test_id("orders-total-value").text_content() == "$420.00"
        first_order = page.locator("[data-testid=open-orders-table] tbody tr th").first.text_content()
        assert first_order == "KXMANYMARKETS-26DEC31-B079"  # newest placed (wall clock) first
        page.get_by_test_id("positions-table-next").click()
        wait_text(page, "positions-table-range", "51–100 of 120")
        page.get_by_test_id("positions-table-sort-count").click()
        wait_text(page, "positions-table-range", "1–50 of 120")
        assert (
            page.locator("[data-testid=positions-table] tbody tr th").first.text_content()
            == "KXMANYMARKETS-26DEC31-B119"
        )

        # the one percent rule: an edge of 0.7778 of the cost is 77.78 %
        assert page.locator("[data-field=edge_pct]").first.text_content() == "77.78%"
        # every time names its clock
        assert page.evaluate(UNLABELLED_TIMES) == []
        clocks = set(page.eval_on_selector_all("time", "(ts) => ts.map((t) => t.dataset.clock)"))
        assert clocks == {"wall", "sim"}

        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1200})
            page.wait_for_timeout(50)  # one layout pass after the resize
            assert page.evaluate(OVERFLOW) == [], f"at {width} px"
            for table in ("positions-table", "open-orders-table"):
                layout = page.evaluate(LAYOUT, table)
                assert layout["stacked"] == (width == 390), (width, table, layout)
                assert "Market" in layout["shown"] and ("Unrealized" in layout["shown"] or table != "positions-table")
            page.screenshot(path=str(ARTIFACTS / f"dashboard-tables-{width}.png"), full_page=True)
        page.set_viewport_size({"width": 1440, "height": 1200})
        wide = page.evaluate(LAYOUT, "positions-table")["shown"]
        assert wide == ["Market", "Side", "Contracts", "Avg price", "Cost", "Mark", "Unrealized", "Group"]

        # profiles: picked from the list, switched after a confirmation
        options = page.eval_on_selector_all("[data-testid=profile-select] option", "(os) => os.map((o) => o.value)")
        assert options == ["aggressive", "conservative", "default"]
        page.get_by_test_id("profile-select").select_option("conservative")
        page.get_by_test_id("btn-set-profile").click()
        page.get_by_test_id("dialog-profile").wait_for(timeout=STEP_MS)
        assert not switched.is_set()
        page.get_by_test_id("btn-set-profile-confirm").click()
        assert switched.wait(STEP_MS / 1000)
        wait_text(page, "profile", "conservative")

        # the bridge goes away: the banner says since when, on the wall clock
        bridge.stop()
        page.get_by_test_id("down-since").wait_for(timeout=STEP_MS)
        assert page.get_by_test_id("down-since").get_attribute("data-clock") == "wall"
        assert "Disconnected from the bridge" in (page.get_by_test_id("connection-banner").text_content() or "")


def test_a_long_flatten_shows_progress_then_its_late_answer(
    start_bridge: Callable[..., RunningBridge], tmp_path: Path
) -> None:
    from .test_bridge_commands import _slow_flatten

    backend = ScriptedBackend()
    release, started = threading.Event(), threading.Event()
    _slow_flatten(backend, release, started)
    # the bridge says nothing between the flatten's steps, so the page reaches its 10 s quiet mark
    bridge = start_bridge(backend, token=TOKEN, progress_every_s=3600.0)
    try:
        with browser_page(tmp_path) as page:
            page.clock.install()
            page.goto(f"{bridge.page_url}?token={TOKEN}")
            wait_text(page, "connection-status", "live")
            page.get_by_test_id("btn-flatten").click()
            page.get_by_test_id("btn-flatten-confirm").click()
            assert started.wait(STEP_MS / 1000)
            wait_text(page, "command-status", "running 53/72")
            assert "KXT-52: closed" in (page.get_by_test_id("command-progress").text_content() or "")
            page.clock.fast_forward("00:11")  # past the 10 s the page once gave up after
            page.get_by_test_id("command-quiet").wait_for(timeout=STEP_MS)
            assert "still waiting for its answer" in (page.get_by_test_id("command-quiet").text_content() or "")
            assert "timeout" not in (page.text_content("body") or "").lower()
            release.set()
            wait_text(page, "command-result", "3 resting orders cancelled, 53 positions closed, 19 left open")
            left = page.locator("[data-testid=left-open] li")
            assert left.count() == 19
            assert left.first.text_content() == "KXT-53 — no bid within the 5.0% slippage bound"
            assert page.locator("[data-testid=command-quiet]").count() == 0
            toast = page.locator("[data-testid=toast]").last.text_content() or ""
            assert "Flatten: done" in toast and "19 left open" in toast
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard-flatten.png"), full_page=True)
    finally:
        release.set()
