"""The ``kalashi`` command: one Typer app, one error handler, frozen exit codes.

Each command lives in its own module as a thin adapter over library code; this module only
registers them and maps errors to ``kalashi: error: <what> — <what to do>`` and exit codes.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Protocol, cast

import typer
from typer.core import TyperGroup

from ..errors import EXIT_CODES, EXIT_INTERRUPTED, KalashiError


class UsageProblem(Protocol):
    """What kalashi reads from click's ``UsageError`` (a bad option or argument, an unknown command)."""

    ctx: Any
    exit_code: int

    def format_message(self) -> str: ...

    def show(self) -> None: ...


def _click_base(name: str) -> type[Exception]:
    """click's exception class ``name``, reached through typer's public ``BadParameter``.

    typer vendors click as the private ``typer._click`` (since 0.26) and exports only
    ``BadParameter`` of its exceptions; BadParameter subclasses UsageError, which subclasses
    ClickException (click's documented hierarchy), so the classes are taken from its MRO.
    """
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == name:
            return cast(type[Exception], cls)
    raise ImportError(f"typer.BadParameter no longer derives from click's {name}: see kalashi_cli/cli/app.py")


#: every usage error click raises (BadParameter, NoSuchOption, MissingParameter, unknown command, …)
UsageError = _click_base("UsageError")
#: the base of every error click reports itself
ClickException = _click_base("ClickException")

#: `kalashi heal --once` adds two codes of its own (kalashi_cli.heal.monitor.HEAL_EXIT_CODES; a test
#: keeps them equal without importing heal on every start)
HEAL_ONCE_EXIT_CODES: dict[int, str] = {
    10: "heal --once: degraded (a check degraded, none failed)",
    11: "heal --once: failed (a check failed; HALTED counts as failed)",
}
ALL_EXIT_CODES: dict[int, str] = dict(sorted({**EXIT_CODES, **HEAL_ONCE_EXIT_CODES}.items()))
#: every journal write is one committed transaction, so a Ctrl-C leaves nothing to repair
#: (docs/exit-codes.md, code 130); kalashi_cli/cli/__init__.py prints the same line
INTERRUPTED = "interrupted — nothing to repair; run the command again"
# "\b" keeps click from re-wrapping a block: one code per line, aligned
EXIT_TABLE = "\b\n" + "\n".join(f"{code:<4} {what}" for code, what in ALL_EXIT_CODES.items())

ROOT_EPILOG = f"""Examples:

\b
  kalashi scan --limit 2000 | kalashi analyze | kalashi correlate | kalashi order --paper
  kalashi run-loop --paper --iterations 20 --interval 0
  kalashi metrics
  kalashi COMMAND --help

Environment: KALASHI_HOME (data dir), KALASHI_PROFILE, KALASHI_SOURCE, KALASHI_JOURNAL, KALSHI_API_KEY_ID,
KALSHI_PRIVATE_KEY_PATH, NO_COLOR.

Exit codes:

{EXIT_TABLE}

Docs: docs/cli-reference.md, docs/cookbook.md, docs/troubleshooting.md, docs/safety.md.
"""


class KalashiGroup(TyperGroup):
    """Maps kalashi's exceptions to one stderr line and a frozen exit code, for every command."""

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except KalashiError as e:
            error(str(e))
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            error(INTERRUPTED)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # `kalashi scan | head`: the reader left; that is not an error of ours
            _silence_stdout()
            raise typer.Exit(0) from None
        except UsageError as e:  # a subcommand's bad option or argument, or an unknown command
            problem = cast(UsageProblem, e)
            usage_error(problem)
            raise typer.Exit(problem.exit_code) from None

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except UsageError as e:  # a bad option before the command: `kalashi --bogus`
            problem = cast(UsageProblem, e)
            usage_error(problem)
            raise typer.Exit(problem.exit_code) from None


app = typer.Typer(
    cls=KalashiGroup,
    name="kalashi",
    help="Trade Kalshi prediction markets from the shell.\n\n"
    "Each stage of the trading engine is a command that speaks JSON Lines — scan | analyze | correlate | "
    "order | metrics — and run-loop runs them all in a loop. Paper trading on a built-in simulated market "
    "is the default; real money needs --live, allow_live: true in the profile and credentials.",
    epilog=ROOT_EPILOG,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    from . import (
        analyze,
        backtest,
        correlate,
        fair,
        metrics,
        order,
        profile_cmd,
        record,
        run_loop,
        safety_cmds,
        scan,
        serve_bridge,
    )

    for mod in (scan, fair, analyze, correlate, order, metrics, run_loop, backtest, safety_cmds, record):
        mod.register(app)
    serve_bridge.register(app)
    from . import heal

    heal.register(app)
    from . import sim_exchange

    sim_exchange.register(app)
    from . import mcp_serve

    mcp_serve.register(app)
    app.add_typer(profile_cmd.app, name="profile")


_register()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version as v

        typer.echo(f"kalashi {v('kalashi')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_version
    ),
) -> None:
    """Trade Kalshi prediction markets from the shell."""


def error(msg: str) -> None:
    """Print ``kalashi: error: <msg>`` on stderr (the one error format, for people and scripts)."""
    try:
        sys.stderr.write(f"kalashi: error: {msg}\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # stderr is gone too: the exit code still tells
        pass


def usage_error(e: UsageProblem) -> None:
    """Print a usage error as one kalashi error line that says where the help is."""
    if type(e).__name__ == "NoArgsIsHelpError":  # `kalashi profile` alone prints its help
        e.show()
        return
    where = e.ctx.command_path if e.ctx is not None else "kalashi"
    msg = e.format_message().rstrip(".")
    error(f"{msg} — see `{where} --help`")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (kalashi errors are mapped in :class:`KalashiGroup`)."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:  # see kalashi_cli/cli/__init__.py
        from . import _interrupted_while_starting

        if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        app(args=argv, prog_name="kalashi", standalone_mode=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:  # Ctrl-C outside a command (while parsing, completing, exiting)
        error(INTERRUPTED)
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback, no locals
        error(
            f"unexpected {type(e).__name__}: {e} — please report this with the command you ran "
            "(set KALASHI_DEBUG=1 for a traceback)"
        )
        if os.environ.get("KALASHI_DEBUG"):
            import traceback

            traceback.print_exception(e)
        return 1
    return 0


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def run() -> None:
    """Console-script entry point."""
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left while our last bytes were buffered
        _silence_stdout()
    sys.exit(code)
