"""What the bridge shows and steers: a loop it owns (:class:`ServiceBackend`), or one it watches.

The server needs five things from a backend, whatever runs the loop:

* ``subscribe(fn)`` — every record, in order, on whatever thread produced it;
* ``locked()`` — a lock that is held while records are published and while ``state()`` reads,
  so a state and the record stream can be lined up exactly (see ``server.Hub``);
* ``state()`` — the protocol's whole-page state (blocking; the server calls it off its event loop);
* ``execute(cmd, args, progress)`` — carry out a control command (blocking), or raise
  :class:`CommandRefused` (or any :class:`~kalashi_cli.errors.KalashiError`, which the server also
  answers as ``refused``). A long command calls ``progress({...})`` as it goes — ``message``
  and, where it can count, ``done``/``total`` — and the server forwards each call to the page;
* ``begin()`` / ``close()`` — start the loop or the watching, and stop it cleanly.

The attach backend (watching a ``kalashi run-loop`` in another process through its journal) is
in :mod:`kalashi_cli.bridge.attach`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..service import TradingService

Listener = Callable[[dict[str, Any]], None]
#: hears the steps of a long command: ``{message, done?, total?, step?, …}`` (any thread)
Progress = Callable[[dict[str, Any]], None]


def clock_of(source: str, source_now_ms: int | None) -> dict[str, Any]:
    """The state's ``clock``: which clock market times are on, and both clocks now (wall = this machine's).

    Fills and the broker's order times run on the source's clock — simulated time on ``sim``, the
    recording's on ``replay``, the exchange's on Kalshi — while the bridge's own times (journal
    entries, states, commands) run on the wall clock; the page labels every time it shows by them.
    """
    import time

    from ..records import iso

    kind = "sim" if source.startswith("sim") else "replay" if source.startswith("replay") else "exchange"
    return {
        "source": kind,
        "source_now": iso(source_now_ms) if source_now_ms is not None else None,
        "wall_now": iso(time.time_ns() // 1_000_000),
    }


class CommandRefused(Exception):
    """The bridge will not do this now (an illegal transition, a read-only backend …)."""


class Backend(Protocol):
    mode: str

    def subscribe(self, fn: Listener) -> Callable[[], None]: ...

    def locked(self) -> AbstractContextManager[Any]: ...

    def state(self) -> dict[str, Any]: ...

    def execute(self, cmd: str, args: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]: ...

    def begin(self) -> None: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


class ServiceBackend:
    """A :class:`~kalashi_cli.service.TradingService` whose loop the bridge runs and controls.

    Every command goes through the service facade, so it meets the same risk gate, journal and
    broker as the CLI's ``halt``/``flatten``/``resume`` and the MCP tools.
    """

    def __init__(self, service: TradingService, *, autostart: bool = True, iterations: int | None = None) -> None:
        self.service = service
        self.mode = service.mode
        self.autostart = autostart
        self.iterations = iterations

    def subscribe(self, fn: Listener) -> Callable[[], None]:
        return self.service.subscribe(fn)

    def locked(self) -> AbstractContextManager[Any]:
        return self.service.locked()

    def state(self) -> dict[str, Any]:
        svc = self.service
        with svc.locked():
            state = svc.read.state()
            clock = clock_of(svc.source.describe(), svc.source.now_ms())
        # the names set_profile accepts, so the page offers a list instead of a text field
        return {**state, "profiles": svc.read.profiles(), "clock": clock}

    def begin(self) -> None:
        if self.autostart:
            self.service.start(self.iterations)

    def close(self) -> None:
        self.service.close()

    def describe(self) -> str:
        svc = self.service
        return f"{svc.mode} loop on {svc.source.describe()}, profile {svc.profile_name}, journal {svc.journal.path}"

    def execute(self, cmd: str, args: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        """Carry out one control command through the service facade (``flatten`` reports its steps).

        Raises:
            CommandRefused: the loop is not in a state where the command makes sense, or the
                profile is not one the bridge may switch to.
            KalashiError: the risk gate, the broker or the journal said no.
        """
        svc = self.service
        status = svc.loop_status().status
        if cmd == "start":
            clear = bool(args.get("clear_halt"))
            halted = svc.read.trading_state()[0] == "HALTED"
            if status == "running" and not (clear and halted):
                raise CommandRefused("the loop is already running")
            after = svc.start(self.iterations, clear_halt=clear)
            return {"status": after.status, "trading_state": svc.read.trading_state()[0]}
        if cmd == "pause":
            if status != "running":
                raise CommandRefused(f"cannot pause a {status} loop")
            return {"status": svc.pause(wait=True).status}
        if cmd == "stop":
            if status == "stopped":
                raise CommandRefused("the loop is already stopped")
            return {"status": svc.stop().status}
        if cmd == "halt":
            res = svc.controls.halt(args["reason"])
            out = {
                "trading_state": "HALTED",
                "canceled_orders": int(res["cancelled"]),
                "remaining_resting": int(res["remaining_resting"]),
            }
            if res.get("error"):
                out["error"] = res["error"]
            return out
        if cmd == "flatten":
            res = svc.controls.flatten(cancel_resting=True, progress=progress)
            return {
                "canceled_orders": int(res.get("canceled_orders", 0)),
                "closing_orders": len(res["orders"]),
                "closed": res["closed"],
                "left_open": res["left_open"],
            }
        if cmd == "set_profile":
            name = args["name"]
            known = svc.read.profiles()
            if name not in known:
                # names only: a path typed into a web page should not make the bridge read files
                raise CommandRefused(
                    f"no profile named '{name}' — the dashboard switches between "
                    f"{', '.join(known)}; start serve-bridge with --profile PATH for another"
                )
            return {"profile": svc.controls.set_profile(name)}
        raise CommandRefused(f"'{cmd}' is not a control command")
