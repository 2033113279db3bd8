"""kalashi profile show|validate|schema — the risk profile."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .common import ProfileOpt, console, load_profile

app = typer.Typer(help="Show, validate and describe risk profiles.", no_args_is_help=True)


@app.command(epilog="Examples:\n\n  kalashi profile show\n\n  kalashi profile show --profile conservative")
def show(profile: ProfileOpt = "default") -> None:
    """Print the effective profile as YAML (every key, defaults filled in)."""
    from ..profile import profile_to_yaml

    typer.echo(profile_to_yaml(load_profile(profile)), nl=False)


@app.command(epilog="Examples:\n\n  kalashi profile validate my.yaml\n\n  kalashi profile validate profiles/*.yaml")
def validate(files: list[Path] = typer.Argument(..., help="Profile YAML files to check.")) -> None:
    """Check profile files; name the file, line and key of every problem (exit 4 when invalid)."""
    from ..errors import ProfileError
    from ..profile import load_profile as load

    bad: list[str] = []
    for f in files:
        try:
            p = load(str(f))
        except ProfileError as e:
            bad.append(str(e))
            continue
        console().print(f"{f}: ok (profile '{p.name}')")
    if bad:
        raise ProfileError("\n".join(bad))


@app.command(epilog="Examples:\n\n  kalashi profile schema > profile.schema.json")
def schema() -> None:
    """Print the JSON Schema of a profile."""
    from ..profile import profile_schema

    typer.echo(json.dumps(profile_schema(), indent=2, sort_keys=True))


@app.command("list", epilog="Examples:\n\n  kalashi profile list")
def list_() -> None:
    """List the built-in profiles."""
    from ..profile import builtin_profiles, parse_profile

    for name, text in sorted(builtin_profiles().items()):
        p = parse_profile(text, f"profiles/{name}.yaml")
        typer.echo(f"{name}\t{p.description}")
