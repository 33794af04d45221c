"""The Responses API's conversation state (services/stored_responses.py over storage/stored_responses.py
and its writer thread), on a temporary SQLite file: owner only, the `previous_response_id` chain,
`item_reference` inputs, OpenAI's list pages, retention, the `store_responses` switch, the records of
which upstream key made a response, and m011 on a database that had everything before it."""

from __future__ import annotations

import queue
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from llmgw.errors import InvalidRequest, PreviousResponseNotFound, ResponseNotFound
from llmgw.services import retention, users
from llmgw.services.audit import Actor
from llmgw.services.stored_responses import (
    Continuation,
    StoredResponses,
    deleted_body,
    needs_lookup,
    wants_storage,
)
from llmgw.settings import ServerConfig
from llmgw.storage import ResponseWriter, Store, StoredResponse, UpstreamResponseKey
from llmgw.storage.migrations import migrations
from tests.support import raw_db

pytestmark = pytest.mark.usefixtures("fast_hashes")

DAY = 86400.0
T0 = 1_800_000_000.0
CLI = Actor(name="cli:tester")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    with Store.open(database) as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


def service(store: Store, clock: Clock, **server: Any) -> StoredResponses:
    """A service whose writer never started: records wait in memory until `close` writes them, in this
    thread, so each test says exactly when the database gets them."""
    return StoredResponses(store, ServerConfig(**server), writer=ResponseWriter(store), clock=clock)


