"""kalashi profile show|validate|schema|list — the risk profile."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .common import ProfileOpt, console, load_profile

GROUP_EPILOG = """A profile is a YAML file of limits and strategy settings; every trading command takes
--profile NAME|PATH (or KALASHI_PROFILE). Unknown keys are errors that name the file, line and key.

Examples:

\b
  kalashi profile list
  kalashi profile show --profile conservative > my.yaml     # start from a built-in
  kalashi profile validate my.yaml && kalashi run-loop --paper --profile my.yaml
"""

app = typer.Typer(help="Show, validate and describe risk profiles.", epilog=GROUP_EPILOG, no_args_is_help=True)


@app.command(
    epilog="Examples:\n\n\b\n  kalashi profile show\n  kalashi profile show --profile conservative > my.yaml\n"
    "  kalashi profile show --profile my.yaml | grep -A8 '^risk:'"
)
def show(profile: ProfileOpt = "default") -> None:
    """Print the effective profile as YAML.

    Every key, with the defaults filled in: a complete starting point for a profile of your own.
    """
    from ..profile import profile_to_yaml

    typer.echo(profile_to_yaml(load_profile(profile)), nl=False)


@app.command(epilog="Examples:\n\n\b\n  kalashi profile validate my.yaml\n  kalashi profile validate profiles/*.yaml")
def validate(
    files: list[Path] = typer.Argument(..., metavar="FILE...", help="Profile YAML files to check.", show_default=False),
) -> None:
    """Check profile files for errors.

    Names the file, line and key of every problem and exits 4 when any file is invalid.
    """
    from ..errors import ProfileError
    from ..profile import load_profile as load

    bad: list[str] = []
    for f in files:
        if not f.is_file():
            bad.append(f"{f}: no such file — check the path")
            continue
        try:
            p = load(str(f))
        except ProfileError as e:
            bad.append(str(e))
            continue
        console().print(f"{f}: ok (profile '{p.name}')")
    if bad:
        raise ProfileError("\n".join(bad))


@app.command(
    epilog="Examples:\n\n\b\n  kalashi profile schema > profile.schema.json\n"
    "  kalashi profile schema | jq '.\"$defs\".Profile.properties | keys'"
)
def schema() -> None:
    """Print the JSON Schema of a profile.

    For editors that validate YAML against a schema, and for tools that write profiles.
    """
    from ..profile import profile_schema

    typer.echo(json.dumps(profile_schema(), indent=2, sort_keys=True))


@app.command("list", epilog="Examples:\n\n\b\n  kalashi profile list\n  kalashi profile list | cut -f1")
def list_() -> None:
    """List the built-in profiles.

    One line per profile: its name, a tab, and its description.
    """
    from ..profile import builtin_profiles, parse_profile

    for name, text in sorted(builtin_profiles().items()):
        p = parse_profile(text, f"profiles/{name}.yaml")
        typer.echo(f"{name}\t{p.description}")
