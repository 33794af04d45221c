"""The account use cases (llmgw.services.users, .keys, .audit) against a real Store: permissions, the
last-admin guard, states, cascades, and an audit entry in the same transaction as each change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from llmgw.errors import AccountNotFound, AccountRuleViolation, InvalidAccountInput, PermissionDenied
from llmgw.services import audit, keys, passwords, tokens, users
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.support import raw_db

pytestmark = pytest.mark.usefixtures("fast_hashes")

PW = "a long enough password"
CLI = Actor.cli()


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    with Store.open(database) as s:
        yield s


def audit_rows(store: Store) -> list[tuple[object, ...]]:
    return raw_db.rows(
        store,
        "SELECT actor_user_id, actor_name, action, target_type, target_id, target_name, client_address, "
        "detail FROM audit_log ORDER BY id",
    )


def as_user(store: Store, name: str, address: str | None = "192.0.2.7") -> Actor:
    user = next(u for u in users.list_users(store, CLI) if u.name == name)
    return Actor.user(user.id, user.name, address)


def test_cli_actor_is_named_after_the_os_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    assert Actor.cli() == Actor(name="cli:ops", user_id=None, client_address=None)


def test_create_user_and_its_audit_entry(store: Store) -> None:
    ada = users.create_user(store, CLI, "ada", PW, role="admin")
    assert (ada.name, ada.role, ada.state) == ("ada", "admin", "active")
    assert audit_rows(store) == [
        (None, CLI.name, "user.created", "user", str(ada.id), "ada", None, "role admin")
    ]
    with pytest.raises(AccountRuleViolation, match="already exists"):
        users.create_user(store, CLI, "ADA", PW)  # names compare without regard to case
    with pytest.raises(InvalidAccountInput, match="invalid user name"):
        users.create_user(store, CLI, "cli:root", PW)
    with pytest.raises(InvalidAccountInput, match="too short"):
        users.create_user(store, CLI, "bob", "short")
    assert len(audit_rows(store)) == 1


def test_only_admins_manage_users(store: Store) -> None:
    users.create_user(store, CLI, "ada", PW, role="admin")
    users.create_user(store, CLI, "bob", PW)
    bob = as_user(store, "bob")
    for attempt in (
        lambda: users.create_user(store, bob, "eve", PW),
        lambda: users.list_users(store, bob),
        lambda: users.disable_user(store, bob, "ada"),
        lambda: users.set_role(store, bob, "bob", "admin"),
        lambda: users.delete_user(store, bob, "ada"),
        lambda: users.set_password(store, bob, "ada", "another password!"),
        lambda: audit.entries(store, bob),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    ada = as_user(store, "ada")
    users.create_user(store, ada, "eve", PW)
    rows = audit_rows(store)
    assert rows[-1][:3] == (ada.user_id, "ada", "user.created") and rows[-1][6] == "192.0.2.7"


def test_a_disabled_or_deleted_actor_has_no_rights_left(store: Store) -> None:
    users.create_user(store, CLI, "ada", PW, role="admin")
    users.create_user(store, CLI, "root", PW, role="admin")
    ada = as_user(store, "ada")
    users.disable_user(store, CLI, "ada")
    with pytest.raises(PermissionDenied, match="no longer an active user"):
        users.list_users(store, ada)
    users.delete_user(store, CLI, "ada")
    with pytest.raises(PermissionDenied):
        keys.list_keys(store, ada)


def test_the_last_active_admin_stays(store: Store) -> None:
    users.create_user(store, CLI, "ada", PW, role="admin")
    for attempt in (
        lambda: users.disable_user(store, CLI, "ada"),
        lambda: users.delete_user(store, CLI, "ada"),
        lambda: users.set_role(store, CLI, "ada", "user"),
    ):
        with pytest.raises(AccountRuleViolation, match="last active administrator"):
            attempt()
    users.create_user(store, CLI, "grace", PW)
    assert users.set_role(store, CLI, "grace", "admin").changed
    assert users.set_role(store, CLI, "ada", "user").changed  # grace remains
    with pytest.raises(AccountRuleViolation):
        users.disable_user(store, as_user(store, "grace"), "grace")
    assert audit_rows(store)[-1][2:] == ("user.role_changed", "user", "1", "ada", None, "admin -> user")


def test_disable_enable_are_idempotent_and_audited_once(store: Store) -> None:
    users.create_user(store, CLI, "bob", PW)
    assert users.disable_user(store, CLI, "bob").changed
    again = users.disable_user(store, CLI, "bob")
    assert not again.changed and again.user.state == "disabled"
    assert users.enable_user(store, CLI, "bob").changed
    assert not users.enable_user(store, CLI, "bob").changed
    assert not users.set_role(store, CLI, "bob", "user").changed
    assert [r[2] for r in audit_rows(store)] == ["user.created", "user.disabled", "user.enabled"]
    with pytest.raises(AccountNotFound, match="no user 'nobody'"):
        users.disable_user(store, CLI, "nobody")


def test_passwords_own_with_the_current_one_others_by_an_admin(store: Store) -> None:
    users.create_user(store, CLI, "ada", PW, role="admin")
    users.create_user(store, CLI, "bob", PW)
    bob = as_user(store, "bob")
    with pytest.raises(PermissionDenied, match="current password is wrong"):
        users.set_password(store, bob, "bob", "bob's new password", current_password="wrong")
    with pytest.raises(PermissionDenied, match="current password is wrong"):
        users.set_password(store, bob, "bob", "bob's new password")
    users.set_password(store, bob, "bob", "bob's new password", current_password=PW)
    assert users.authenticate(store, "bob", "bob's new password", None) is not None
    users.set_password(store, as_user(store, "ada"), "bob", "reset by ada!!")
    users.set_password(store, CLI, "bob", "reset by the cli")
    assert [r[2] for r in audit_rows(store)][-4:] == [
        "user.password_changed",
        "login.success",
        "user.password_reset",
        "user.password_reset",
    ]


def add_session(store: Store, user_id: int) -> None:
    with raw_db.connection(store) as conn:
        conn.execute(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at) "
            "VALUES (?, ?, 'c', 0, 0)",
            (f"s{time.monotonic_ns()}", user_id),
        )


def count(store: Store, table: str) -> int:
    n: int = raw_db.rows(store, f"SELECT COUNT(*) FROM {table}")[0][0]
    return n


def test_sessions_end_on_disable_and_password_change_and_cascade_on_delete(store: Store) -> None:
    bob = users.create_user(store, CLI, "bob", PW)
    add_session(store, bob.id)
    users.disable_user(store, CLI, "bob")
    assert count(store, "sessions") == 0
    add_session(store, bob.id)
    users.set_password(store, CLI, "bob", "another password")
    assert count(store, "sessions") == 0
    users.enable_user(store, CLI, "bob")
    keys.create_key(store, CLI, "bob", "laptop")
    keys.create_key(store, CLI, "bob", "ci")
    add_session(store, bob.id)
    assert users.delete_user(store, CLI, "bob") == users.DeletedUser("bob", 2)
    assert (count(store, "users"), count(store, "api_keys"), count(store, "sessions")) == (0, 0, 0)
    assert audit_rows(store)[-1][2:] == ("user.deleted", "user", str(bob.id), "bob", None, "with 2 key(s)")


def test_a_failing_audit_write_rolls_the_change_back(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    users.create_user(store, CLI, "bob", PW)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "write", broken)
    with pytest.raises(RuntimeError):
        users.disable_user(store, CLI, "bob")
    with pytest.raises(RuntimeError):
        keys.create_key(store, CLI, "bob")
    assert users.list_users(store, CLI)[0].state == "active"
    assert count(store, "api_keys") == 0


def test_keys_token_shown_once_only_the_hash_stored(store: Store) -> None:
    users.create_user(store, CLI, "bob", PW)
    new = keys.create_key(store, CLI, "bob", "laptop", timedelta(days=30))
    parsed = tokens.parse(new.token)
    assert parsed is not None and parsed.public_id == new.key.public_id
    assert (new.key.name, new.key.owner, new.key.state) == ("laptop", "bob", "active")
    assert new.key.expires_at == pytest.approx(new.key.created_at + 30 * 86400)
    store.close()
    if store.postgres:  # every value of every table, as text
        tables = [
            r[0] for r in raw_db.rows(store, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        raw = "".join(str(raw_db.rows(store, f"SELECT * FROM {t}")) for t in tables).encode()
    else:
        raw = b"".join(f.read_bytes() for f in store.path.parent.glob(f"{store.path.name}*"))
    assert parsed.secret.encode() not in raw and new.token.encode() not in raw
    assert tokens.hash_secret(parsed.secret).encode() in raw


def test_key_rules(store: Store) -> None:
    users.create_user(store, CLI, "ada", PW, role="admin")
    users.create_user(store, CLI, "bob", PW)
    users.create_user(store, CLI, "eve", PW)
    bob, eve = as_user(store, "bob"), as_user(store, "eve")
    mine = keys.create_key(store, bob, "bob")
    assert mine.key.name == "default"
    with pytest.raises(PermissionDenied, match="only their own keys"):
        keys.create_key(store, bob, "eve")
    with pytest.raises(PermissionDenied):
        keys.list_keys(store, bob, "eve")
    theirs = keys.create_key(store, as_user(store, "ada"), "eve", "by ada")
    assert [k.owner for k in keys.list_keys(store, CLI)] == ["bob", "eve"]
    assert [k.owner for k in keys.list_keys(store, bob)] == ["bob"]
    assert [k.owner for k in keys.list_keys(store, CLI, "eve")] == ["eve"]
    with pytest.raises(AccountNotFound, match=f"no key '{theirs.key.public_id}'"):
        keys.revoke_key(store, bob, theirs.key.public_id)  # someone else's: not even confirmed
    assert keys.revoke_key(store, eve, theirs.key.public_id).changed
    with pytest.raises(AccountNotFound, match="no user 'nobody'"):
        keys.create_key(store, CLI, "nobody")
    with pytest.raises(InvalidAccountInput, match="expiry"):
        keys.create_key(store, CLI, "bob", expires_in=timedelta(0))
    with pytest.raises(InvalidAccountInput, match="key name"):
        keys.create_key(store, CLI, "bob", "tab\there")


def test_key_for_a_disabled_user_is_refused_and_states(store: Store) -> None:
    users.create_user(store, CLI, "bob", PW)
    short = keys.create_key(store, CLI, "bob", "short", timedelta(days=1))
    kept = keys.create_key(store, CLI, "bob", "kept")
    users.disable_user(store, CLI, "bob")
    with pytest.raises(AccountRuleViolation, match="disabled"):
        keys.create_key(store, CLI, "bob")
    assert [k.state for k in keys.list_keys(store, CLI)] == ["owner-disabled", "owner-disabled"]
    later = time.time() + 2 * 86400
    assert [k.state for k in keys.list_keys(store, CLI, now=later)] == ["expired", "owner-disabled"]
    users.enable_user(store, CLI, "bob")
    keys.revoke_key(store, CLI, str(kept.key.id))
    assert [k.state for k in keys.list_keys(store, CLI)] == ["active", "revoked"]
    assert short.key.public_id != kept.key.public_id


def test_revoke_by_public_id_number_or_token_and_twice(store: Store) -> None:
    users.create_user(store, CLI, "bob", PW)
    a, b, c = (keys.create_key(store, CLI, "bob", n) for n in ("a", "b", "c"))
    assert keys.revoke_key(store, CLI, a.key.public_id).changed
    assert keys.revoke_key(store, CLI, str(b.key.id)).changed
    assert keys.revoke_key(store, CLI, c.token).changed
    second = keys.revoke_key(store, CLI, a.key.public_id)
    assert not second.changed and second.key.state == "revoked"
    revoked = [r for r in audit_rows(store) if r[2] == "key.revoked"]
    assert [r[4] for r in revoked] == [a.key.public_id, b.key.public_id, c.key.public_id]
    with pytest.raises(AccountNotFound):
        keys.revoke_key(store, CLI, "0123456789abcdef")
    with pytest.raises(AccountNotFound):
        keys.revoke_key(store, CLI, "999")
    with pytest.raises(InvalidAccountInput):
        keys.revoke_key(store, CLI, "llmgw-not-a-token")


def test_authenticate(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    users.create_user(store, CLI, "bob", PW)
    users.create_user(store, CLI, "eve", PW)
    users.disable_user(store, CLI, "eve")
    seen: list[str | None] = []
    real = passwords.verify_password

    def spy(password_hash: str | None, password: str) -> bool:
        seen.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    assert users.authenticate(store, "BOB", PW, "198.51.100.1") is not None
    assert users.authenticate(store, "bob", "wrong password", "198.51.100.2") is None
    assert users.authenticate(store, PW, PW, "198.51.100.3") is None  # a password typed as the name
    assert users.authenticate(store, "eve", PW, "198.51.100.4") is None
    # Every attempt, the unknown name included, verified a hash through the same function.
    assert len(seen) == 4 and seen[2] is None and all(h is not None for i, h in enumerate(seen) if i != 2)
    logins = [r for r in audit_rows(store) if r[2].startswith("login")]
    assert logins == [
        (1, "bob", "login.success", "user", "1", "bob", "198.51.100.1", None),
        (None, "anonymous", "login.failure", "user", "1", "bob", "198.51.100.2", "wrong password"),
        (None, "anonymous", "login.failure", None, None, None, "198.51.100.3", "unknown user name"),
        (None, "anonymous", "login.failure", "user", "2", "eve", "198.51.100.4", "user disabled"),
    ]


def test_login_rehashes_a_hash_with_old_parameters(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    users.create_user(store, CLI, "bob", PW)
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=2, memory_cost=8, parallelism=1))
    assert users.authenticate(store, "bob", PW, None) is not None
    with store.accounts(write=False) as accounts:
        stored = accounts.password_hash(1)
    assert stored is not None and "t=2" in stored and not passwords.needs_rehash(stored)


def test_no_secret_ever_reaches_the_audit_log(store: Store) -> None:
    users.create_user(store, CLI, "ada", PW, role="admin")
    users.create_user(store, CLI, "bob", "bob's first password")
    users.set_password(store, CLI, "bob", "bob's second password")
    new = keys.create_key(store, CLI, "bob")
    keys.revoke_key(store, CLI, new.token)
    users.authenticate(store, "bob", "a wrong guess here", None)
    users.authenticate(store, "bob's third password", "x", None)
    audit.record_secret_change(store, CLI, "openai", "set")
    text = repr(audit_rows(store))
    parsed = tokens.parse(new.token)
    assert parsed is not None
    for secret in (PW, "bob's first", "bob's second", "a wrong guess", "bob's third", parsed.secret):
        assert secret not in text


def test_provider_secret_changes_are_audited(store: Store) -> None:
    audit.record_secret_change(store, CLI, "openai.2", "set")
    audit.record_secret_change(store, CLI, "proxy-key", "deleted")
    entries = audit.entries(store, CLI)
    assert [(e.actor, e.action, e.target_type, e.target) for e in entries] == [
        (CLI.name, "provider_secret.set", "secret", "openai.2"),
        (CLI.name, "provider_secret.deleted", "secret", "proxy-key"),
    ]
    assert audit.entries(store, CLI, since=time.time() + 60) == []


def test_a_password_never_lands_on_a_user_who_took_a_deleted_users_id(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between reading bob and writing his new hash (the slow hash runs outside any transaction), bob
    is deleted and eve created: SQLite gives her bob's id. The change must not reach her."""
    bob = users.create_user(store, CLI, "bob", PW)
    real = passwords.hash_password

    def meanwhile(password: str) -> str:
        with raw_db.connection(store) as conn:
            conn.execute("DELETE FROM users WHERE id = ?", (bob.id,))
            conn.execute(
                "INSERT INTO users (id, name, role, password_hash, created_at, updated_at) "
                "VALUES (?, 'eve', 'user', 'eve-hash', 1, 1)",
                (bob.id,),
            )
        return real(password)

    monkeypatch.setattr(passwords, "hash_password", meanwhile)
    with pytest.raises(AccountNotFound, match="no user 'bob'"):
        users.set_password(store, CLI, "bob", "a new password here")
    with store.accounts(write=False) as accounts:
        assert accounts.password_hash(bob.id) == "eve-hash"