def user_message(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def answer(response_id: str, text: str, *, previous: str | None = None) -> dict[str, Any]:
    """A Response object as the translators write it (the OpenAPI document's `Response`)."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(T0),
        "status": "completed",
        "model": "anthropic/claude-sonnet-4-5",
        "output": [
            {
                "id": f"msg_{response_id}",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "previous_response_id": previous,
        "store": True,
        "usage": {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17},
    }


def save(
    svc: StoredResponses,
    response_id: str,
    text: str,
    items: list[Any],
    *,
    user: int | None = None,
    previous: str | None = None,
) -> bool:
    return svc.save(
        answer(response_id, text, previous=previous),
        input_items=items,
        user_id=user,
        api_key_id=None if user is None else 100 + user,
        provider="anthropic",
    )


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [part["text"] for item in items for part in item["content"]]


# -- saving and reading ---------------------------------------------------------------------------


def test_a_saved_response_is_found_at_once_and_after_it_is_written(store: Store, clock: Clock) -> None:
    svc = service(store, clock)
    assert save(svc, "resp_1", "Paris.", [user_message("Capital of France?")], user=None)
    pending = svc.locate("resp_1", None)
    assert isinstance(pending, StoredResponse)
    assert store.stored_response("resp_1") is None  # not written yet: memory answers
    svc.close()

    written = store.stored_response("resp_1")
    assert written is not None and written == pending
    assert written.response == answer("resp_1", "Paris.")
    assert written.created_at == T0 and written.model == "anthropic/claude-sonnet-4-5"
    assert (written.user_id, written.api_key_id, written.provider) == (None, None, "anthropic")
    (item,) = written.input_items
    assert item["id"].startswith("msg_") and len(item["id"]) == 4 + 48
    assert item == {
        "id": item["id"],
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Capital of France?"}],
    }
    # The Response's output is kept once, as the output items, and put back in its place on read.
    shell = raw_db.rows(store, "SELECT response FROM stored_responses")[0][0]
    assert '"output":null' in shell and "Paris." not in shell
    assert list(written.response) == list(answer("resp_1", "Paris."))


def test_nothing_is_stored_when_the_switch_is_off(store: Store, clock: Clock) -> None:
    svc = service(store, clock, store_responses=False)
    assert not save(svc, "resp_1", "Paris.", [user_message("Hi")])
    svc.close()
    assert store.stored_response("resp_1") is None
    with pytest.raises(ResponseNotFound):
        svc.locate("resp_1", None)


def test_owner_only_another_user_and_the_proxy_key_see_nothing(store: Store, clock: Clock) -> None:
    ada = users.create_user(store, CLI, "ada", "a long enough password").id
    bob = users.create_user(store, CLI, "bob", "a long enough password").id
    svc = service(store, clock)
    save(svc, "resp_ada", "Hello Ada.", [user_message("Hi")], user=ada)
    save(svc, "resp_legacy", "Hello.", [user_message("Hi")], user=None)
    for written in (False, True):  # from memory, then from the database
        if written:
            svc.close()
            svc = service(store, clock)
        assert isinstance(svc.locate("resp_ada", ada), StoredResponse)
        assert isinstance(svc.locate("resp_legacy", None), StoredResponse)
        for rid, who in (("resp_ada", bob), ("resp_ada", None), ("resp_legacy", ada)):
            with pytest.raises(ResponseNotFound) as err:
                svc.locate(rid, who)
            assert err.value.message == f"Response with id '{rid}' not found."
            assert (err.value.status, err.value.type, err.value.code) == (404, "invalid_request_error", None)
        with pytest.raises(ResponseNotFound):
            svc.delete("resp_ada", bob)
        with pytest.raises(ResponseNotFound):
            svc.input_items("resp_ada", bob)
        with pytest.raises(PreviousResponseNotFound):
            svc.history("resp_ada", bob)
    assert store.stored_response("resp_ada") is not None  # bob's delete did nothing


def test_a_deleted_users_responses_go_with_them(store: Store, clock: Clock) -> None:
    ada = users.create_user(store, CLI, "ada", "a long enough password").id
    svc = service(store, clock)
    save(svc, "resp_1", "Hello.", [user_message("Hi")], user=ada)
    svc.remember_upstream_key("resp_up", provider="openai", key_fingerprint="0123456789ab", user_id=ada)
    svc.close()
    users.delete_user(store, CLI, "ada")
    assert store.stored_response("resp_1") is None
    assert store.response_upstream_key("resp_up") is None
    assert raw_db.rows(store, "SELECT COUNT(*) FROM stored_response_items") == [(0,)]


def test_a_response_whose_user_was_deleted_before_it_was_written_is_dropped(
    store: Store, clock: Clock
) -> None:
    ada = users.create_user(store, CLI, "ada", "a long enough password").id
    svc = service(store, clock)
    save(svc, "resp_gone", "Hello.", [user_message("Hi")], user=ada)
    save(svc, "resp_kept", "Hello.", [user_message("Hi")], user=None)
    users.delete_user(store, CLI, "ada")
    svc.close()  # the batch is refused as a whole, then written one by one
    assert store.stored_response("resp_gone") is None
    assert store.stored_response("resp_kept") is not None


# -- deleting ---------------------------------------------------------------------------------------


def test_delete_answers_openais_shape_and_the_response_is_gone(store: Store, clock: Clock) -> None:
    svc = service(store, clock)
    save(svc, "resp_1", "Hello.", [user_message("Hi")])
    svc.close()
    svc = service(store, clock)
    assert svc.delete("resp_1", None) == {"id": "resp_1", "object": "response", "deleted": True}
    assert deleted_body("resp_1") == {"id": "resp_1", "object": "response", "deleted": True}
    assert store.stored_response("resp_1") is None
    with pytest.raises(ResponseNotFound):
        svc.delete("resp_1", None)
    assert raw_db.rows(store, "SELECT COUNT(*) FROM stored_response_items") == [(0,)]


def test_a_response_deleted_before_it_was_written_is_never_written(store: Store, clock: Clock) -> None:
    svc = service(store, clock)
    save(svc, "resp_1", "Hello.", [user_message("Hi")])
    svc.delete("resp_1", None)
    svc.close()  # the queued write finds it deleted
    assert store.stored_response("resp_1") is None


def test_the_writer_thread_writes_and_a_racing_delete_wins(store: Store, clock: Clock) -> None:
    writer = ResponseWriter(store, max_delay=0.01)
    svc = StoredResponses(store, ServerConfig(), writer=writer, clock=clock)
    svc.start()
    for n in range(20):
        save(svc, f"resp_{n}", "Hello.", [user_message("Hi")])
        if n % 2:
            svc.delete(f"resp_{n}", None)
    svc.close()
    assert writer.pending() == 0
    kept = {n for n in range(20) if store.stored_response(f"resp_{n}") is not None}
    assert kept == set(range(0, 20, 2))


def key_record(n: int) -> UpstreamResponseKey:
    return UpstreamResponseKey(f"resp_k{n}", "openai", "0123456789ab", None, T0)


class WaitsSeen(queue.SimpleQueue):  # type: ignore[type-arg]
    """A queue that notes each blocking wait for a record."""

    waits: list[float | None]

    def get(self, block: bool = True, timeout: float | None = None) -> object:
        self.waits.append(timeout)
        return super().get(block, timeout)


def test_records_within_the_window_are_one_batch(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread waits for a batch's first record only, then sleeps through its window and drains
    what came: no wake-up per record (each one a GIL hand-off that preempts the event loop)."""
    writer = ResponseWriter(store, max_delay=0.2)
    waits = WaitsSeen()
    waits.waits = []
    writer._queue = waits
    batches: list[int] = []
    write = writer._write

    def noted(batch: Any) -> None:
        batches.append(len(batch))
        write(batch)

    monkeypatch.setattr(writer, "_write", noted)
    writer.start()
    for n in range(30):
        writer.remember(key_record(n))
    writer.close()
    assert sum(batches) == 30 and len(batches) <= 2  # 30 records within one 0.2 s window (or two)
    # one untimed wait per batch (and maybe one for the stop), never a timed wait per record
    assert set(waits.waits) == {None} and len(waits.waits) <= len(batches) + 1
    assert all(store.response_upstream_key(f"resp_k{n}") is not None for n in range(30))


def test_a_full_batch_does_not_wait_out_the_window(store: Store) -> None:
    writer = ResponseWriter(store, max_batch=5, max_delay=60.0)
    writer.start()
    for n in range(5):
        writer.remember(key_record(n))
    deadline = time.monotonic() + 30  # a hang guard: the window alone would be 60 s
    while writer.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.pending() == 0
    writer.close()


def test_close_right_after_a_record_writes_it(store: Store) -> None:
    writer = ResponseWriter(store, max_delay=60.0)
    writer.start()
    writer.remember(key_record(1))
    writer.close()  # cuts the 60 s window short
    assert writer.pending() == 0 and store.response_upstream_key("resp_k1") is not None


# -- the chain: previous_response_id -----------------------------------------------------------------


def conversation(svc: StoredResponses, user: int | None = None) -> None:
    """resp_1 ← resp_2 ← resp_3, each a question and its answer."""
    save(svc, "resp_1", "Paris.", [user_message("Capital of France?")], user=user)
    save(svc, "resp_2", "Berlin.", [user_message("And Germany?")], user=user, previous="resp_1")
    save(svc, "resp_3", "Rome.", [user_message("And Italy?")], user=user, previous="resp_2")


def test_history_is_the_whole_chain_in_order(store: Store, clock: Clock) -> None:
    svc = service(store, clock)
    conversation(svc)
    svc.close()
    svc = service(store, clock)
    history = svc.history("resp_3", None)
    assert texts(history) == [
        "Capital of France?",
        "Paris.",
        "And Germany?",
        "Berlin.",
        "And Italy?",
        "Rome.",
    ]
    assert [i["role"] for i in history] == ["user", "assistant"] * 3
    assert texts(svc.history("resp_1", None)) == ["Capital of France?", "Paris."]


def test_continuation_prepends_the_history_to_the_new_input(store: Store, clock: Clock) -> None:
    svc = service(store, clock)
    conversation(svc)
    body = {"model": "claude", "previous_response_id": "resp_2", "input": "And Spain?"}
    assert needs_lookup(body)
    found = svc.continuation(body, None, translated=True)
    assert found.upstream is None
    assert texts(found.history) == ["Capital of France?", "Paris.", "And Germany?", "Berlin."]
    assert found.items == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And Spain?"}]}
    ]
    assert found.input == [*found.history, *found.items]


