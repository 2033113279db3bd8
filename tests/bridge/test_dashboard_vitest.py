"""The dashboard's own unit tests (Vitest), run as part of the suite so one command covers everything.

Needs Node ≥ 20 and npm (the README's machine has both); `npm ci` installs the locked
dependencies into dashboard/node_modules the first time.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .conftest import require_tool

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def test_vitest_suite_passes() -> None:
    require_tool(
        shutil.which("npm") is not None, "npm is not installed (Node.js is needed for the dashboard)", what="npm"
    )
    lock = DASHBOARD / "package-lock.json"
    stamp = DASHBOARD / "node_modules" / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=DASHBOARD, check=True, timeout=600
        )
    res = subprocess.run(["npm", "test", "--silent"], cwd=DASHBOARD, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
