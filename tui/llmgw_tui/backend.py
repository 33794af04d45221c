"""The one object the screens call: the configuration, the open database and the acting
administrator, with a clock (tests freeze it). Every method is a use case of `llmgw.services` and
blocks on the database or the keyring: screens call them from worker threads, never on the UI's."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from llmgw.errors import SecretBackendUnavailable
from llmgw.services import audit, credentials, usage
from llmgw.services import key_states as key_state_cases
from llmgw.services import keys as key_cases
from llmgw.services import limits as limit_cases
from llmgw.services import model_access as access_cases
from llmgw.services import request_log as log_cases
from llmgw.services import users as user_cases
from llmgw.services.audit import Actor
from llmgw.services.database import Store, is_server, open_store
from llmgw.services.keys import Key, KeyChange, NewKey
from llmgw.services.users import DeletedUser, Role, User, UserChange
from llmgw.settings import Config, ProviderConfig, with_implicit_providers


@dataclass(frozen=True, slots=True)
class ProviderKeys:
    secrets: list[credentials.SecretInfo]  # the keyring's (when readable) and this environment's, masked
    states: key_state_cases.PublishedStates
    keyring_problem: SecretBackendUnavailable | None


class Backend:
    """The terminal admin acts as the local administrator (`cli:<login>`, as the `llmgw` commands do):
    whoever can open the database file can change it anyway."""

    def __init__(
        self,
        config: Config,
        *,
        config_path: str | None = None,
        actor: Actor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.actor = Actor.cli() if actor is None else actor
        self.clock = clock
        self._store: Store | None = None

    # -- the database ---------------------------------------------------------------------------------

    @property
    def database(self) -> str:
        return self.config.server.database

    @property
    def config_hint(self) -> str:
        """What to add to an `llmgw` command for it to use this configuration."""
        return f" --config {self.config_path}" if self.config_path else ""

    def database_exists(self) -> bool:
        """A SQLite file there; a PostgreSQL database always counts (its administrator created it; the
        first open applies the schema, as `llmgw serve` does, and a server out of reach is a problem
        the first use case reports)."""
        return is_server(self.database) or Path(self.database).exists()

    def store(self) -> Store:
        """The database, opened (created and migrated if needed) on first use."""
        if self._store is None:
            self._store = open_store(self.config)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- users ---------------------------------------------------------------------------------------

    def users(self) -> list[User]:
        return user_cases.list_users(self.store(), self.actor)

    def has_active_admin(self) -> bool:
        return any(u.role == "admin" and not u.disabled for u in self.users())

    def create_user(self, name: str, password: str, role: Role) -> User:
        return user_cases.create_user(self.store(), self.actor, name, password, role=role)

    def set_disabled(self, name: str, disabled: bool) -> UserChange:
        change = user_cases.disable_user if disabled else user_cases.enable_user
        return change(self.store(), self.actor, name)

    def reset_password(self, name: str, password: str) -> User:
        return user_cases.set_password(self.store(), self.actor, name, password)

    def set_role(self, name: str, role: Role) -> UserChange:
        return user_cases.set_role(self.store(), self.actor, name, role)

    def set_key_creation(self, name: str, allowed: bool) -> UserChange:
        return user_cases.set_key_creation(self.store(), self.actor, name, allowed=allowed)

    def delete_user(self, name: str) -> DeletedUser:
        return user_cases.delete_user(self.store(), self.actor, name)

    # -- keys ----------------------------------------------------------------------------------------

    def keys(self, owner: str | None = None) -> list[Key]:
        return key_cases.list_keys(self.store(), self.actor, owner, now=self.clock())

    def create_key(
        self, owner: str, name: str | None, expires_days: int | None, models: list[str] | None = None
    ) -> NewKey:
        """A key for `owner`; `models`: the patterns it may call (None or empty: any its owner may)."""
        expires = timedelta(days=expires_days) if expires_days else None
        return key_cases.create_key(self.store(), self.actor, owner, name, expires, models=models or None)

    # -- model access --------------------------------------------------------------------------------

    def set_model_access(self, ref: str, patterns: list[str]) -> access_cases.AccessChange:
        """Replace a user's or key's list of the models it may call; an empty list lifts it."""
        if not patterns:
            return access_cases.clear_access(self.store(), self.actor, ref)
        return access_cases.set_access(self.store(), self.actor, ref, patterns)

    def revoke_key(self, public_id: str) -> KeyChange:
        return key_cases.revoke_key(self.store(), self.actor, public_id)

    # -- usage ---------------------------------------------------------------------------------------

    def activity(self, buckets: int, width: int) -> list[usage.ActivityBucket]:
        return usage.activity(self.store(), self.actor, buckets=buckets, width=width, now=self.clock())

    def live_tail(self, limit: int) -> list[usage.LiveRequest]:
        return usage.live_tail(self.store(), self.actor, limit)

    def report(self, since: float | None, by: usage.GroupBy | None) -> usage.UsageReport:
        """From the hourly rollups: whole UTC hours, never the raw rows."""
        return usage.report(self.store(), self.actor, since=since, until=None, by=by)

    def series(self, since: float, grain: usage.Grain) -> list[usage.SeriesPoint]:
        return usage.series(self.store(), self.actor, since=since, until=self.clock(), grain=grain)

    # -- the request log -----------------------------------------------------------------------------

    def request_log(self, f: log_cases.LogFilter, after: str | None) -> log_cases.LogPage:
        return log_cases.search(self.store(), self.actor, f, after=after)

    def request(self, request_id: str) -> log_cases.RequestDetail:
        return log_cases.find(self.store(), self.actor, request_id)

    def write_request_csv(self, path: Path, f: log_cases.LogFilter) -> log_cases.CsvExport:
        """The filtered requests as CSV at `path` (the layout and cap of every front end's export)."""
        export = log_cases.export_csv(self.store(), self.actor, f)
        path.write_bytes(export.text.encode("utf-8"))
        return export

    # -- limits --------------------------------------------------------------------------------------

    def limits(self) -> list[limit_cases.LimitUse]:
        """Every limit with its subject's spend against the budget."""
        return limit_cases.limits_with_spend(self.store(), self.actor, now=self.clock())

    def set_limits(
        self,
        ref: str,
        *,
        rpm: int | limit_cases.Keep | None = limit_cases.KEEP,
        tpm: int | limit_cases.Keep | None = limit_cases.KEEP,
        budget_usd: float | limit_cases.Keep | None = limit_cases.KEEP,
        period: str | limit_cases.Keep = limit_cases.KEEP,
    ) -> limit_cases.LimitChange:
        """Change only the values given (KEEP: as stored; None: removed)."""
        return limit_cases.set_limits(
            self.store(), self.actor, ref, rpm=rpm, tpm=tpm, budget_usd=budget_usd, period=period
        )

    def clear_limits(self, ref: str) -> limit_cases.LimitChange:
        return limit_cases.clear_limits(self.store(), self.actor, ref)

    # -- the audit log -------------------------------------------------------------------------------

    def audit(self, since: float | None) -> list[audit.AuditEntry]:
        return audit.entries(self.store(), self.actor, since)

    # -- providers and their secrets (the OS keyring) ------------------------------------------------

    def providers(self) -> dict[str, ProviderConfig]:
        return dict(self.config.providers)

    def secrets(self) -> list[credentials.SecretInfo]:
        """The keyring's secrets and the environment's in effect, masked. Raises
        SecretBackendUnavailable without a keyring."""
        names = list(self.config.providers)
        return credentials.effective_secrets(credentials.list_secrets(names), credentials.env_secrets(names))

    def key_states(self) -> key_state_cases.PublishedStates:
        """The upstream keys' states as the running server last published them."""
        return key_state_cases.published_states(self.store(), self.actor)

    def provider_keys(self) -> ProviderKeys:
        """What the Providers screen shows: the keys this terminal sees and the states the server
        published. An unreadable keyring does not hide the rest: the environment's keys and the
        published states are still read, the keyring's problem returned beside them."""
        names = list(with_implicit_providers(self.config).providers)
        try:
            stored, problem = credentials.list_secrets(names), None
        except SecretBackendUnavailable as exc:
            stored, problem = [], exc
        secrets = credentials.effective_secrets(stored, credentials.env_secrets(names))
        return ProviderKeys(secrets, self.key_states(), problem)

    def set_secret(self, name: str, value: str) -> None:
        """Store (or rotate) a secret in the keyring, then audit it (its name, never the value)."""
        credentials.set_secret(name, value)
        self._audit_secret(name, "set")

    def delete_secret(self, name: str) -> bool:
        existed = credentials.delete_secret(name)
        if existed:
            self._audit_secret(name, "deleted")
        return existed

    def _audit_secret(self, name: str, change: Literal["set", "deleted"]) -> None:
        audit.record_secret_change(self.store(), self.actor, name, change)
