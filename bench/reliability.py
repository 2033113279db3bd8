"""Run the order-safety suites (tests/safety) with their counters on, and print the counts table.

    .venv/bin/python bench/reliability.py              # normal + slow suites (the figures in docs/reliability.md)
    .venv/bin/python bench/reliability.py --fast       # only what the normal test run includes
    .venv/bin/python bench/reliability.py --markdown   # the tables as Markdown, for docs/reliability.md

Each suite writes what it counted (submissions, unknown outcomes, reconciliations, SIGKILLs,
duplicates found, fills lost …) as one JSON line to ``$KALASHI_RELIABILITY_COUNTS``; this script
points that at a temporary file, runs pytest once, and prints per test its result and time and
per suite its counts. Exit status is pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: the figures every reader looks for first, in this order (the rest follow alphabetically)
HEADLINE = (
    "submissions",
    "sent",
    "sigkills",
    "unknown_outcomes",
    "lost_answer_found_by_lookup",
    "conflict_409_found",
    "rate_limited_429",
    "reconciliations",
    "resends",
    "duplicates_found",
    "fills_lost",
)


def run(mark: str, extra: list[str]) -> tuple[int, list[dict[str, object]], list[tuple[str, str, float]], float]:
    with tempfile.TemporaryDirectory() as tmp:
        counts_path = Path(tmp) / "counts.jsonl"
        junit = Path(tmp) / "junit.xml"
        env = {**os.environ, "KALASHI_RELIABILITY_COUNTS": str(counts_path)}
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "tests/safety",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            mark,
            f"--junitxml={junit}",
            *extra,
        ]
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT, env=env, check=False, stdout=sys.stderr).returncode  # tables alone on stdout
        elapsed = time.perf_counter() - t0
        suites = [json.loads(line) for line in counts_path.read_text().splitlines()] if counts_path.exists() else []
        tests: list[tuple[str, str, float]] = []
        if junit.exists():
            for case in ET.parse(junit).getroot().iter("testcase"):
                outcome = "passed"
                for child in case:
                    if child.tag in ("failure", "error"):
                        outcome = "FAILED"
                    elif child.tag == "skipped":
                        outcome = "skipped"
                name = f"{case.get('classname', '').split('.')[-1]}::{case.get('name')}"
                tests.append((name, outcome, float(case.get("time") or 0)))
    return rc, suites, tests, elapsed


def ordered(counts: dict[str, int]) -> list[tuple[str, int]]:
    head = [(k, counts[k]) for k in HEADLINE if k in counts]
    return head + sorted((k, v) for k, v in counts.items() if k not in HEADLINE)


def render(suites: list[dict[str, object]], tests: list[tuple[str, str, float]], *, markdown: bool) -> str:
    out: list[str] = []
    if markdown:
        out += ["| test | result | seconds |", "|---|---|---:|"]
        out += [f"| `{n}` | {o} | {t:.1f} |" for n, o, t in tests]
    else:
        width = max((len(n) for n, _, _ in tests), default=10)
        out += [f"{n:<{width}}  {o:<7} {t:7.1f} s" for n, o, t in tests]
    for s in suites:
        counts = s.get("counts") or {}
        assert isinstance(counts, dict)
        out.append("")
        if markdown:
            out += [f"**{s['suite']}** — `{s.get('command', '')}`", "", "| count | value |", "|---|---:|"]
            out += [f"| {k.replace('_', ' ')} | {v} |" for k, v in ordered(counts)]
        else:
            out.append(f"[{s['suite']}]  {s.get('command', '')}")
            out += [f"  {k.replace('_', ' '):<34} {v:>8}" for k, v in ordered(counts)]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fast", action="store_true", help="only the suites of the normal test run (not slow)")
    ap.add_argument("--slow-only", action="store_true", help="only the slow suites")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -k crash)")
    args = ap.parse_args()
    mark = "not slow" if args.fast else "slow" if args.slow_only else "slow or not slow"
    rc, suites, tests, elapsed = run(mark, args.pytest_args)
    print()
    print(
        f"kalashi reliability — pytest tests/safety -m '{mark}' — {time.strftime('%Y-%m-%d %H:%M')} — "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs — {elapsed:.0f} s, pytest exit {rc}"
    )
    print()
    print(render(suites, tests, markdown=args.markdown))
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
