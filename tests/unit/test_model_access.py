"""Model access (services/model_patterns.py, services/model_access.py): the patterns and how they match,
a key's access as its user's list intersected with its own, bad patterns refused with a message that
names them, the use cases' rights and audit entries, and the key index carrying both lists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from llmgw.errors import AccountNotFound, InvalidAccountInput, ModelNotAllowed, PermissionDenied
from llmgw.relay.access import permitted
from llmgw.relay.catalog import Target
from llmgw.services import audit, keys, model_access, users
from llmgw.services.audit import Actor
from llmgw.services.key_index import KeyIndex
from llmgw.services.model_patterns import UNRESTRICTED, ModelAccess, check_patterns, matches
from llmgw.services.tokens import parse
from llmgw.storage import Store
from tests.support import raw_db

CLI = Actor.cli()


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("openai/gpt-4o-mini", "openai/gpt-4o-mini", True),
        ("openai/gpt-4o-mini", "openai/gpt-4o-mini-2024", False),  # whole names only
        ("openai/gpt-4o-mini", "OpenAI/gpt-4o-mini", False),  # case counts
        ("openai/*", "openai/gpt-4o", True),
        ("openai/*", "openai/", True),
        ("openai/*", "openaix/gpt-4o", False),
        ("openai/*", "openrouter/openai/gpt-4o", False),
        ("openrouter/*", "openrouter/openai/gpt-4o", True),  # `*` crosses `/`
        ("anthropic/claude-*", "anthropic/claude-sonnet-4-5", True),
        ("anthropic/claude-*", "anthropic/haiku", False),
        ("*-mini", "openai/gpt-4o-mini", True),
        ("openrouter/*:free", "openrouter/meta-llama/llama-3.1-405b-instruct:free", True),
        ("openrouter/*:free", "openrouter/meta-llama/llama-3.1-405b-instruct", False),
        ("smart", "smart", True),
        ("smart", "smarter", False),
        ("a.b/c+d", "a.b/c+d", True),  # regex characters are literal
        ("a.b/*", "axb/c", False),
        ("*", "anything/at-all", True),
    ],
)
def test_glob_matching(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ([], "at least one model pattern"),
        (["  ", ""], "at least one model pattern"),
        (["open ai/*"], "'open ai/*' contains whitespace"),
        (["openai/gpt-4?"], "'openai/gpt-4?' contains '?'"),
        (["openai/[ab]"], "contains '['"),
        (["openai/{a,b}"], "contains '{'"),
        (["openai/\x00x"], "contains '\\x00'"),
        (["/gpt-4o"], "starts or ends with `/`"),
        (["openai/"], "starts or ends with `/`"),
        (["x" * 257], "longer than 256 characters"),
        ([f"p/{i}" for i in range(101)], "at most 100 model patterns"),
    ],
)
def test_bad_patterns_are_refused_naming_them(patterns: list[str], message: str) -> None:
    with pytest.raises(InvalidAccountInput) as caught:
        check_patterns(patterns)
    assert message in str(caught.value)


def test_patterns_are_stripped_and_repeats_dropped_in_order() -> None:
    assert check_patterns([" openai/* ", "smart", "openai/*", ""]) == ("openai/*", "smart")


def test_access_is_the_intersection_of_the_users_and_the_keys() -> None:
    both = ModelAccess(user=("openai/*", "smart"), key=("openai/gpt-4o-mini", "anthropic/*"))
    assert both.allows("openai/gpt-4o-mini")
    assert not both.allows("openai/gpt-4o")  # the user's allows it, the key's does not
    assert not both.allows("anthropic/claude-sonnet-4-5")  # the key's allows it, the user's does not
    assert not both.allows("smart")
    only_user = ModelAccess(user=("openai/*",))
    assert only_user.allows("openai/o3") and not only_user.allows("anthropic/x")
    only_key = ModelAccess(key=("anthropic/*",))
    assert only_key.allows("anthropic/x") and not only_key.allows("openai/o3")
    assert not UNRESTRICTED.restricted and UNRESTRICTED.allows("anything/at-all")
    assert both.restricted and only_key.restricted


SMART = (Target("oai", "gpt-4o-mini"), Target("backup", "gpt-4o-mini"))


def test_an_alias_by_its_name_keeps_every_target_else_only_the_allowed_ones() -> None:
    by_name = ModelAccess(key=("smart",))
    assert permitted(by_name, "smart", SMART, alias=True) == SMART
    through_fallback = ModelAccess(key=("backup/*",))
    assert permitted(through_fallback, "smart", SMART, alias=True) == (SMART[1],)
    with pytest.raises(ModelNotAllowed) as caught:
        permitted(ModelAccess(key=("ant/*",)), "smart", SMART, alias=True)
    assert caught.value.status == 403 and caught.value.code == "model_not_allowed"
    assert "`smart`" in caught.value.message and caught.value.param == "model"
    # each list reaches targets by the alias's name or by theirs; the targets tried are those both reach
    mixed = ModelAccess(user=("smart",), key=("backup/*",))
    assert permitted(mixed, "smart", SMART, alias=True) == (SMART[1],)
    assert (
        ModelAccess(user=("oai/*",), key=("backup/*",)).alias_targets("smart", [t.name for t in SMART]) == []
    )
    # a name that only matches an alias's name does not reach the alias's target by another name
    with pytest.raises(ModelNotAllowed):
        permitted(by_name, "oai/gpt-4o-mini", (SMART[0],), alias=False)


def test_a_bare_name_is_checked_as_the_provider_model_it_routes_to() -> None:
    access = ModelAccess(user=("oai/*",))
    assert permitted(access, "gpt-4o-mini", (SMART[0],), alias=False) == (SMART[0],)
    with pytest.raises(ModelNotAllowed) as caught:
        permitted(ModelAccess(user=("ant/*",)), "gpt-4o-mini", (SMART[0],), alias=False)
    assert "`gpt-4o-mini` (`oai/gpt-4o-mini`)" in caught.value.message
    assert permitted(UNRESTRICTED, "anything", (SMART[0],), alias=False) == (SMART[0],)


# -- the use cases --------------------------------------------------------------------------------


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    with Store.open(database) as s:
        users.create_user(s, CLI, "root", "correct horse battery staple", role="admin")
        users.create_user(s, CLI, "ada", "correct horse battery staple")
        users.create_user(s, CLI, "bob", "correct horse battery staple")
        yield s


def actor(store: Store, name: str) -> Actor:
    found = next(u for u in users.list_users(store, CLI) if u.name == name)
    return Actor.user(found.id, found.name)


def audit_of(store: Store, action: str) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(store, CLI) if e.action == action]


def test_set_list_clear_a_users_and_a_keys_access_with_audit(store: Store) -> None:
    key = keys.create_key(store, CLI, "ada", "laptop").key
    change = model_access.set_access(store, CLI, "ada", ["openai/*", "smart"])
    assert change.changed and change.access.patterns == ("openai/*", "smart")
    assert model_access.set_access(store, CLI, "ada", ["openai/*", "smart"]).changed is False
    on_key = model_access.set_access(store, CLI, key.public_id, ["openai/gpt-4o-mini"])
    assert on_key.access.scope == "key" and on_key.access.owner == "ada"
    assert on_key.access.owner_patterns == ("openai/*", "smart")  # what also binds it
    listed = model_access.list_access(store, CLI)
    assert [(a.scope, a.subject, a.patterns) for a in listed] == [
        ("user", "ada", ("openai/*", "smart")),
        ("key", key.public_id, ("openai/gpt-4o-mini",)),
    ]
    (bob,) = model_access.list_access(store, CLI, "bob")
    assert bob.patterns is None and bob.shown == "any model"
    (entry,) = [e for e in audit_of(store, audit.MODEL_ACCESS_SET) if e.target_type == "key"]
    assert entry.target == key.public_id and entry.detail == "openai/gpt-4o-mini"
    user_entries = [e for e in audit_of(store, audit.MODEL_ACCESS_SET) if e.target_type == "user"]
    assert [e.detail for e in user_entries] == ["openai/*, smart"]  # the unchanged set wrote nothing
    assert model_access.clear_access(store, CLI, "ada").changed
    assert model_access.clear_access(store, CLI, "ada").changed is False
    (cleared,) = audit_of(store, audit.MODEL_ACCESS_CLEARED)
    assert cleared.target == "ada" and cleared.actor.startswith("cli:")
    assert [a.subject for a in model_access.list_access(store, CLI)] == [key.public_id]


def test_only_administrators_and_known_subjects(store: Store) -> None:
    ada = actor(store, "ada")
    with pytest.raises(PermissionDenied):
        model_access.set_access(store, ada, "ada", ["openai/*"])
    with pytest.raises(PermissionDenied):
        model_access.list_access(store, ada)
    with pytest.raises(PermissionDenied):
        keys.create_key(store, ada, "ada", "mine", models=["openai/*"])  # a user cannot restrict (or not)
    with pytest.raises(AccountNotFound, match="no user or key 'nobody'"):
        model_access.set_access(store, CLI, "nobody", ["openai/*"])
    with pytest.raises(InvalidAccountInput, match="contains whitespace"):
        model_access.set_access(store, CLI, "ada", ["open ai"])
    assert model_access.set_access(store, actor(store, "root"), "bob", ["x/*"]).changed
    assert not audit_of(store, audit.KEY_CREATED)  # the refused creation left no key


def test_a_key_created_with_its_models_in_one_transaction(store: Store) -> None:
    new = keys.create_key(store, CLI, "ada", "ci", timedelta(days=7), models=["anthropic/claude-*"])
    assert new.key.model_access == ("anthropic/claude-*",)
    actions = [e.action for e in audit.entries(store, CLI) if e.target_id == new.key.public_id]
    assert actions == [audit.KEY_CREATED, audit.MODEL_ACCESS_SET]
    with pytest.raises(InvalidAccountInput):
        keys.create_key(store, CLI, "ada", "bad", models=["a b"])
    assert [k.name for k in keys.list_keys(store, CLI, "ada")] == ["ci"]  # nothing half-made


def test_the_key_index_carries_both_lists(store: Store, tmp_path: Path) -> None:
    new = keys.create_key(store, CLI, "ada", "laptop")
    model_access.set_access(store, CLI, "ada", ["openai/*"])
    model_access.set_access(store, CLI, new.key.public_id, ["openai/gpt-4o-mini"])
    index = KeyIndex(store)
    index.load()
    token = parse(new.token)
    assert token is not None
    principal = index.identify(token)
    assert not isinstance(principal, str)
    assert principal.access == ModelAccess(("openai/*",), ("openai/gpt-4o-mini",))
    # another process clears the user's list: the next refresh sees it
    with raw_db.connection(store) as conn:
        conn.execute("UPDATE users SET model_access = NULL WHERE name = 'ada'")
    assert index.refresh()
    principal = index.identify(token)
    assert not isinstance(principal, str) and principal.access == ModelAccess(None, ("openai/gpt-4o-mini",))


def test_deleting_a_user_takes_their_lists_along(store: Store) -> None:
    key = keys.create_key(store, CLI, "ada", "laptop").key
    model_access.set_access(store, CLI, "ada", ["openai/*"])
    model_access.set_access(store, CLI, key.public_id, ["openai/*"])
    users.delete_user(store, CLI, "ada")
    assert model_access.list_access(store, CLI) == []
