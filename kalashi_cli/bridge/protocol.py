"""Bridge protocol 1 (docs/bridge-protocol.md): the messages, and reading a client's command.

Pure functions and plain data, no I/O: the server uses them, the tests check them against the
JSON Schemas in ``kalashi_cli/bridge/protocol/``. Every frame a client can send is answered by
:func:`read_command` with either a :class:`Command` or a :class:`ProtocolError` that becomes an
``error`` message; nothing a client sends raises.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

import orjson

PROTOCOL = 1

CONTROL_COMMANDS = ("start", "pause", "stop", "halt", "flatten", "set_profile")
COMMANDS = (*CONTROL_COMMANDS, "get_state")

# error codes (docs/bridge-protocol.md §4 ``error``)
BAD_MESSAGE = "bad_message"
UNKNOWN_COMMAND = "unknown_command"
UNAUTHORIZED = "unauthorized"
INVALID_ARGS = "invalid_args"
REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Command:
    """One well-formed command from a client (its token already checked)."""

    id: int
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)


class ProtocolError(Exception):
    """A frame or command the bridge will not carry out; becomes an ``error`` message."""

    def __init__(self, code: str, message: str, id_: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id_

    def to_message(self) -> dict[str, Any]:
        return error_message(self.id, self.code, self.message)


def dumps(msg: dict[str, Any]) -> str:
    """Encode one message as the text of a WebSocket frame."""
    return orjson.dumps(msg).decode()


def hello_message(server: str, *, read_only: bool, token_required: bool) -> dict[str, Any]:
    return {
        "type": "hello",
        "protocol": PROTOCOL,
        "server": server,
        "read_only": read_only,
        "token_required": token_required,
    }


def state_message(state: dict[str, Any]) -> dict[str, Any]:
    return {"type": "state", "state": state}


def record_message(record: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "record": record}


def ack_message(id_: int, result: dict[str, Any], ref: str | None = None) -> dict[str, Any]:
    msg = {"type": "ack", "id": id_, "ok": True, "result": result}
    if ref is not None:
        msg["ref"] = ref
    return msg


def error_message(id_: int | None, code: str, message: str, ref: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "error", "id": id_, "code": code, "message": message}
    if ref is not None:
        msg["ref"] = ref
    return msg


def progress_message(
    id_: int,
    ref: str,
    cmd: str,
    status: str,
    elapsed_ms: int,
    message: str,
    done: int | None = None,
    total: int | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A long command's progress: ``status`` ``queued`` (behind another command) or ``running``."""
    return {
        "type": "progress",
        "id": id_,
        "ref": ref,
        "cmd": cmd,
        "status": status,
        "elapsed_ms": elapsed_ms,
        "message": message,
        "done": done,
        "total": total,
        "detail": detail or {},
    }


def token_matches(expected: str, given: object) -> bool:
    """Compare a control token in constant time (a non-string never matches)."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def read_command(frame: str | bytes, *, token: str | None, read_only: bool) -> Command:
    """Read one client frame into a command, checking framing, token and arguments in the mock's order.

    The order (docs/bridge-protocol.md §4, ``dashboard/scripts/mock-bridge.mjs``): framing →
    unknown command → ``args`` not an object → ``get_state`` needs nothing more → read-only →
    token → per-command arguments.

    Raises:
        ProtocolError: the frame is not a command the bridge will run (its ``code`` says why).
    """
    if isinstance(frame, bytes):
        raise ProtocolError(BAD_MESSAGE, "frames must be UTF-8 JSON text, not binary")
    try:
        msg = orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise ProtocolError(
            BAD_MESSAGE, "not valid JSON (or a number out of range) — send one JSON object per text frame"
        ) from None
    if not isinstance(msg, dict):
        raise ProtocolError(BAD_MESSAGE, 'a command must be a JSON object like {"id": 1, "cmd": "get_state"}')
    id_ = msg.get("id")
    if type(id_) is not int or id_ < 0:  # bool is an int in Python; true is not an id
        raise ProtocolError(BAD_MESSAGE, "a command needs an integer id >= 0")
    cmd = msg.get("cmd")
    if not isinstance(cmd, str):
        raise ProtocolError(BAD_MESSAGE, "a command needs a string cmd", id_)
    if cmd not in COMMANDS:
        raise ProtocolError(UNKNOWN_COMMAND, f"unknown command '{cmd[:60]}'; known: {', '.join(COMMANDS)}", id_)
    args = msg.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ProtocolError(INVALID_ARGS, "args must be a JSON object", id_)
    if cmd == "get_state":
        return Command(id_, cmd, {})
    if read_only:
        raise ProtocolError(REFUSED, "this bridge is read-only: it shows the loop but takes no commands", id_)
    if token is not None and not token_matches(token, msg.get("token")):
        raise ProtocolError(
            UNAUTHORIZED,
            "the control token is wrong"
            if msg.get("token")
            else "this command needs the control token (printed by `kalashi serve-bridge` at start, "
            "or KALASHI_BRIDGE_TOKEN)",
            id_,
        )
    return Command(id_, cmd, _checked_args(id_, cmd, args))


def _checked_args(id_: int, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise one command's arguments.

    Raises:
        ProtocolError: ``invalid_args`` naming the argument.
    """
    if cmd == "halt":
        reason = args.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ProtocolError(INVALID_ARGS, "halt needs args.reason, a non-empty string", id_)
        return {"reason": reason.strip()}
    if cmd == "set_profile":
        name = args.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ProtocolError(INVALID_ARGS, "set_profile needs args.name, a non-empty string", id_)
        return {"name": name.strip()}
    if cmd == "start":
        clear = args.get("clear_halt", False)
        if not isinstance(clear, bool):
            raise ProtocolError(INVALID_ARGS, "start args.clear_halt must be a boolean", id_)
        return {"clear_halt": clear}
    return {}
