"""A Responses request's `tools` and `tool_choice` → the hub's, and the names to call them back by. Pure.

Part of `responses_to_anthropic` (which re-exports `ClientTool`, `ToolNames` and `HubRequest`); the
answer side names each `tool_use` in the client's terms from `ToolNames`.

Decisions:
- `function` tools → Anthropic tools (`parameters` → `input_schema`, none → an empty object schema;
  `strict: true` kept, as for chat; `defer_loading`, `allowed_callers`, `output_schema` dropped: the
  tool is the same, and a deferred tool is simply offered, as `tool_search` is not).
- `custom` tools (free-form input) → a tool whose input is `{"input": <text>}`
  (`custom_input_schema`); a grammar format (`lark` / `regex`) is appended to the description, since
  no upstream constrains sampling with it.
- `namespace` tools: each inner function or custom tool → a hub tool named `<namespace>__<name>`, its
  description after the namespace's; a hub name taken twice → 400 naming the second tool.
- Hosted tools run at OpenAI. `web_search` / `web_search_preview` (dated versions too) → Anthropic's
  server tool `web_search_20250305` named `web_search` when the target has web search (`web_search=
  True`): `filters.allowed_domains` → `allowed_domains`, `user_location` → `user_location`,
  `max_tool_calls` → `max_uses` (0: left out), `search_context_size` dropped (a hint). A search
  restricted to cached results (`external_web_access: false`) has no live-only equivalent: left out,
  with a note. Every other hosted tool type (`file_search`, `code_interpreter`, `image_generation`,
  `mcp`, `computer_use_preview`, `local_shell`, `shell`, `apply_patch`, `tool_search`, ...) and web
  search without an equivalent are left out, their types listed in `HubRequest.left_out` for the relay
  to tell the client (or refuse, per provider).
- `tool_choice`: auto → auto, required → any, none → none; `{type: function | custom, name}` → that
  tool (a namespaced tool by its name when only one namespace has it, or with `namespace`); a hosted
  web search type → the `web_search` server tool; `allowed_tools` → only the listed tools are sent, with
  auto (mode auto) or any (mode required). Forcing a tool the target does not have → 400. Without any
  tool left, auto and none are dropped (they mean nothing) and required is a 400.
- `parallel_tool_calls: false` → `disable_parallel_tool_use` (on auto when no choice was given).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from llmgw.translate.json_fields import JSON, arr, bad, boolean, obj, string

__all__ = [
    "WEB_SEARCH_TOOL",
    "ClientTool",
    "HubRequest",
    "ResponsesTools",
    "ToolNames",
    "custom_input_schema",
    "hub_tool_name",
    "responses_tools",
]

WEB_SEARCH_TOOL: Final = "web_search"  # the name of the hub's web search server tool
_HUB_WEB_SEARCH: Final = "web_search_20250305"
_WEB_SEARCH_TYPES: Final = frozenset(
    {"web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"}
)
_CHOICES: Final = {"auto": "auto", "required": "any", "none": "none"}


@dataclass(frozen=True, slots=True)
class ClientTool:
    """A tool as the Responses client named it."""

    name: str
    kind: Literal["function", "custom"]
    namespace: str | None = None


ToolNames = Mapping[str, ClientTool]  # hub tool name → the client's tool


@dataclass(frozen=True, slots=True)
class HubRequest:
    """A Responses request translated to the hub."""

    body: dict[str, Any]  # the Anthropic Messages request
    tools: ToolNames  # to name tool calls back in the client's terms
    left_out: tuple[str, ...]  # hosted tool types not carried to this upstream ("file_search", ...)


@dataclass(frozen=True, slots=True)
class ResponsesTools:
    """The hub's `tools` and `tool_choice` for a request, with the client's names and what was left out."""

    tools: list[JSON]
    choice: JSON | None
    names: dict[str, ClientTool]
    left_out: tuple[str, ...]


def custom_input_schema() -> JSON:
    """The `input_schema` of a hub tool made from a custom (free-form input) tool: `{"input": <text>}`."""
    return {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}


def hub_tool_name(namespace: str, name: str) -> str:
    """The hub name of a namespaced tool."""
    return f"{namespace}__{name}"


def responses_tools(body: JSON, *, web_search: bool, notes: list[str]) -> ResponsesTools:
    """The hub tools for `body`'s `tools`, `tool_choice`, `parallel_tool_calls`, `max_tool_calls`."""
    tools: list[JSON] = []
    names: dict[str, ClientTool] = {}
    paths: dict[str, str] = {}  # hub name → the path of the tool that took it
    left_out: list[str] = []
    searching = False

    def add(entry: JSON, path: str, client: ClientTool | None) -> None:
        name = entry["name"]
        if name in paths:
            raise bad(f"{path}.name", f"the tool name {name!r} is already taken by {paths[name]}")
        paths[name] = path
        tools.append(entry)
        if client is not None:
            names[name] = client

    max_calls = body.get("max_tool_calls")
    if max_calls is not None and (
        isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 0
    ):
        raise bad("max_tool_calls", "expected a non-negative integer")
    raw_tools = body.get("tools")
    for i, raw in enumerate(arr(raw_tools, "tools") if raw_tools is not None else []):
        path = f"tools[{i}]"
        tool = obj(raw, path)
        kind = string(tool.get("type"), f"{path}.type")
        if kind in ("function", "custom"):
            entry = _function(tool, path) if kind == "function" else _custom(tool, path)
            add(entry, path, ClientTool(entry["name"], "function" if kind == "function" else "custom"))
        elif kind == "namespace":
            namespace = string(tool.get("name"), f"{path}.name")
            about = tool.get("description")
            about = string(about, f"{path}.description") if about is not None else ""
            for k, inner_raw in enumerate(arr(tool.get("tools"), f"{path}.tools")):
                ipath = f"{path}.tools[{k}]"
                inner = obj(inner_raw, ipath)
                inner_kind = inner.get("type")
                if inner_kind not in ("function", "custom"):
                    raise bad(
                        f"{ipath}.type", f"a namespace holds function and custom tools, not {inner_kind!r}"
                    )
                entry = _function(inner, ipath) if inner_kind == "function" else _custom(inner, ipath)
                client = ClientTool(entry["name"], inner_kind, namespace)
                entry["name"] = hub_tool_name(namespace, entry["name"])
                if about.strip():
                    entry["description"] = f"{about}\n\n{entry.get('description', '')}".rstrip()
                add(entry, ipath, client)
        elif kind not in _WEB_SEARCH_TYPES or not web_search:
            left_out.append(kind)
        elif tool.get("external_web_access") is False:
            notes.append(f"{path} left out: a search of cached results only has no equivalent here")
            left_out.append(kind)
        elif max_calls == 0:
            left_out.append(kind)
        elif not searching:  # a second web search tool adds nothing
            add(_web_search(tool, path, max_calls), path, None)
            searching = True
    choice = _tool_choice(body.get("tool_choice"), tools, names)
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not boolean(parallel, "parallel_tool_calls") and tools:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    return ResponsesTools(tools, choice, names, tuple(dict.fromkeys(left_out)))


