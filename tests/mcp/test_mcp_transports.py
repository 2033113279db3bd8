"""`kalashi mcp-serve` as a process: a real stdio session, a streamable-HTTP session, and refusals.

The subprocesses run the installed ``kalashi`` script (``python -m kalashi_cli`` where it is
missing) on a small sim with their own data dir and journal. The HTTP server binds port 0 and
prints its endpoint on stderr once the socket listens; the test reads that line with a bound.
"""

from __future__ import annotations

import contextlib
import queue
import re
import signal
import subprocess
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp_helpers import SIM, WAIT, child_env, error_text, kalashi_command, structured
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.mcp.server import TOOL_NAMES, WRITE_TOOLS, transport_security

pytestmark = pytest.mark.anyio


def test_sdk_import_is_not_shadowed_by_our_package() -> None:
    import mcp.server

    import kalashi_cli.mcp.server as ours

    assert "site-packages" in (mcp.server.__file__ or "")
    assert vars(ours)["MCPServer"].__module__.startswith("mcp.server.mcpserver")


async def test_stdio_session_with_a_real_subprocess(tmp_path: Path) -> None:
    cmd = kalashi_command()
    params = StdioServerParameters(
        command=cmd[0],
        args=[*cmd[1:], "mcp-serve", "--source", SIM, "--journal", str(tmp_path / "j.sqlite")],
        env=child_env(tmp_path / "home"),
    )
    # legacy: the initialize handshake, as today's desktop clients do it
    async with Client(params, read_timeout_seconds=WAIT, mode="legacy") as c:
        assert c.server_info is not None and c.server_info.name == "kalashi"
        assert c.instructions is not None and "Account: paper" in c.instructions
        names = {t.name for t in (await c.list_tools()).tools}
        balance = structured(await c.call_tool("get_balance", {}))
    assert names == set(TOOL_NAMES)
    assert balance == {
        "mode": "paper",
        "balance": "100.0000",
        "cash": "100.0000",
        "equity": "100.0000",
        "equity_marked": "0.0000",
        "equity_settled": "100.0000",
        "starting_balance": "100.0000",
    }