def test_a_request_without_state_needs_no_lookup(store: Store, clock: Clock) -> None:
    svc = service(store, clock)
    body = {"model": "claude", "input": [user_message("Hi")], "store": False}
    assert not needs_lookup(body) and not wants_storage(body)
    assert wants_storage({"input": "x"}) and wants_storage({"store": True})
    assert svc.continuation(body, None, translated=True) == Continuation([], [user_message("Hi")])


def test_a_missing_link_is_a_clear_error(store: Store, clock: Clock) -> None:
    svc = service(store, clock)
    conversation(svc)
    svc.close()
    svc = service(store, clock)
    with pytest.raises(PreviousResponseNotFound) as err:
        svc.history("resp_nope", None)
    assert err.value.message == "Previous response with id 'resp_nope' not found."
    assert (err.value.status, err.value.code, err.value.param) == (
        400,
        "previous_response_not_found",
        "previous_response_id",
    )
    svc.delete("resp_1", None)
    with pytest.raises(PreviousResponseNotFound) as err:
        svc.continuation({"previous_response_id": "resp_3", "input": "x"}, None, translated=True)
    assert (
        "'resp_1' not found: it is an earlier response of the conversation that 'resp_3'" in err.value.message
    )
    with pytest.raises(ResponseNotFound) as listing:
        svc.input_items("resp_3", None)
    assert (
        "'resp_1', an earlier response of the conversation that 'resp_3' continues" in listing.value.message
    )


