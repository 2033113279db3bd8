"""``python -m kalashi_cli`` runs the ``kalashi`` command."""

from .cli.app import run

if __name__ == "__main__":
    run()
