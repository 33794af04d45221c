"""What every fake provider shares: a real aiohttp server on 127.0.0.1 in a background thread, request
recording, client-disconnect tracking, the magic model names and the streaming faults they select.

A fake subclasses :class:`FakeServer`, adds its routes in ``routes()`` and records each request with
``record_request()``. Magic model names (see :func:`parse_scenario`), common to every fake:

- ``slow-<s>``: wait ``s`` seconds before the response headers;
- ``stall-<k>``: stream ``k`` content events, then stall forever (non-stream: stall before headers);
- ``reset-<k>``: stream ``k`` content events, then reset the TCP connection (non-stream: at once);
- ``drip-<ms>``: stream ``DRIP_CHUNKS`` content events, ``ms`` apart (client-disconnect tests);
- ``error-mid-stream-<k>``: ``k`` content events, then the provider's in-stream error, if it has one.

Structured output, in every fake: a request for a JSON schema's answer gets JSON satisfying it
(:func:`json_reply`) instead of an echo.

Scripted tool use, in every fake and for any model name (the real clients' tool loops, see
:func:`scripted_call`): when the last user turn carries no tool result and asks to ``Read the file
/absolute/path`` while the request offers a ``Read`` tool taking ``file_path`` (Claude Code's), or asks
to ``run the shell command `CMD` `` while it offers one of Codex CLI's shell tools (``exec_command``
taking ``cmd``, ``shell_command`` or ``shell`` taking ``command``) or Gemini CLI's (``run_shell_command``
taking ``command``), the answer is a call of that tool;
the turn that carries its result is answered with an echo of that result.

Each fake maps its own fixed names (``fail-500``, ``rate-limited`` ...) to error statuses. Keys: each
fake accepts ``accepted_keys`` and answers a key in ``key_behaviors`` as told (``"ok"``, ``"429"``,
``"429:<retry-after>"`` or a 4xx/5xx status; a fake may allow more, see ``key_behavior_pattern``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import socket
import string
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Self

from aiohttp import web
from multidict import CIMultiDictProxy

__all__ = [
    "DRIP_CHUNKS",
    "NORMAL",
    "FakeServer",
    "RecordedRequest",
    "ReportedUsage",
    "Scenario",
    "ScriptedCall",
    "dumps",
    "estimate_tokens",
    "filler_words",
    "json_reply",
    "parse_scenario",
    "random_id",
    "reply_words",
    "sample_arguments",
    "scripted_call",
    "scripted_read",
    "scripted_shell",
    "split_words",
]

DRIP_CHUNKS = 200
_WORDS = ("The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_B62 = string.ascii_letters + string.digits
MODEL_KEY = web.RequestKey("model", str)


def dumps(payload: Any, separators: tuple[str, str] = (",", ":")) -> bytes:
    """Compact UTF-8 JSON, as the providers send it."""
    return json.dumps(payload, separators=separators, ensure_ascii=False).encode()


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: about four characters a token."""
    return (len(text) + 3) // 4


def split_words(text: str) -> list[str]:
    """Word pieces with their leading space; ``"".join`` gives ``text`` back."""
    return re.findall(r"\s*\S+(?:\s+$)?", text) or [text]


def random_id(prefix: str, n: int = 24) -> str:
    """``prefix`` and ``n`` random base62 characters, like the providers' message and request ids."""
    return prefix + "".join(secrets.choice(_B62) for _ in range(n))


def filler_words(n: int) -> list[str]:
    return [_WORDS[i % len(_WORDS)] for i in range(n)]


