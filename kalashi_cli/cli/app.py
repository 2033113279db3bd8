"""The ``kalashi`` command: one Typer app, one error handler, frozen exit codes.

Each command lives in its own module as a thin adapter over library code; this module only
registers them and maps errors to ``kalashi: error: <what> — <what to do>`` and exit codes.
"""

from __future__ import annotations

import os
import signal
import sys

import typer

from ..errors import EXIT_CODES, EXIT_INTERRUPTED, KalashiError

EXIT_TABLE = "\n\n".join(f"{code}  {what}" for code, what in EXIT_CODES.items())

app = typer.Typer(
    name="kalashi",
    help="Trade Kalshi prediction markets from the shell: scan | analyze | correlate | order | metrics.\n\n"
         "Paper trading on a built-in simulated market is the default; real money needs --live, "
         "allow_live: true in the profile and credentials.",
    epilog="Exit codes:\n\n" + EXIT_TABLE,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    from . import analyze, correlate, metrics, order, profile_cmd, run_loop, safety_cmds, scan

    for mod in (scan, analyze, correlate, order, metrics, run_loop, safety_cmds):
        mod.register(app)
    app.add_typer(profile_cmd.app, name="profile")


_register()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        from importlib.metadata import version as v

        typer.echo(f"kalashi {v('kalashi')}")
        raise typer.Exit()


def error(msg: str) -> None:
    sys.stderr.write(f"kalashi: error: {msg}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map every failure to a message and a frozen exit code."""
    try:
        app(args=argv, prog_name="kalashi", standalone_mode=False)
    except KalashiError as e:
        error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `kalashi scan | head`: the reader left; that is not an error of ours
        _silence_stdout()
        return 0
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except typer.Abort:
        error("aborted")
        return EXIT_INTERRUPTED
    except Exception as e:  # click usage errors and anything unexpected
        import click

        if isinstance(e, click.ClickException):
            e.show()
            return 2 if isinstance(e, click.UsageError) else 1
        if isinstance(e, OSError) and e.errno == 32:  # EPIPE surfacing as OSError
            _silence_stdout()
            return 0
        error(f"unexpected {type(e).__name__}: {e} — please report this with the command you ran")
        if os.environ.get("KALASHI_DEBUG"):
            import traceback

            traceback.print_exception(e)  # no locals: the key may live in memory
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
    if hasattr(signal, "SIGPIPE"):
        pass  # keep Python's default (EPIPE → BrokenPipeError), handled in main()
    sys.exit(main())
