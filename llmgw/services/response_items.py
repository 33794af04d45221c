"""The items of a conversation as OpenAI's Responses API keeps and lists them (the OpenAPI document's
`InputParam`, `ItemResource`, `ResponseItemList`). Pure.

- `as_items`: a request's `input` as a list of items: a string is one user message (`InputParam`'s
  "equivalent to a text input with the `user` role"); a list is taken as it is.
- `stored_items`: items as they are stored, listed and replayed (`ItemResource`): each has an `id`
  (minted when the client gave none: `msg_…` for a message, `fc_…` a function call, `rs_…` reasoning,
  `ctc_…` a custom tool call, `item_…` anything else, 48 hex digits like the gateway's response ids);
  a message written out as one (`type: "message"`, its string content as one text part: `output_text`
  with its empty `annotations` for the assistant's, `input_text` for the others' roles). Nothing else
  is changed, so an item a client sent back (reasoning with `encrypted_content` above all) replays
  byte for byte.
- `page`: one page of a `ResponseItemList`: `limit` 1-100 (default 20), `order` `desc` (the default,
  as the document says) or `asc`, `after` / `before` an item id of the list in that order (`before`
  gives the `limit` items right before it); `first_id` / `last_id` null on an empty page.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from llmgw.errors import InvalidRequest

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "as_items", "is_reference", "new_item_id", "page", "stored_items"]

Item = dict[str, Any]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_PREFIXES = {"message": "msg_", "function_call": "fc_", "reasoning": "rs_", "custom_tool_call": "ctc_"}


def new_item_id(item_type: str) -> str:
    return _PREFIXES.get(item_type, "item_") + os.urandom(24).hex()


def as_items(value: Any) -> list[Any]:
    """A request's `input` as items (a string: one user message; nothing: none)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    if isinstance(value, list):
        return list(value)
    raise InvalidRequest("`input` must be a string or a list of items.", param="input")


def is_reference(item: Any) -> bool:
    """Whether `item` is an `item_reference` (an earlier item named by its id)."""
    return isinstance(item, dict) and item.get("type") == "item_reference"


def stored_items(items: Iterable[Any]) -> list[Item]:
    """Items as stored and listed: each with an `id`, messages written out (see the module's doc).
    Only dict items are kept; the ones given are not changed (changed items are copies)."""
    out: list[Item] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind is None and "role" in item:  # an "easy" message: {"role", "content"}
            item, kind = {"type": "message", **item}, "message"
        if kind == "message" and isinstance(item.get("content"), str):
            assistant = item.get("role") == "assistant"
            part: Item = (
                {"type": "output_text", "text": item["content"], "annotations": []}
                if assistant
                else {
                    "type": "input_text",
                    "text": item["content"],
                }
            )
            item = {**item, "content": [part]}
        if not isinstance(item.get("id"), str) or not item["id"]:
            minted: Item = {"id": new_item_id(kind if isinstance(kind, str) else "")}
            item = minted | {k: v for k, v in item.items() if k != "id"}
        out.append(item)
    return out


def page(
    items: Sequence[Item],
    *,
    limit: int = DEFAULT_LIMIT,
    order: str = "desc",
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """One page of `items` (oldest first) in OpenAI's list shape."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be between 1 and {MAX_LIMIT}.", param="limit")
    if order not in ("asc", "desc"):
        raise InvalidRequest("`order` must be `asc` or `desc`.", param="order")
    ordered = list(items) if order == "asc" else list(reversed(items))
    ids = [i.get("id") for i in ordered]
    start, end = 0, len(ordered)
    if after is not None:
        start = _position(ids, after, "after") + 1
    if before is not None:
        end = _position(ids, before, "before")
    window = ordered[start:end] if start <= end else []
    data = window[-limit:] if before is not None and after is None else window[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0].get("id") if data else None,
        "last_id": data[-1].get("id") if data else None,
        "has_more": len(window) > len(data),
    }


def _position(ids: list[Any], item_id: str, param: str) -> int:
    try:
        return ids.index(item_id)
    except ValueError:
        raise InvalidRequest(f"No item with id '{item_id[:200]}' in this list.", param=param) from None