def _function(tool: JSON, path: str) -> JSON:
    entry: JSON = {"name": string(tool.get("name"), f"{path}.name")}
    if tool.get("description") is not None:
        entry["description"] = string(tool["description"], f"{path}.description")
    parameters = tool.get("parameters")
    entry["input_schema"] = (
        obj(parameters, f"{path}.parameters")
        if parameters is not None
        else {"type": "object", "properties": {}}
    )
    if tool.get("strict") is True:
        entry["strict"] = True
    return entry


def _custom(tool: JSON, path: str) -> JSON:
    entry: JSON = {"name": string(tool.get("name"), f"{path}.name")}
    description = (
        string(tool["description"], f"{path}.description") if tool.get("description") is not None else ""
    )
    if tool.get("format") is not None:
        fmt = obj(tool["format"], f"{path}.format")
        kind = fmt.get("type")
        if kind == "grammar":
            syntax = string(fmt.get("syntax"), f"{path}.format.syntax")
            definition = string(fmt.get("definition"), f"{path}.format.definition")
            description = (
                f"{description}\n\nThe input must follow this {syntax} grammar:\n{definition}".lstrip()
            )
        elif kind != "text":
            raise bad(f"{path}.format.type", f"expected text or grammar, not {kind!r}")
    if description:
        entry["description"] = description
    entry["input_schema"] = custom_input_schema()
    return entry


