"""End to end in a real browser: `kalashi serve-bridge` running a paper loop on the sim, the shipped
dashboard in Debian's headless Chromium (driven by Playwright, which never downloads a browser).

The page loads from the bridge's own HTTP server, shows the journal's numbers (equity and cash,
and the performance and execution figures from the first state on, not only once the loop has
journaled a metrics record), a click on Pause pauses the loop, and nothing runs past its card or
makes the page scroll sideways at 390, 1024, 1440 and 1920 px. The screenshot is saved as
``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from kalashi_cli.journal import Journal
from kalashi_cli.money import fmt_money, parse_money
from kalashi_cli.profile import load_profile
from kalashi_cli.stages.metrics import compute_metrics
from kalashi_cli.stages.portfolio import load_portfolio

from .conftest import SIM, TOKEN, BridgeProcess, require_tool

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_MS = 20_000
#: Performance and Execution figures (test id → where in a metrics record)
FIGURES = {
    "trades": ("trades",),
    "wins": ("wins",),
    "losses": ("losses",),
    "win-rate": ("win_rate",),
    "win-streak": ("consecutive_wins",),
    "loss-streak": ("consecutive_losses",),
    "fill-rate": ("execution", "fill_rate"),
    "avg-latency": ("execution", "avg_latency_ms"),
    "avg-slippage": ("execution", "avg_slippage_pct"),
    "cache-hit-rate": ("cache", "hit_rate"),
    "api-calls": ("api", "calls"),
    "calls-per-iteration": ("api", "calls_per_iteration"),
}


def shown_dollars(money: str) -> str:
    """How the page writes an amount: dollars to the cent, half away from zero, thousands separated."""
    cents = Decimal(money).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"-${-cents:,.2f}" if cents < 0 else f"${cents:,.2f}"


def last_iteration(journal: Path) -> dict:
    jr = Journal(journal, mode="paper", readonly=True)
    try:
        return jr.iterations(limit=1)[-1]
    finally:
        jr.close()


def journal_figures(journal: Path) -> dict[str, str | None]:
    """The figures compute_metrics gives over the journal now, as the page's ``data-raw`` would hold them.

    With no round trip closed there is no win rate: the page shows "—" (no ``data-raw``).
    """
    jr = Journal(journal, mode="paper", readonly=True)
    try:
        m = compute_metrics(jr, load_portfolio(jr, parse_money("100")), load_profile("default"))
    finally:
        jr.close()
    out: dict[str, str | None] = {}
    for test_id, path in FIGURES.items():
        value: object = m
        for key in path:
            value = value[key]  # type: ignore[index]
        out[test_id] = str(value)
    if m["trades"] == 0:
        out["win-rate"] = None
    return out


def test_dashboard_shows_the_journal_and_pauses_the_loop(
    run_bridge_process: Callable[..., BridgeProcess], tmp_path: Path
) -> None:
    require_tool(
        CHROMIUM.exists(),
        f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium; .ci/run does)",
    )
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    journal = tmp_path / "journal.sqlite"
    bridge = run_bridge_process(
        "--source", SIM, "--interval", "0.25", "--journal", str(journal), env={"KALASHI_BRIDGE_TOKEN": TOKEN}
    )
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 1300},
            color_scheme="light",
        )
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)

            def text_is(test_id: str, want: str) -> None:
                page.wait_for_function(
                    '([id, want]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === want',
                    arg=[test_id, want],
                    timeout=STEP_MS,
                )

            def iteration_above(n: int, timeout: int = STEP_MS) -> None:
                page.wait_for_function(
                    "(n) => Number(document.querySelector('[data-testid=\"iteration\"]')?.textContent) > n",
                    arg=n,
                    timeout=timeout,
                )

            def shown(ids: list[str]) -> dict[str, str | None]:
                """The ``data-raw`` of these test ids (and the iteration shown), read in one go."""
                return page.evaluate(
                    "(ids) => Object.fromEntries(ids.map((id) => [id, document.querySelector("
                    "`[data-testid=\"${id}\"]`)?.getAttribute('data-raw') ?? null]))",
                    ids,
                )

            def no_overflow(width: int) -> None:
                page.set_viewport_size({"width": width, "height": 1300})
                wide = page.evaluate("""() => {
                    const out = [];
                    const doc = document.documentElement;
                    if (doc.scrollWidth > window.innerWidth) out.push(`page ${doc.scrollWidth} > ${window.innerWidth}`);
                    for (const card of document.querySelectorAll('.glass-card')) {
                      if (card.scrollWidth > card.clientWidth) {
                        out.push(`${card.dataset.testid} ${card.scrollWidth} > ${card.clientWidth}`);
                      }
                    }
                    return out;
                }""")
                assert not wide, f"at {width} px: {wide}"

            page.goto(f"{bridge.page_url}?token={TOKEN}")
            text_is("connection-status", "live")
            assert "token=" not in page.url  # the page moved it to sessionStorage
            text_is("loop-status", "running")
            page.wait_for_function(
                "() => /^[0-9]+$/.test(document.querySelector('[data-testid=\"iteration\"]')?.textContent ?? '')",
                timeout=STEP_MS,
            )
            # the first state already carries performance and execution figures: the loop journals a
            # metrics record only every 10th iteration, and the page must not wait for it
            first = shown([*FIGURES, "iteration"])
            assert all(first[k] is not None for k in FIGURES if k != "win-rate"), first
            assert (first["win-rate"] is None) == (first["trades"] == "0"), first  # no round trip: "—"
            iteration_above(2)  # live: the loop's iteration records move the page
            text_is("mode", "paper")

            page.get_by_test_id("btn-pause").click()
            text_is("loop-status", "paused")
            row = last_iteration(journal)
            # pause returns once the iteration in flight has finished: the page shows the last one
            text_is("iteration", str(row["n"]))
            equity, cash = fmt_money(row["equity"]), fmt_money(row["cash"])
            assert page.get_by_test_id("equity").get_attribute("data-raw") == equity
            assert page.get_by_test_id("balance").get_attribute("data-raw") == cash
            assert page.get_by_test_id("equity").text_content() == shown_dollars(equity)
            assert page.get_by_test_id("balance").text_content() == shown_dollars(cash)
            assert page.get_by_test_id("starting-balance").get_attribute("data-raw") == "100.0000"
            # the paused page's figures are the journal's, whatever the iteration (not those of the
            # last 10th one): pause is a command, and the state after a command is computed afresh
            want = journal_figures(journal)
            try:
                page.wait_for_function(
                    "([ids, want]) => ids.every((id) => document.querySelector("
                    "`[data-testid=\"${id}\"]`)?.getAttribute('data-raw') === want[id])",
                    arg=[list(FIGURES), want],
                    timeout=STEP_MS,
                )
            except PlaywrightTimeout:
                raise AssertionError(f"page {shown(list(FIGURES))} != journal {want}") from None

            # paused means paused: at 4 iterations a second, a running loop would pass n in 1.5 s
            with pytest.raises(PlaywrightTimeout):
                iteration_above(row["n"], timeout=1500)
            assert last_iteration(journal)["n"] == row["n"]
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            for width in (390, 1024, 1920, 1440):
                no_overflow(width)

            page.get_by_test_id("btn-start").click()
            text_is("loop-status", "running")
            iteration_above(row["n"])
        finally:
            browser.close()
    assert bridge.interrupt() == 0
    assert not problems, problems
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def test_a_network_bind_serves_a_page_that_connects_by_any_name(
    run_bridge_process: Callable[..., BridgeProcess], tmp_path: Path
) -> None:
    # --host 0.0.0.0: the page opened by a name other than the one printed (here localhost, on a
    # network a LAN address or a DNS name) must still get its WebSocket, with the token
    require_tool(
        CHROMIUM.exists(),
        f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium; .ci/run does)",
    )
    from playwright.sync_api import sync_playwright

    bridge = run_bridge_process(
        "--source",
        SIM,
        "--interval",
        "0.5",
        "--paused",
        "--host",
        "0.0.0.0",
        "--journal",
        str(tmp_path / "journal.sqlite"),
        env={"KALASHI_BRIDGE_TOKEN": TOKEN},
    )
    page_url = bridge.page_url.replace("127.0.0.1", "localhost")
    assert page_url != bridge.page_url
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            assert page.goto(page_url).status == 401  # beyond loopback even the page needs the token
            page.goto(f"{page_url}?token={TOKEN}")
            page.wait_for_function(
                "() => document.querySelector('[data-testid=\"connection-status\"]')?.textContent === 'live'",
                timeout=STEP_MS,
            )
            page.wait_for_function(
                "() => document.querySelector('[data-testid=\"loop-status\"]')"
                "?.textContent === 'paused' || document.querySelector("
                "'[data-testid=\"loop-status\"]')?.textContent === 'stopped'",
                timeout=STEP_MS,
            )
        finally:
            browser.close()
    assert bridge.interrupt() == 0
