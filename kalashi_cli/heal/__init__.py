"""Health checks and self-healing for a kalashi trading setup (``kalashi heal``, docs/heal.md).

::

    checks.py         Check, the journal/loop/disk/Redis/HTTP checks, service_checks (the dashboard's)
    exchange.py       exchange status, maintenance window, credentials, clock skew, rate-limit headroom
    feed.py           the WebSocket feed's check and its resync repair (in-process)
    supervisor.py     Supervisor: start children, catch deaths and hangs, backoff, restart budget, give up
    children.py       the default children: run-loop, serve-bridge --attach, mcp-serve --transport http
    monitor.py        collect_checks (heal --once), HealthMonitor (rounds, repairs, status), exit codes
    status_server.py  GET /api/v1/status and /metrics on 127.0.0.1:8002
    webhook.py        JSON POST notifications on overall health changes

Nothing here imports typer or rich; ``kalashi_cli/cli/heal.py`` is the command.
"""