def _web_search(tool: JSON, path: str, max_calls: int | None) -> JSON:
    entry: JSON = {"type": _HUB_WEB_SEARCH, "name": WEB_SEARCH_TOOL}
    if tool.get("filters") is not None:
        domains = obj(tool["filters"], f"{path}.filters").get("allowed_domains")
        if domains is not None:
            dpath = f"{path}.filters.allowed_domains"
            allowed = [string(d, f"{dpath}[{j}]") for j, d in enumerate(arr(domains, dpath))]
            if allowed:
                entry["allowed_domains"] = allowed
    if tool.get("user_location") is not None:
        location = obj(tool["user_location"], f"{path}.user_location")
        entry["user_location"] = {"type": "approximate"} | {
            key: location[key]
            for key in ("city", "region", "country", "timezone")
            if isinstance(location.get(key), str)
        }
    if max_calls is not None:
        entry["max_uses"] = max_calls
    return entry


def _tool_choice(value: Any, tools: list[JSON], names: dict[str, ClientTool]) -> JSON | None:
    """The hub's `tool_choice`; `allowed_tools` narrows `tools` in place."""
    if value is None:
        return None
    choice: JSON
    if isinstance(value, str):
        if value not in _CHOICES:
            raise bad("tool_choice", "expected auto, required, none or a tool")
        choice = {"type": _CHOICES[value]}
    else:
        spec = obj(value, "tool_choice")
        kind = spec.get("type")
        if kind in ("function", "custom"):
            choice = {"type": "tool", "name": _named(spec, "tool_choice", names)}
        elif kind in _WEB_SEARCH_TYPES:
            if not any(t.get("type") == _HUB_WEB_SEARCH for t in tools):
                raise bad("tool_choice.type", "web search is not available for this model")
            choice = {"type": "tool", "name": WEB_SEARCH_TOOL}
        elif kind == "allowed_tools":
            choice = _allowed(spec, tools, names)
        else:
            raise bad("tool_choice.type", f"{kind!r} is not available for this model")
    if not tools:
        if choice["type"] in ("auto", "none"):
            return None
        raise bad("tool_choice", "a tool call is required, but none of the tools can be sent to this model")
    return choice


def _named(spec: JSON, path: str, names: dict[str, ClientTool]) -> str:
    """The hub name of the function or custom tool `spec` names."""
    name = string(spec.get("name"), f"{path}.name")
    kind = spec.get("type")
    if spec.get("namespace") is not None:
        hub = hub_tool_name(string(spec["namespace"], f"{path}.namespace"), name)
        if hub in names and names[hub].kind == kind:
            return hub
    elif name in names and names[name].namespace is None and names[name].kind == kind:
        return name
    else:
        found = [hub for hub, tool in names.items() if tool.name == name and tool.kind == kind]
        if len(found) == 1:
            return found[0]
        if found:
            raise bad(f"{path}.name", f"{name!r} is in several namespaces; say which with `namespace`")
    raise bad(f"{path}.name", f"no {kind} tool named {name!r} in tools")


def _allowed(spec: JSON, tools: list[JSON], names: dict[str, ClientTool]) -> JSON:
    mode = spec.get("mode")
    if mode not in ("auto", "required"):
        raise bad("tool_choice.mode", "expected auto or required")
    keep: set[str] = set()
    for j, raw in enumerate(arr(spec.get("tools"), "tool_choice.tools")):
        path = f"tool_choice.tools[{j}]"
        entry = obj(raw, path)
        kind = entry.get("type")
        if kind in ("function", "custom"):
            keep.add(_named(entry, path, names))
        elif kind in _WEB_SEARCH_TYPES:
            keep.add(WEB_SEARCH_TOOL)
        # other hosted tools were left out: nothing of theirs to keep
    tools[:] = [t for t in tools if t["name"] in keep]
    return {"type": "auto" if mode == "auto" else "any"}
