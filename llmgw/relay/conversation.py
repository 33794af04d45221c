"""A `/v1/responses` request's place in a conversation, in the request path: what it continues from and
what is kept of its answer (the rules are `services/stored_responses.py`'s).

- Before a target is tried (`forward`): its body. A translated upstream keeps nothing, so a
  `previous_response_id` is expanded into the stored conversation's items and its `item_reference`s
  into the items they name (the translator ignores `previous_response_id`; the Response echoes it). An
  OpenAI upstream keeps its own: a response it made is continued there only, with the key that made it
  (`pinned`); one the gateway stored is sent as items, since OpenAI never saw it.
- Once an upstream answered (`served_by`), the bridge hands over the finished Response (completed or
  incomplete, never a failed one): stored for a translated upstream when the client did not say
  `store: false`; for OpenAI, which keeps it itself, only the fingerprint of the key that made it.
- A request with nothing to look up (no `previous_response_id`, no `item_reference`, the common case:
  Codex sends its whole history with `store: false`) never touches the database.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llmgw.relay.keypool import Key, KeyPool
from llmgw.services.response_items import as_items
from llmgw.services.stored_responses import (
    Continuation,
    StoredResponses,
    needs_lookup,
    wants_storage,
)

__all__ = ["Conversation"]

FINISHED = frozenset({"completed", "incomplete"})  # Responses worth keeping: OpenAI keeps these too


class Conversation:
    """One `/v1/responses` request's conversation state, for its targets in turn."""

    __slots__ = ("_found", "_served", "api_key_id", "body", "keep", "service", "user_id")

    def __init__(
        self, service: StoredResponses, body: dict[str, Any], user_id: int | None, api_key_id: int | None
    ) -> None:
        self.service, self.body, self.user_id, self.api_key_id = service, body, user_id, api_key_id
        self.keep = wants_storage(body)
        self._found: dict[bool, Continuation] = {}  # by `translated`: looked up once per kind
        self._served: tuple[str, str, bool, Continuation] | None = None

    async def continuation(self, translated: bool) -> Continuation:
        """What the request continues from, for a translated upstream or an OpenAI one (400 for a
        `previous_response_id` or reference that cannot be served there)."""
        found = self._found.get(translated)
        if found is None:
            if needs_lookup(self.body):
                found = await asyncio.to_thread(
                    self.service.continuation, self.body, self.user_id, translated=translated
                )
            else:
                found = Continuation([], as_items(self.body.get("input")))
            self._found[translated] = found
        return found

    def body_for(self, found: Continuation, translated: bool) -> dict[str, Any]:
        """The body a target gets: the whole conversation as `input` where the upstream cannot know it."""
        if found.upstream is not None:  # OpenAI continues its own response: the body as sent
            return self.body
        if translated:
            return {**self.body, "input": found.input} if needs_lookup(self.body) else self.body
        if found.history:  # stored here, unknown to OpenAI: sent as items
            body = {k: v for k, v in self.body.items() if k != "previous_response_id"}
            return {**body, "input": found.input}
        if needs_lookup(self.body):  # references resolved where the gateway knew them
            return {**self.body, "input": found.items}
        return self.body

    @staticmethod
    def pinned(found: Continuation, provider: str, keys: KeyPool) -> Key | None:
        """For a response an OpenAI upstream keeps: the key that made it, if `provider` is the one that
        keeps it and the key is still configured; None otherwise."""
        made = found.upstream
        if made is None or made.provider != provider:
            return None
        return keys.find(made.key_fingerprint)

    def served_by(self, provider: str, key: Key, translated: bool, found: Continuation) -> None:
        """The upstream that is answering: what `kept` records the answer under."""
        self._served = (provider, key.fingerprint, translated, found)

    def kept(self, response: dict[str, Any]) -> None:
        """The bridge's finished Response: stored (translated upstream) or its key remembered (OpenAI),
        unless the client said `store: false`."""
        if self._served is None or not self.keep or response.get("status") not in FINISHED:
            return
        provider, fingerprint, translated, found = self._served
        response_id = response.get("id")
        if not isinstance(response_id, str) or not response_id:
            return
        if translated:
            self.service.save(
                response,
                input_items=found.items,
                user_id=self.user_id,
                api_key_id=self.api_key_id,
                provider=provider,
                previous_response_id=self.body.get("previous_response_id"),
            )
        else:
            self.service.remember_upstream_key(
                response_id, provider=provider, key_fingerprint=fingerprint, user_id=self.user_id
            )