def test_a_chain_past_the_bound_is_refused(
    store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmgw.services import stored_responses

    monkeypatch.setattr(stored_responses, "MAX_CHAIN", 2)
    svc = service(store, clock)
    conversation(svc)
    assert len(svc.history("resp_2", None)) == 4
    with pytest.raises(InvalidRequest, match="longer than 2 responses"):
        svc.history("resp_3", None)


# -- item_reference inputs -----------------------------------------------------------------------------


def test_item_references_become_the_items_they_name(store: Store, clock: Clock) -> None:
    svc = service(store, clock)
    conversation(svc)
    svc.close()
    svc = service(store, clock)
    # The Vercel AI SDK with `store` on: earlier answers as references, no previous_response_id.
    body = {
        "input": [
            user_message("Capital of France?"),
            {"type": "item_reference", "id": "msg_resp_1"},
            user_message("Why?"),
        ]
    }
    assert needs_lookup(body)
    found = svc.continuation(body, None, translated=True)
    assert found.history == []
    assert found.items[1] == answer("resp_1", "Paris.")["output"][0]
    # Within a previous_response_id's chain, from the history itself.
    chained = svc.continuation(
        {"previous_response_id": "resp_2", "input": [{"type": "item_reference", "id": "msg_resp_1"}]},
        None,
        translated=True,
    )
    assert chained.items == [answer("resp_1", "Paris.")["output"][0]]


def test_an_unknown_reference_is_a_400_for_a_translated_upstream_and_left_for_openai(
    store: Store, clock: Clock
) -> None:
    ada = users.create_user(store, CLI, "ada", "a long enough password").id
    svc = service(store, clock)
    conversation(svc, user=ada)
    body = {"input": [{"type": "item_reference", "id": "msg_resp_1"}]}
    with pytest.raises(InvalidRequest) as err:
        svc.continuation(body, None, translated=True)  # ada's item: not the proxy key's
    assert (err.value.message, err.value.param) == ("Item with id 'msg_resp_1' not found.", "input")
    passed = svc.continuation(body, None, translated=False)
    assert passed.items == body["input"]


# -- OpenAI upstreams: which key made a response -----------------------------------------------------


def test_an_openai_made_response_is_continued_with_its_key_only(store: Store, clock: Clock) -> None:
    svc = service(store, clock, store_responses=False)  # the switch is about content: keys are recorded
    assert svc.remember_upstream_key(
        "resp_up", provider="openai", key_fingerprint="0123456789ab", user_id=None
    )
    body = {"previous_response_id": "resp_up", "input": "More."}
    found = svc.continuation(body, None, translated=False)
    assert found.upstream == UpstreamResponseKey("resp_up", "openai", "0123456789ab", None, T0)
    assert found.history == []
    with pytest.raises(InvalidRequest) as err:
        svc.continuation(body, None, translated=True)
    assert "made by provider 'openai', which keeps it" in err.value.message
    svc.close()
    svc = service(store, clock)
    assert svc.locate("resp_up", None) == UpstreamResponseKey("resp_up", "openai", "0123456789ab", None, T0)
    with pytest.raises(ResponseNotFound):
        svc.locate("resp_up", 7)
    svc.delete("resp_up", None)
    assert store.response_upstream_key("resp_up") is None


def test_previous_response_id_to_a_translated_upstream_with_the_switch_off_is_a_400(
    store: Store, clock: Clock
) -> None:
    svc = service(store, clock, store_responses=False)
    with pytest.raises(InvalidRequest) as err:
        svc.continuation({"previous_response_id": "resp_1", "input": "x"}, None, translated=True)
    assert "store_responses = false" in err.value.message and err.value.param == "previous_response_id"
    with pytest.raises(InvalidRequest, match="store_responses = false"):
        svc.continuation({"input": [{"type": "item_reference", "id": "msg_1"}]}, None, translated=True)
    with pytest.raises(PreviousResponseNotFound):  # passed through: not found is what it is
        svc.continuation({"previous_response_id": "resp_1", "input": "x"}, None, translated=False)


def test_a_bad_previous_response_id_is_a_400(store: Store, clock: Clock) -> None:
    with pytest.raises(InvalidRequest) as err:
        service(store, clock).continuation({"previous_response_id": 12, "input": "x"}, None, translated=True)
    assert err.value.param == "previous_response_id"


# -- input_items ---------------------------------------------------------------------------------------


def test_input_items_are_the_conversation_before_the_answer_newest_first(store: Store, clock: Clock) -> None:
    svc = service(store, clock)
    conversation(svc)
    listing = svc.input_items("resp_2", None)
    assert texts(listing["data"]) == ["And Germany?", "Paris.", "Capital of France?"]
    assert listing["object"] == "list" and listing["has_more"] is False
    assert (listing["first_id"], listing["last_id"]) == (listing["data"][0]["id"], listing["data"][-1]["id"])
    first = svc.input_items("resp_3", None, limit=2, order="asc")
    assert texts(first["data"]) == ["Capital of France?", "Paris."] and first["has_more"] is True
    rest = svc.input_items("resp_3", None, limit=10, order="asc", after=first["last_id"])
    assert texts(rest["data"]) == ["And Germany?", "Berlin.", "And Italy?"] and rest["has_more"] is False


# -- retention -----------------------------------------------------------------------------------------


def test_past_retention_a_response_is_not_found_then_purged(store: Store, clock: Clock) -> None:
    svc = service(store, clock, response_retention_days=30)
    conversation(svc)
    svc.remember_upstream_key("resp_up", provider="openai", key_fingerprint="0123456789ab", user_id=None)
    svc.close()
    clock.now = T0 + 10 * DAY
    svc = service(store, clock, response_retention_days=30)
    save(svc, "resp_new", "Hi.", [user_message("Hi")])
    svc.close()
    clock.now = T0 + 31 * DAY
    svc = service(store, clock, response_retention_days=30)
    for rid in ("resp_1", "resp_3", "resp_up"):
        with pytest.raises(ResponseNotFound):
            svc.locate(rid, None)
    assert isinstance(svc.locate("resp_new", None), StoredResponse)
    server = ServerConfig(response_retention_days=30)
    step = retention.purge_batch(store, server, clock.now)
    assert (step.responses, step.responses_before) == (4, clock.now - 30 * DAY)
    assert not step.more()
    assert store.stored_response("resp_1") is None and store.response_upstream_key("resp_up") is None
    assert store.stored_response("resp_new") is not None
    forever = retention.purge_batch(store, ServerConfig(response_retention_days=0), clock.now + 999 * DAY)
    assert (forever.responses, forever.responses_before) == (0, None)
    assert isinstance(
        service(store, clock, response_retention_days=0).locate("resp_new", None), StoredResponse
    )


def test_purging_goes_in_small_batches(store: Store, clock: Clock) -> None:
    svc = service(store, clock)
    for n in range(retention.RESPONSE_PURGE_BATCH + 5):
        save(svc, f"resp_{n}", "Hi.", [user_message("Hi")])
    svc.close()
    server = ServerConfig(response_retention_days=1)
    first = retention.purge_batch(store, server, T0 + 2 * DAY)
    assert first.responses == retention.RESPONSE_PURGE_BATCH and first.more()
    second = retention.purge_batch(store, server, T0 + 2 * DAY)
    assert second.responses == 5 and not second.more()
    purged = retention.purge(store, CLI, server, T0 + 2 * DAY)
    assert purged.responses == 0 and purged.responses_before == T0 + DAY


# -- the migration -------------------------------------------------------------------------------------


def test_m011_on_a_database_of_the_version_before(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as conn:
        db = sqlite_utils.Database(conn)
        migrations.apply(db, stop_before="m011_stored_responses")
        conn.execute(
            "INSERT INTO users (name, role, created_at, updated_at) VALUES ('ada', 'user', 1.0, 1.0)"
        )
        conn.commit()
        assert "stored_responses" not in db.table_names()
    with Store.open(path) as store:
        with closing(sqlite3.connect(path)) as conn:
            applied = [m.name for m in migrations.applied(sqlite_utils.Database(conn))]
        assert "m011_stored_responses" in applied
        svc = StoredResponses(store, ServerConfig(), writer=ResponseWriter(store), clock=Clock())
        save(svc, "resp_1", "Hello.", [user_message("Hi")], user=1)
        svc.close()
        assert store.stored_response("resp_1") is not None
    with Store.open_read_only(path) as readonly:  # what `llmgw db check` reads
        health = readonly.health()
    assert health.problems == [] and health.pending == () and health.integrity == ("ok",)
