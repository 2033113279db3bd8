"""The example report of docs/backtest.md: the four shared KXBTC15M runs, screenshots by Chromium.

    .venv/bin/python bench/backtest_example.py [--out /tmp/bt-example]

Runs ``kalashi backtest`` on the four runs with ``docs/examples/tight-quotes.yaml`` and the runs'
``results.csv`` into ``--out``, then opens ``report.html`` in Debian's Chromium (Playwright) and
saves screenshots of its parts into ``docs/img/backtest/``. Prints the summary for the docs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT.parent / "shared" / "data" / "kalshi-real" / "crypto_ws_kxbtc15m" / "runs"
IMG = ROOT / "docs" / "img" / "backtest"
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/bt-example"))
    args = ap.parse_args()
    files = sorted(str(p) for p in RUNS.glob("*.events.jsonl.gz"))
    cmd = [
        str(ROOT / ".venv" / "bin" / "kalashi"),
        "backtest",
        "--source",
        "replay:" + ",".join(files),
        "--results",
        str(RUNS / "results.csv"),
        "--profile",
        str(ROOT / "docs" / "examples" / "tight-quotes.yaml"),
        "--out",
        str(args.out),
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    report = json.loads((args.out / "report.json").read_text())
    from playwright.sync_api import sync_playwright

    IMG.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900}, device_scale_factor=1)
        page.goto((args.out / "report.html").as_uri())
        page.wait_for_load_state("load")
        page.screenshot(
            path=str(IMG / "summary.png"), clip={"x": 0, "y": 0, "width": 1100, "height": 1500}, full_page=True
        )
        for name in ("equity", "strategies", "markouts"):
            page.locator(f'img[data-plot="{name}"]').screenshot(path=str(IMG / f"{name}.png"))
        page.locator('table[data-table="trades"]').screenshot(path=str(IMG / "trades.png"))
        browser.close()
    print(
        json.dumps(
            {
                "summary": report["summary"],
                "settlement": report["settlement"]["by_rule"],
                "per_strategy": {
                    k: {c: v for c, v in r.items() if c != "markouts"} for k, r in report["per_strategy"].items()
                },
                "markouts": report["markouts"],
                "per_category": report["per_category"],
                "notes": report["notes"],
                "data": {k: report["data"][k] for k in ("from", "to", "complete")},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