class HttpServer:
    """`kalashi mcp-serve --transport http --port 0` in a subprocess; its stderr read by a thread."""

    def __init__(self, tmp_path: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [
                *kalashi_command(),
                "mcp-serve",
                "--transport",
                "http",
                "--port",
                "0",
                "--source",
                SIM,
                "--journal",
                str(tmp_path / "j.sqlite"),
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**child_env(tmp_path / "home"), **(env or {})},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def endpoint(self) -> str:
        while True:
            line = self.lines.get(timeout=WAIT)
            if line is None:
                raise AssertionError(f"server exited before listening: {''.join(self.seen)}")
            self.seen.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", line)
            if m:
                return m.group(1)

    def token(self) -> str:
        """The bearer token the server printed (read after :meth:`endpoint`)."""
        found = [m.group(1) for line in self.seen if (m := re.search(r"bearer token  (\S+)  \(random", line))]
        assert len(found) == 1, self.seen
        return found[0]

    def stop(self) -> tuple[int, str]:
        """Stop the server (SIGTERM); return its exit code and stdout. ``seen`` then holds all of stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(WAIT)
        self.pump.join(WAIT)
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                self.seen.append(line)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out = self.proc.stdout.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, out


@contextlib.asynccontextmanager
async def authorized(url: str, token: str) -> AsyncIterator[Client]:
    """An MCP client over streamable HTTP that sends ``Authorization: Bearer <token>``."""
    import httpx2  # the MCP SDK's HTTP client; built as its private create_mcp_http_client does
    from mcp.client.streamable_http import streamable_http_client

    timeout = httpx2.Timeout(30.0, read=300.0)  # a server may hold a response stream open
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=timeout) as http,
        Client(streamable_http_client(url, http_client=http), read_timeout_seconds=WAIT) as c,
    ):
        yield c


async def test_streamable_http_session_with_the_official_client(tmp_path: Path) -> None:
    server = HttpServer(tmp_path)
    try:
        url = server.endpoint()
        token = server.token()
        order = {"outcome": "yes", "action": "buy", "count": 1, "price": "0.01", "time_in_force": "good_till_canceled"}
        # reads are open on loopback; anything that changes something needs the bearer token
        async with Client(url, read_timeout_seconds=WAIT) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            market = structured(await c.call_tool("get_markets", {"limit": 1}))["markets"][0]
            refused = {
                name: error_text(await c.call_tool(name, args))
                for name, args in (
                    ("create_order", {"ticker": market["ticker"], **order}),
                    ("cancel_order", {"order_id": "x-1"}),
                    ("tighten_limits", {"max_order_cost": 1}),
                    ("halt", {}),
                    ("batch_create_orders", {"orders": [{"ticker": market["ticker"], **order}]}),
                    ("amend_order", {"order_id": "x-1", "count": 2}),
                    ("decrease_order", {"order_id": "x-1", "reduce_by": 1}),
                    ("batch_cancel_orders", {"order_ids": ["x-1"]}),
                    ("cancel_all_orders", {}),
                )
            }
        async with authorized(url, "wrong-" + token) as c:
            wrong = error_text(await c.call_tool("halt", {}))
        async with authorized(url, token) as c:
            placed = structured(await c.call_tool("create_order", {"ticker": market["ticker"], **order}))
            profile = (await c.read_resource("kalashi://profile")).contents[0].text
    finally:
        code, stdout = server.stop()
    assert names == set(TOOL_NAMES)
    assert set(refused) == set(WRITE_TOOLS)  # every tool that changes something …
    assert all("Unauthorized" in text and "Authorization: Bearer" in text for text in refused.values()), refused
    assert "Unauthorized" in wrong
    assert placed["order"]["mode"] == "paper" and placed["order"]["status"] == "resting"
    assert '"allow_trading": true' in profile and '"trading_state": "ACTIVE"' in profile  # no halt got through
    assert code == 0 and stdout == ""  # SIGTERM shuts down cleanly; nothing but the protocol on stdout


async def test_http_token_from_the_environment(tmp_path: Path) -> None:
    token = "a-token-chosen-by-the-operator"
    server = HttpServer(tmp_path, env={"KALASHI_MCP_TOKEN": token})
    try:
        url = server.endpoint()
        async with authorized(url, token) as c:
            halted = structured(await c.call_tool("halt", {"reason": "token test"}))
    finally:
        server.stop()
    assert halted["state"] == "HALTED"
    assert token not in "".join(server.seen) and "bearer token  from KALASHI_MCP_TOKEN" in "".join(server.seen)


async def test_verbose_logs_every_tool_call_on_one_line_without_secrets(tmp_path: Path) -> None:
    token = "a-token-that-must-never-be-logged"
    server = HttpServer(tmp_path, env={"KALASHI_MCP_TOKEN": token}, args=("--verbose",))
    try:
        url = server.endpoint()
        async with authorized(url, token) as c:
            structured(await c.call_tool("get_balance", {}))
            market = structured(await c.call_tool("get_markets", {"limit": 1}))["markets"][0]
            refused = error_text(
                await c.call_tool(
                    "create_order",
                    {
                        "ticker": market["ticker"],
                        "outcome": "yes",
                        "action": "sell",
                        "count": 500,
                        "price": "0.01",
                        "client_order_id": "value-that-must-not-be-logged",
                    },
                )
            )
            structured(await c.call_tool("halt", {"reason": "another value never logged"}))
            # calls the SDK refuses before the tool runs are logged too (an unknown name only counted)
            error_text(await c.call_tool("get_markets", {"limit": 0, "secret_looking_key": "x"}))
            error_text(await c.call_tool("no_such_tool", {}))
        async with Client(url, read_timeout_seconds=WAIT) as c:  # no token
            unauthorized = error_text(await c.call_tool("cancel_all_orders", {}))
    finally:
        code, _ = server.stop()
    assert code == 0 and "RiskDenied" in refused and "Unauthorized" in unauthorized
    calls = [line.rstrip("\n") for line in server.seen if line.startswith("kalashi mcp: ")]
    shape = re.compile(r"^kalashi mcp: (\w+) (ok|error \w+) \d+\.\d ms \(([a-z0-9_, ]+)\)$")
    parsed = [shape.match(line) for line in calls]
    assert all(parsed), calls
    assert [(m.group(1), m.group(2)) for m in parsed if m] == [
        ("get_balance", "ok"),
        ("get_markets", "ok"),
        ("create_order", "error RiskDenied"),
        ("halt", "ok"),
        ("get_markets", "error InvalidArguments"),
        ("no_such_tool", "error UnknownTool"),
        ("cancel_all_orders", "error Unauthorized"),
    ]
    assert calls[4].endswith("(limit, 1 unknown)") and calls[5].endswith("(no arguments)")
    assert "client_order_id" in calls[2] and "ticker" in calls[2]  # the names of the arguments given …
    everything = "".join(server.seen)
    assert token not in everything  # … never the token
    assert "value-that-must-not-be-logged" not in everything and "never logged" not in everything  # … nor values
    assert "secret_looking_key" not in everything


def test_a_weak_token_is_refused(tmp_path: Path) -> None:
    # a subprocess with a bound: a server that did start would serve until killed
    res = subprocess.run(
        [
            *kalashi_command(),
            "mcp-serve",
            "--transport",
            "http",
            "--port",
            "0",
            "--journal",
            str(tmp_path / "j.sqlite"),
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
        env={**child_env(tmp_path / "home"), "KALASHI_MCP_TOKEN": "short"},
    )
    assert res.returncode == 2 and "KALASHI_MCP_TOKEN must be at least 16 characters" in res.stderr


def test_host_header_of_another_site_is_rejected(tmp_path: Path) -> None:
    """DNS-rebinding protection: a page that rebinds its own name to 127.0.0.1 gets no answer."""
    import httpx

    server = HttpServer(tmp_path)
    try:
        url = server.endpoint()
        r = httpx.post(
            url,
            headers={
                "Host": "evil.example",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
            content=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
            timeout=WAIT,
            trust_env=False,
        )
    finally:
        server.stop()
    assert r.status_code in (400, 403, 421)


# -- refusals at start-up (no network, no server) ---------------------------------------------


def run(args: list[str], env: dict[str, str | None] | None = None) -> tuple[int, str]:
    res = CliRunner().invoke(app, args, env=env)
    return res.exit_code, res.stderr


def test_live_without_consent_is_refused(tmp_path: Path) -> None:
    code, err = run(["mcp-serve", "--live", "--allow-trading", "--journal", str(tmp_path / "j.sqlite")])
    assert code == 5 and "allow_live: true" in err and "credentials" in err
    profile = tmp_path / "live.yaml"
    profile.write_text("name: live-test\nallow_live: true\n", encoding="utf-8")
    code, err = run(["mcp-serve", "--live", "--profile", str(profile), "--journal", str(tmp_path / "j.sqlite")])
    assert code == 5 and "allow_live" not in err.split("missing", 1)[1].split("—")[0] and "credentials" in err


def test_demo_without_a_key_is_refused(tmp_path: Path) -> None:
    code, err = run(["mcp-serve", "--demo", "--journal", str(tmp_path / "j.sqlite")])
    assert code == 5 and "KALSHI_API_KEY_ID" in err


def test_real_account_is_never_served_beyond_loopback(tmp_path: Path) -> None:
    code, err = run(
        ["mcp-serve", "--demo", "--transport", "http", "--host", "0.0.0.0", "--journal", str(tmp_path / "j.sqlite")]
    )
    assert code == 2 and "no authentication" in err


def test_bad_options(tmp_path: Path) -> None:
    assert run(["mcp-serve", "--paper", "--live"])[0] == 2
    code, err = run(["mcp-serve", "--host", "127.0.0.1"])
    assert code == 2 and "only apply to --transport http" in err
    code, err = run(["mcp-serve", "--source", "nowhere", "--journal", str(tmp_path / "j.sqlite")])
    assert code == 2 and "unknown source" in err


def test_help_has_an_example() -> None:
    res = CliRunner().invoke(app, ["mcp-serve", "--help"])
    assert res.exit_code == 0 and '"args": ["mcp-serve"]' in res.stdout and "--allow-trading" in res.stdout


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", {"127.0.0.1:*", "localhost:*", "[::1]:*"}),
        ("::1", {"127.0.0.1:*", "localhost:*", "[::1]:*"}),
        ("127.0.0.2", {"127.0.0.2:*", "127.0.0.1:*", "localhost:*", "[::1]:*"}),
        ("192.168.1.5", {"192.168.1.5:*"}),
    ],
)
def test_dns_rebinding_protection_names_the_bound_host(host: str, allowed: set[str]) -> None:
    settings = transport_security(host)
    assert settings is not None and settings.enable_dns_rebinding_protection
    assert set(settings.allowed_hosts) == allowed
    assert transport_security("0.0.0.0") is None  # a wildcard bind cannot know its names
