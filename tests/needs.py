"""What a test needs that the repository does not carry: ../shared, a program on PATH, a Python 3.13.

A test that lacks one calls :func:`unavailable` (or the helpers built on it). Under ``CI=true`` that
fails the test: CI installs every tool and has ../shared beside the clone, so a skip there would
hide a broken install step. Elsewhere (a user's clone) the test skips, and tests/conftest.py prints
one line at the end of the session saying how many tests were not run and what they needed.

../shared (Kalshi's published specs and real captured data, whose licences do not allow copying
them into the repository) is the folder beside the repository's root, or ``$KALASHI_SHARED_DIR``
(set it to a missing folder to see what a clone without ../shared runs).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KALASHI_SHARED_DIR") or REPO.parent / "shared")

#: The prefix of every skip message written here: the session summary groups skips by what follows it.
PREFIX = "needs "

F = TypeVar("F", bound=Callable[..., Any])


def in_ci() -> bool:
    """Whether the suite runs in CI (``CI`` set to anything but empty/0/false/no, as .ci/run does)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(what: str, detail: str) -> NoReturn:
    """This test cannot run here because ``what`` is missing: fail under CI, skip elsewhere.

    ``what`` names the missing thing in a few words (it groups the end-of-session summary);
    ``detail`` says which file or program exactly and how to get it.
    """
    message = f"{PREFIX}{what}: {detail}"
    if in_ci():
        pytest.fail(f"{message} (CI is set, so this fails instead of skipping)")
    pytest.skip(message)


def shared_path(*parts: str) -> Path:
    """A path under ../shared (``shared_path("data", "kalshi-real", …)`` or one "a/b/c" string)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        unavailable(
            "../shared",
            f"{p} is not there (Kalshi's specs and real captures are not part of the "
            "repository: clone beside them, or set KALASHI_SHARED_DIR)",
        )
    return p


def tool(name: str, why: str = "") -> str:
    """The path of program ``name`` on PATH, or fail/skip (CI installs it: see .ci/run)."""
    path = shutil.which(name)
    if path is None:
        unavailable(name, f"{name} is not installed{f' ({why})' if why else ''}; apt-get install {name}")
    return path


def require(present: bool, what: str, detail: str) -> None:
    """``unavailable(what, detail)`` unless ``present``."""
    if not present:
        unavailable(what, detail)


def program(name: str, why: str = "") -> Callable[[F], F]:
    """Decorate a test that runs program ``name``: it fails under CI, skips elsewhere, when it is absent."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tool(name, why)
            return fn(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
