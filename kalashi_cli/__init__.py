"""kalashi: a command-line toolkit for trading on Kalshi, paper-first.

The library is the product; ``kalashi_cli.cli`` is one client of it (the bridge and the MCP
server are others). See ARCHITECTURE in docs/architecture.md for the map.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
