"""The Responses API's conversation state, kept by the gateway: what `store` and `previous_response_id`
mean for a `/v1/responses` client whatever its upstream.

- Translated upstreams (Anthropic, Gemini, OpenAI-compatible servers) keep nothing: the gateway stores
  each answered exchange (`save`: the request's own input items, the output items, the Response object)
  when `store_responses` is on and the request's `store` is not false. A later request's
  `previous_response_id` is expanded into the whole chain's items (`continuation`), and its
  `item_reference` inputs into the items they name.
- An OpenAI upstream keeps its own responses, each in the account behind the key that made it: the
  gateway records only that key's fingerprint (`remember_upstream_key`, whatever `store_responses`),
  and `continuation` answers with it, so the relay sends the continuation with that very key.
- Owner only: a response is visible to the user whose key made it, and one made with the proxy key
  (legacy mode, `user_id` NULL) only to the proxy key. Another user's id, a deleted one and one past
  `response_retention_days` are all "not found", the same answer.
- Writes go through the writer thread (`storage.ResponseWriter`): `save` and `remember_upstream_key`
  never wait for the database and are cheap enough for the event loop; what they handed over is found
  at once. Every other method reads the database: call it in a worker thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmgw.errors import GatewayError, InvalidRequest, PreviousResponseNotFound, ResponseNotFound
from llmgw.services import retention
from llmgw.services.response_items import as_items, is_reference, page, stored_items
from llmgw.settings import ServerConfig
from llmgw.storage import ResponseWriter, Store, StoredResponse, UpstreamResponseKey

__all__ = [
    "MAX_CHAIN",
    "Continuation",
    "StoredResponses",
    "deleted_body",
    "needs_lookup",
    "wants_storage",
]

Item = dict[str, Any]
MAX_CHAIN = 1000  # responses in one conversation the gateway replays; past that the client sends input

STORE_OFF = (
    "this gateway stores no responses (store_responses = false), so it cannot continue a conversation "
    "for this model's provider: send the whole conversation in `input` instead"
)


def needs_lookup(body: dict[str, Any]) -> bool:
    """Whether `continuation` has anything to look up for this request (a `previous_response_id` or an
    `item_reference` input); if not, it needs no worker thread."""
    inp = body.get("input")
    return body.get("previous_response_id") is not None or (
        isinstance(inp, list) and any(is_reference(i) for i in inp)
    )


def wants_storage(body: dict[str, Any]) -> bool:
    """Whether the client asked for its response to be kept (`store`, true unless said false)."""
    return body.get("store") is not False


def deleted_body(response_id: str) -> dict[str, Any]:
    """What `DELETE /v1/responses/{id}` answers (OpenAI's shape)."""
    return {"id": response_id, "object": "response", "deleted": True}


def _short(value: str) -> str:
    return value[:200]


@dataclass(frozen=True, slots=True)
class Continuation:
    """What a request continues from.

    `history`: the stored conversation before it (its `previous_response_id`'s chain, oldest first);
    `items`: its own input as items, references to stored items replaced by those items (what `save`
    is given); `upstream`: set when `previous_response_id` is a response an OpenAI upstream made and
    keeps, which only that provider, with that key, can continue (then `history` is empty)."""

    history: list[Item] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    upstream: UpstreamResponseKey | None = None

    @property
    def input(self) -> list[Item]:
        """The whole input a translated upstream is sent: the history, then the request's own items."""
        return [*self.history, *self.items]


class StoredResponses:
    """The gateway's stored responses and upstream-key records, with their owner and retention rules."""

    def __init__(
        self,
        store: Store,
        server: ServerConfig,
        *,
        writer: ResponseWriter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._server = server
        self.enabled = server.store_responses
        self._writer = writer if writer is not None else ResponseWriter(store)
        self._clock = clock

    def start(self) -> None:
        """Start the writer thread (the server's start-up)."""
        self._writer.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is pending and stop the writer (blocking: the server's shutdown, in a thread)."""
        self._writer.close(timeout)

    def cutoff(self) -> float:
        """Records created before this are past retention (-inf: kept forever)."""
        cutoff = retention.response_cutoff(self._server, self._clock())
        return -math.inf if cutoff is None else cutoff

    # -- writes: on the event loop ----------------------------------------------------------------

    def save(
        self,
        response: dict[str, Any],
        *,
        input_items: Sequence[Any],
        user_id: int | None,
        api_key_id: int | None,
        provider: str | None,
        previous_response_id: str | None = None,
    ) -> bool:
        """Keep a finished exchange of a translated upstream: the request's own items
        (`Continuation.items`), the Response object the client got, its output items. Nothing when
        `store_responses` is off. The objects are handed over: the caller must not change them after.
        Whether it was queued."""
        if not self.enabled:
            return False
        response_id = response.get("id")
        if not isinstance(response_id, str) or not response_id:
            return False
        output = stored_items(response.get("output") or ())
        previous = previous_response_id or response.get("previous_response_id")
        record = StoredResponse(
            id=response_id,
            user_id=user_id,
            api_key_id=api_key_id,
            created_at=self._clock(),
            model=str(response.get("model") or ""),
            provider=provider,
            previous_response_id=previous if isinstance(previous, str) else None,
            input_items=stored_items(input_items),
            output_items=output,
            response={**response, "output": output},
        )
        return self._writer.save(record)

    def remember_upstream_key(
        self, response_id: str, *, provider: str, key_fingerprint: str, user_id: int | None
    ) -> bool:
        """Record which upstream key made a response an OpenAI upstream keeps (its fingerprint, never
        the key), so it is continued, read and deleted with that key only. Whether it was queued."""
        record = UpstreamResponseKey(response_id, provider, key_fingerprint, user_id, self._clock())
        return self._writer.remember(record)

    # -- reads: in a worker thread ----------------------------------------------------------------

    def locate(self, response_id: str, user_id: int | None) -> StoredResponse | UpstreamResponseKey:
        """The caller's stored response of that id, or the record of the upstream key that made it;
        `ResponseNotFound` for anything else."""
        found = self._response(response_id, user_id) or self._upstream_key(response_id, user_id)
        if found is None:
            raise ResponseNotFound(f"Response with id '{_short(response_id)}' not found.")
        return found

    def delete(self, response_id: str, user_id: int | None) -> dict[str, Any]:
        """Delete the caller's stored response (or the record of an upstream one, which the caller
        deletes upstream first): OpenAI's deletion answer; `ResponseNotFound` if not theirs."""
        self.locate(response_id, user_id)
        self._writer.delete(response_id)
        return deleted_body(response_id)

    def input_items(
        self,
        response_id: str,
        user_id: int | None,
        *,
        limit: int = 20,
        order: str = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        """The items a stored response was made from, paginated as OpenAI lists them: its conversation's
        earlier items (inputs and outputs) and its own input."""
        found = self._response(response_id, user_id)
        if found is None:
            raise ResponseNotFound(f"Response with id '{_short(response_id)}' not found.")

        def missing(link: str) -> GatewayError:
            return ResponseNotFound(
                f"Response with id '{_short(link)}', an earlier response of the conversation that "
                f"'{_short(response_id)}' continues, was deleted or is past retention: its input items "
                "cannot be listed."
            )

        earlier = (
            self._chain(found.previous_response_id, user_id, missing) if found.previous_response_id else []
        )
        return page([*earlier, *found.input_items], limit=limit, order=order, after=after, before=before)

    def history(self, previous_response_id: str, user_id: int | None) -> list[Item]:
        """Every item of the conversation up to and including `previous_response_id`, oldest first: each
        response's input items, then its output items. A missing response anywhere in the chain is a
        `PreviousResponseNotFound` naming it."""

        def missing(link: str) -> GatewayError:
            if link == previous_response_id:
                message = f"Previous response with id '{_short(link)}' not found."
            else:
                message = (
                    f"Previous response with id '{_short(link)}' not found: it is an earlier response of "
                    f"the conversation that '{_short(previous_response_id)}' continues (deleted, or past "
                    "retention)."
                )
            return PreviousResponseNotFound(message, param="previous_response_id")

        return self._chain(previous_response_id, user_id, missing)

    def continuation(self, body: dict[str, Any], user_id: int | None, *, translated: bool) -> Continuation:
        """What a `/v1/responses` request continues from (see `Continuation`).

        `translated`: the target is an upstream the gateway translates for (it keeps no state); then a
        `previous_response_id` must be a response stored here, and every `item_reference` an item
        stored here. Otherwise (an OpenAI upstream, passed through) a response an OpenAI upstream made
        comes back as `upstream`, and references this gateway does not know stay for the upstream."""
        items = as_items(body.get("input"))
        previous = body.get("previous_response_id")
        if previous is None:
            return Continuation([], self._resolve(items, [], user_id, strict=translated))
        if not isinstance(previous, str) or not previous:
            raise InvalidRequest(
                "`previous_response_id` must be a response id.", param="previous_response_id"
            )
        upstream = (
            None if (own := self._response(previous, user_id)) else self._upstream_key(previous, user_id)
        )
        if upstream is not None:
            if translated:
                raise InvalidRequest(
                    f"Previous response with id '{_short(previous)}' was made by provider "
                    f"'{upstream.provider}', which keeps it: continue it with a model of that provider.",
                    param="previous_response_id",
                )
            return Continuation([], self._resolve(items, [], user_id, strict=False), upstream)
        if own is None and translated and not self.enabled:
            raise InvalidRequest(
                f"Cannot use `previous_response_id`: {STORE_OFF}.", param="previous_response_id"
            )
        history = self.history(previous, user_id)
        return Continuation(history, self._resolve(items, history, user_id, strict=translated))

    # -- the rules ----------------------------------------------------------------------------------

    def _visible(self, created_at: float, owner: int | None, user_id: int | None) -> bool:
        return owner == user_id and created_at >= self.cutoff()

    def _response(self, response_id: str, user_id: int | None) -> StoredResponse | None:
        found = self._writer.pending_response(response_id) or self._store.stored_response(response_id)
        return found if found and self._visible(found.created_at, found.user_id, user_id) else None

    def _upstream_key(self, response_id: str, user_id: int | None) -> UpstreamResponseKey | None:
        found = self._writer.pending_key(response_id) or self._store.response_upstream_key(response_id)
        return found if found and self._visible(found.created_at, found.user_id, user_id) else None

    def _chain(
        self, response_id: str, user_id: int | None, missing: Callable[[str], GatewayError]
    ) -> list[Item]:
        links: list[StoredResponse] = []
        seen: set[str] = set()
        next_id: str | None = response_id
        while next_id is not None:
            if len(links) == MAX_CHAIN:
                raise InvalidRequest(
                    f"The conversation is longer than {MAX_CHAIN} responses: send its items in `input`.",
                    param="previous_response_id",
                )
            found = self._response(next_id, user_id) if next_id not in seen else None
            if found is None:
                raise missing(next_id)
            links.append(found)
            seen.add(next_id)
            next_id = found.previous_response_id
        items: list[Item] = []
        for link in reversed(links):
            items += link.input_items
            items += link.output_items
        return items

    def _resolve(
        self, items: list[Any], history: list[Item], user_id: int | None, *, strict: bool
    ) -> list[Any]:
        """`items` with each `item_reference` replaced by the item it names (in `history` first, then
        in the caller's stored responses). One not found: a 400 if `strict`, else left as it is."""
        if not any(is_reference(i) for i in items):
            return items
        known = {i["id"]: i for i in history if isinstance(i.get("id"), str)}
        out: list[Any] = []
        for item in items:
            if not is_reference(item):
                out.append(item)
                continue
            ref = item.get("id")
            found = (known.get(ref) or self._stored_item(ref, user_id)) if isinstance(ref, str) else None
            if found is not None:
                out.append(found)
            elif strict:
                shown = _short(ref) if isinstance(ref, str) else ref
                off = "" if self.enabled else f" ({STORE_OFF})"
                raise InvalidRequest(f"Item with id '{shown}' not found{off}.", param="input")
            else:
                out.append(item)
        return out

    def _stored_item(self, item_id: str, user_id: int | None) -> Item | None:
        """The item of that id in the caller's newest stored response holding one."""
        waiting = [
            r for r in self._writer.pending_items(item_id) if self._visible(r.created_at, r.user_id, user_id)
        ]
        found = (
            waiting[-1] if waiting else self._store.stored_response_with_item(item_id, user_id, self.cutoff())
        )
        if found is None:
            return None
        for item in (*found.output_items, *found.input_items):
            if item.get("id") == item_id:
                return item
        return None