def sample_arguments(schema: Any, text: str) -> dict[str, Any]:
    """Deterministic arguments satisfying a JSON schema's required properties (Gemini's upper-case
    ``STRING``/``INTEGER`` types included); strings get ``text``."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return {}
    samples: dict[str, Any] = {"integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}
    props: dict[str, Any] = schema["properties"]
    names = schema.get("required") or list(props)
    result: dict[str, Any] = {}
    for name in names:
        prop = props.get(name)
        kind = str(prop.get("type", "string")).lower() if isinstance(prop, dict) else "string"
        result[name] = samples.get(kind, text or "value")
    return result


def json_reply(schema: Any, text: str) -> list[str]:
    """The pieces of an answer to a request for structured output: JSON satisfying ``schema`` (see
    :func:`sample_arguments`), as a model constrained to it answers."""
    return re.findall(r".{1,12}", dumps(sample_arguments(schema, text)).decode(), re.S)


_READ_PROMPT = re.compile(r"\bread the file (/\S+?)[.,;:!?]?(?:\s|$)", re.IGNORECASE)


def scripted_read(text: str, tools: Mapping[str, Any]) -> dict[str, Any] | None:
    """The arguments of a ``Read`` call when ``text`` (the last user turn's) asks to read a file by its
    absolute path and ``tools`` (name → JSON schema of its input) offers ``Read`` with ``file_path``."""
    schema = tools.get("Read")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    match = _READ_PROMPT.search(text)
    if match is None or not isinstance(properties, dict) or "file_path" not in properties:
        return None
    return {"file_path": match.group(1)}


_SHELL_PROMPT = re.compile(r"\brun the shell command `([^`\n]+)`", re.IGNORECASE)
# Codex CLI's shell tools, by the argument that carries the command: `exec_command` (its unified exec,
# the default of 0.1xx: a command line), `shell_command` (a command line), `shell` (an argv list); and
# Gemini CLI's `run_shell_command` (a command line).
_SHELL_TOOLS = {
    "exec_command": "cmd",
    "shell_command": "command",
    "shell": "command",
    "run_shell_command": "command",
}


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    """A tool call a fake makes whatever the model: the tool's name and its arguments."""

    name: str
    arguments: dict[str, Any]


def scripted_shell(text: str, tools: Mapping[str, Any]) -> ScriptedCall | None:
    """A call of Codex CLI's or Gemini CLI's shell tool when ``text`` asks to ``run the shell command
    `CMD` `` and ``tools`` (name → JSON schema of its input) offers one; an argv-taking tool gets
    ``bash -lc CMD``."""
    match = _SHELL_PROMPT.search(text)
    if match is None:
        return None
    for name, argument in _SHELL_TOOLS.items():
        schema = tools.get(name)
        properties = schema.get("properties") if isinstance(schema, dict) else None
        spec = properties.get(argument) if isinstance(properties, dict) else None
        if isinstance(spec, dict):
            argv = str(spec.get("type", "string")).lower() == "array"
            command = match.group(1)
            return ScriptedCall(name, {argument: ["bash", "-lc", command] if argv else command})
    return None


def scripted_call(text: str, tools: Mapping[str, Any]) -> ScriptedCall | None:
    """The call a real client's prompt asks for: Claude Code's ``Read`` (:func:`scripted_read`) or Codex
    CLI's or Gemini CLI's shell tool (:func:`scripted_shell`); None when ``text`` asks for neither of the
    ``tools``."""
    read = scripted_read(text, tools)
    return ScriptedCall("Read", read) if read is not None else scripted_shell(text, tools)


@dataclass(frozen=True, slots=True)
class Scenario:
    """What a model name asks a fake to do: ``normal``, ``error`` (``value`` = status), ``slow``,
    ``stall``, ``reset``, ``drip`` or ``midstream`` (an in-stream error after ``value`` events)."""

    kind: str
    value: float = 0.0
    retry_after: int | None = None


NORMAL = Scenario("normal")
_MAGIC = re.compile(r"(slow|stall|reset|drip|error-mid-stream)-(\d+(?:\.\d+)?)")
_KINDS = {"error-mid-stream": "midstream"}


def parse_scenario(model: str, fixed: Mapping[str, Scenario]) -> Scenario:
    """The scenario a (possibly magic) model name selects; ``fixed`` holds the fake's own names."""
    if (found := fixed.get(model)) is not None:
        return found
    match = _MAGIC.fullmatch(model)
    if match is None:
        return NORMAL
    kind, value = _KINDS.get(match.group(1), match.group(1)), float(match.group(2))
    if kind in ("stall", "reset", "midstream") and not value.is_integer():
        return NORMAL
    return Scenario(kind, value)


def reply_words(scenario: Scenario, text: str) -> list[str]:
    """The pieces of a text answer: filler for the stream faults (``k`` + 3 for ``stall``, ``reset`` and
    ``midstream``, so the fault strikes mid-answer; ``DRIP_CHUNKS`` for ``drip``), else an echo of
    ``text``."""
    if scenario.kind in ("stall", "reset", "midstream"):
        return filler_words(int(scenario.value) + 3)
    if scenario.kind == "drip":
        return filler_words(DRIP_CHUNKS)
    return split_words(f"Echo: {text}" if text else "Echo.")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as a fake received it; ``headers`` look up case-insensitively. ``model`` comes from
    the body or, for Gemini, from the path."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes
    json: Any
    api_key: str | None
    model: str | None = None
    received_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class ReportedUsage:
    """The usage a fake reported, in its own wire format (OpenAI's ``usage``, Anthropic's ``usage``,
    Gemini's ``usageMetadata``): a whole answer's when the fake returned it, a stream's final one once
    the event carrying it was written (a stream cut before that reported none)."""

    model: str | None
    usage: dict[str, Any]
    stream: bool


class FakeServer:
    """Lifecycle, keys and recording; subclasses add ``routes()``. ``record=False`` keeps nothing."""

    name = "fake"
    key_behavior_pattern: ClassVar[re.Pattern[str]] = re.compile(r"ok|429(?::(\d+))?|[45]\d\d")

    def __init__(
        self,
        accepted_keys: Iterable[str] = (),
        key_behaviors: Mapping[str, str] | None = None,
        *,
        record: bool = True,
    ) -> None:
        self.accepted_keys = frozenset(accepted_keys)
        self.key_behaviors = dict(key_behaviors or {})
        for key, behavior in self.key_behaviors.items():
            if not self.key_behavior_pattern.fullmatch(behavior):
                raise ValueError(f"unknown behaviour {behavior!r} for key {key!r}")
        self.record_requests = record
        self._lock = threading.Lock()
        self._disconnected = threading.Condition(self._lock)
        self._requests: list[RecordedRequest] = []
        self._disconnects: list[tuple[str, float]] = []
        self._reported: list[ReportedUsage] = []
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Bind 127.0.0.1 on an ephemeral port and serve from a background thread."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        sock = socket.create_server(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self._serve(sock, ready.set))
            except BaseException as exc:  # surfaced to start() below
                failure.append(exc)
                ready.set()

        self._stopping = False
        self._thread = threading.Thread(target=run, name=f"{self.name}-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure or not ready.is_set():
            self._thread.join(1)
            self._thread = None
            sock.close()
            raise RuntimeError(f"{type(self).__name__} failed to start") from (
                failure[0] if failure else None
            )
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and join the thread."""
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        self._stopping = True
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(event.set)
        thread.join(10)
        self._thread = self._loop = self._stop_event = None

    def __enter__(self) -> Self:
        return self if self._thread is not None else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._watch_disconnects])
        self.routes(app)
        return app

    async def _serve(self, sock: socket.socket, on_ready: Callable[[], None]) -> None:
        """Serve on ``sock`` until ``_stop_event`` is set; ``handler_cancellation`` turns a client going
        away into a ``CancelledError`` in its handler, which is how disconnects are seen at once."""
        runner = web.AppRunner(
            self.make_app(), access_log=None, shutdown_timeout=0.05, handler_cancellation=True
        )
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            self._loop, self._stop_event = asyncio.get_running_loop(), asyncio.Event()
            on_ready()
            await self._stop_event.wait()
        finally:
            self._stopping = True
            # Stop accepting, then let accepts under way finish: a connection accepted after the asyncio
            # Server closed leaks its socket (a ResourceWarning), so close it through aiohttp instead.
            asyncio.get_running_loop().remove_reader(sock.fileno())
            for _ in range(3):
                await asyncio.sleep(0)
            await runner.cleanup()
            sock.close()

    # -- recording ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far."""
        with self._lock:
            return list(self._requests)

    @property
    def disconnects(self) -> list[tuple[str, float]]:
        """(model, monotonic time) for each client that went away before its response finished."""
        with self._lock:
            return list(self._disconnects)

    @property
    def reported_usage(self) -> list[ReportedUsage]:
        """A snapshot of every usage this fake reported (see :class:`ReportedUsage`)."""
        with self._lock:
            return list(self._reported)

    def report_usage(self, model: str | None, usage: Mapping[str, Any], *, stream: bool) -> None:
        if self.record_requests:
            with self._lock:
                self._reported.append(ReportedUsage(model, dict(usage), stream))

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._disconnects.clear()
            self._reported.clear()

    def wait_for_disconnects(self, count: int = 1, timeout: float = 1.0) -> list[tuple[str, float]]:
        """Block until ``count`` disconnects were recorded (or ``timeout``); return them."""
        with self._disconnected:
            self._disconnected.wait_for(lambda: len(self._disconnects) >= count, timeout)
            return list(self._disconnects)

    def record_request(
        self, request: web.Request, raw: bytes, parsed: Any, api_key: str | None, model: str | None
    ) -> None:
        """Keep ``request`` (and remember its model for disconnect tracking)."""
        if model is not None:
            request[MODEL_KEY] = model
        if self.record_requests:
            entry = RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                request.headers,
                raw,
                parsed,
                api_key,
                model,
            )
            with self._lock:
                self._requests.append(entry)

    def client_gone(self, model: str | None) -> None:
        if self.record_requests and model is not None and not self._stopping:
            with self._disconnected:
                self._disconnects.append((model, time.monotonic()))
                self._disconnected.notify_all()

    @web.middleware
    async def _watch_disconnects(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        # handler_cancellation: a client going away cancels its handler, wherever it is waiting
        try:
            return await handler(request)
        except asyncio.CancelledError:
            self.client_gone(request.get(MODEL_KEY))
            raise

    # -- faults ---------------------------------------------------------------------------------

    @staticmethod
    def reset(request: web.Request) -> web.Response:
        """Abort the connection with a TCP RST (SO_LINGER 0), sending nothing more."""
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        return web.Response(status=500)

    async def before_headers(self, request: web.Request, scenario: Scenario, stream: bool) -> bool:
        """Apply ``slow``, and ``stall``/``reset`` to a non-stream answer; True when the connection was
        reset and no response should be sent."""
        if scenario.kind == "slow":
            await asyncio.sleep(scenario.value)
        if not stream and scenario.kind == "stall":
            await asyncio.get_running_loop().create_future()
        if not stream and scenario.kind == "reset":
            self.reset(request)
            return True
        return False

    async def stream(
        self,
        request: web.Request,
        model: str,
        events: Sequence[bytes],
        content_at: Sequence[int],
        scenario: Scenario,
        headers: Mapping[str, str],
        error_event: bytes | None = None,
        final_usage: tuple[int, Mapping[str, Any]] | None = None,
    ) -> web.StreamResponse:
        """Write ``events`` one by one (each flushed), applying the stream faults. ``content_at`` are the
        indexes of the content events that ``stall-<k>``/``reset-<k>``/``error-mid-stream-<k>`` count
        and ``drip-<ms>`` spaces out; ``error_event`` ends a ``midstream`` scenario. ``final_usage``:
        the index of the event that carries the stream's final usage, and that usage, reported once
        the event is written."""
        response = web.StreamResponse(headers=dict(headers))
        cut = len(events)
        if scenario.kind in ("stall", "reset", "midstream"):
            k = int(scenario.value)
            cut = content_at[k] if k < len(content_at) else len(events)
        paced = set(content_at[1:]) if scenario.kind == "drip" else set()
        try:
            await response.prepare(request)
            for index, event in enumerate(events[:cut]):
                if index in paced:
                    await asyncio.sleep(scenario.value / 1000)
                await response.write(event)
                if final_usage is not None and index == final_usage[0]:
                    self.report_usage(model, final_usage[1], stream=True)
            if scenario.kind == "stall":
                await asyncio.get_running_loop().create_future()
            elif scenario.kind == "reset":
                self.reset(request)
                return response
            elif scenario.kind == "midstream" and error_event is not None:
                await response.write(error_event)
            await response.write_eof()
        except ConnectionError:
            self.client_gone(model)
        return response
