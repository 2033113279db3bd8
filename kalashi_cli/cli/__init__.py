"""The ``kalashi`` command (the only package that imports typer and rich).

Started as the ``kalashi`` program, a Ctrl-C that arrives while Python is still importing the
commands ends the process quietly with exit 130, like one that arrives later, instead of
printing an import traceback; ``app.main`` hands SIGINT back to Python once it runs.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def _interrupted_while_starting(signum: int, frame: object) -> None:
    try:
        sys.stderr.write("kalashi: error: interrupted — nothing to repair; run the command again\n")
        sys.stderr.flush()
    finally:
        os._exit(130)


def _started_as_the_program() -> bool:
    prog = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return prog.name in ("kalashi", "kalashi.exe") or (prog.name == "__main__.py" and prog.parent.name == "kalashi_cli")


if _started_as_the_program() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
