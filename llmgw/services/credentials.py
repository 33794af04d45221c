"""Upstream provider secrets: the OS keyring first, the environment as a fallback.

Secrets live in the OS keyring under service ``llmgw``, one entry per key, never in the database or the
config file, and never in a log line or an error message. Entry names ("secret names"):

    <provider>              first key of a provider (provider names match ``[a-z0-9_-]+``)
    <provider>.2, .3, ...   further keys, read in order up to the first missing index
    proxy-key               the legacy proxy key clients present to the gateway

keyring has no portable "list entries" call, so an index entry (``__index__``: a JSON list of names, never
values) is kept up to date by :func:`set_secret` and :func:`delete_secret`.

Environment fallback, used for a provider only when the keyring holds none of its keys (or there is no
keyring): ``LLMGW_<NAME>_API_KEY``, ``LLMGW_<NAME>_API_KEY_2``, ... and ``LLMGW_PROXY_KEY``, each also as
``…_FILE``, a file holding the value (`llmgw.settings.environment`: Docker/Kubernetes secrets, systemd
credentials); a secret read from a file is listed as such, masked like the others.

Every function here may block on D-Bus: call them at start-up or from a refresh thread, never per request.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import InitError, KeyringError, KeyringLocked, NoKeyringError

from llmgw.errors import ConfigError, SecretBackendUnavailable
from llmgw.providers import is_header_value
from llmgw.services.masking import mask_secret
from llmgw.settings.environment import FILE_SUFFIX, Environment, effective_environment

__all__ = [
    "BUDGET_ALERT_WEBHOOK_NAME",
    "KEYRING_BACKEND_ENV",
    "KEYRING_OFF",
    "NOT_PROVIDER_SECRETS",
    "PROXY_KEY_NAME",
    "SERVICE",
    "KeyringKeySource",
    "SecretBackendUnavailable",
    "SecretInfo",
    "check_provider_name",
    "check_proxy_key",
    "delete_secret",
    "effective_secrets",
    "env_secrets",
    "env_var_name",
    "has_secret",
    "keyring_turned_off",
    "list_secrets",
    "mask_secret",
    "parse_secret_name",
    "provider_keys",
    "proxy_key",
    "secret_name",
    "set_secret",
]

SERVICE = "llmgw"
PROXY_KEY_NAME = "proxy-key"
PROXY_KEY_ENV = "LLMGW_PROXY_KEY"
# The budget alerts' webhook URL (`[server] budget_alert_webhook`): a secret of its own, not a key.
BUDGET_ALERT_WEBHOOK_NAME = "budget-alert-webhook"
BUDGET_ALERT_WEBHOOK_ENV = "LLMGW_BUDGET_ALERT_WEBHOOK"
NOT_PROVIDER_SECRETS = (PROXY_KEY_NAME, BUDGET_ALERT_WEBHOOK_NAME)  # the gateway's own, not upstream keys
_INDEX_NAME = "__index__"
# keyring's own way to say "no keyring here": its variable naming its `fail` backend. The container image
# sets it (secrets come from the environment there), so the keyring's absence is no warning then.
KEYRING_BACKEND_ENV = "PYTHON_KEYRING_BACKEND"
KEYRING_OFF = "keyring.backends.fail.Keyring"
_PROVIDER_RE = re.compile(r"[a-z0-9_-]+")
_SECRET_RE = re.compile(r"(?P<provider>[a-z0-9_-]+)(?:\.(?P<index>[1-9][0-9]*))?")

logger = logging.getLogger("llmgw.credentials")
_index_lock = threading.Lock()  # serialises the index's read-modify-write within this process
_warn_lock = threading.Lock()
_warned_unavailable = False


@dataclass(frozen=True)
class SecretInfo:
    """One secret as `llmgw secret list` shows it: never the value, only a masked form."""

    name: str
    source: Literal["keyring", "env", "file"]  # "file": a `LLMGW_*_FILE` variable named the file
    masked: str


def _keyring() -> KeyringBackend:
    """The keyring backend in use; tests may monkeypatch this seam."""
    return keyring.get_keyring()


def check_provider_name(provider: str) -> str:
    """Return ``provider`` if it is a valid provider name, else raise ValueError."""
    if not _PROVIDER_RE.fullmatch(provider):
        raise ValueError(f"invalid provider name {provider!r}: use lower-case letters, digits, '_' and '-'")
    if provider in (*NOT_PROVIDER_SECRETS, _INDEX_NAME):
        raise ValueError(f"{provider!r} is reserved and cannot be used as a provider name")
    return provider


def secret_name(provider: str, index: int = 1) -> str:
    """The secret name of a provider's ``index``-th key: ``openai``, ``openai.2``, ..."""
    check_provider_name(provider)
    if index < 1:
        raise ValueError(f"key index must be 1 or more, got {index}")
    return provider if index == 1 else f"{provider}.{index}"


def parse_secret_name(name: str) -> tuple[str, int]:
    """Split a secret name into (provider, index); ``proxy-key`` gives (``"proxy-key"``, 1).

    Raises ValueError, with a message saying what is accepted, for any other shape.
    """
    if name in NOT_PROVIDER_SECRETS:
        return name, 1
    match = _SECRET_RE.fullmatch(name)
    if match is None:
        raise ValueError(
            f"invalid secret name {name!r}: expected '{PROXY_KEY_NAME}', '{BUDGET_ALERT_WEBHOOK_NAME}', "
            "'<provider>' or '<provider>.N' "
            "(N >= 2; provider names use lower-case letters, digits, '_' and '-')"
        )
    provider = check_provider_name(match["provider"])
    index = int(match["index"] or 1)
    if match["index"] is not None and index == 1:
        raise ValueError(f"invalid secret name {name!r}: the first key is called {provider!r}, not '.1'")
    return provider, index


def env_var_name(provider: str, index: int = 1) -> str:
    """The environment variable holding a provider's ``index``-th key (``LLMGW_MY_PROV_API_KEY_2``)."""
    check_provider_name(provider)
    if index < 1:
        raise ValueError(f"key index must be 1 or more, got {index}")
    base = "LLMGW_" + re.sub(r"[^A-Z0-9]", "_", provider.upper()) + "_API_KEY"
    return base if index == 1 else f"{base}_{index}"


def _env_hint(name: str | None) -> str:
    if name is None:
        return (
            "set LLMGW_<PROVIDER>_API_KEY (and _2, _3 … for more keys) "
            f"or {PROXY_KEY_ENV} in the environment instead (or …{FILE_SUFFIX}: a file holding it)"
        )
    provider, _ = parse_secret_name(name)
    if provider == PROXY_KEY_NAME:
        var = PROXY_KEY_ENV
    elif provider == BUDGET_ALERT_WEBHOOK_NAME:
        var = BUDGET_ALERT_WEBHOOK_ENV
    else:
        return (
            f"set {env_var_name(provider)} (and _2, _3 … for more keys) in the environment instead "
            f"(or {env_var_name(provider)}{FILE_SUFFIX}: a file holding it)"
        )
    return f"set {var} (or {var}{FILE_SUFFIX}: a file holding it) in the environment instead"


def _optional_error(module: str, attr: str) -> tuple[type[BaseException], ...]:
    # secretstorage / jeepney errors can escape keyring's SecretService backend when the bus goes away.
    try:
        error = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return ()
    return (error,) if isinstance(error, type) and issubclass(error, BaseException) else ()


_BACKEND_ERRORS: tuple[type[BaseException], ...] = (
    KeyringError,
    OSError,
    *_optional_error("secretstorage.exceptions", "SecretStorageException"),
    *_optional_error("jeepney.wrappers", "DBusErrorResponse"),
)


def keyring_turned_off() -> bool:
    """Whether the operator turned the OS keyring off (`PYTHON_KEYRING_BACKEND` names keyring's
    `fail` backend): secrets then come from the environment by design."""
    return os.environ.get(KEYRING_BACKEND_ENV, "").strip() == KEYRING_OFF


def _reason(exc: BaseException) -> str:
    if isinstance(exc, NoKeyringError):
        if keyring_turned_off():
            return f"turned off by {KEYRING_BACKEND_ENV}={KEYRING_OFF}"
        if sys.platform.startswith("linux") and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            return "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set"
        if sys.platform.startswith("linux"):
            return "no Secret Service (e.g. gnome-keyring) or KWallet answers on the D-Bus session bus"
        return "the keyring library found no usable backend"
    if isinstance(exc, KeyringLocked):
        return "the Secret Service collection is locked and could not be unlocked"
    if isinstance(exc, InitError):
        return f"the Secret Service could not be reached: {exc}"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def _backend_guard(name: str | None, secret: str = "") -> Iterator[None]:
    """Turn any backend failure into SecretBackendUnavailable, with ``secret`` scrubbed from the reason."""
    try:
        yield
    except _BACKEND_ERRORS as exc:
        reason = _reason(exc)
        if secret:
            reason = reason.replace(secret, "****")
        raise SecretBackendUnavailable(reason, _env_hint(name)) from None


def _get(backend: KeyringBackend, name: str) -> str | None:
    with _backend_guard(name):
        return backend.get_password(SERVICE, name)


def _probe(backend: KeyringBackend, provider: str) -> list[tuple[str, str]]:
    """(name, value) of a provider's keys in the keyring, in order, up to the first missing index."""
    found: list[tuple[str, str]] = []
    while True:
        name = secret_name(provider, len(found) + 1)
        value = _get(backend, name)
        if value is None:
            return found
        found.append((name, value))


def _read_index(backend: KeyringBackend) -> list[str]:
    with _backend_guard(None):
        raw = backend.get_password(SERVICE, _INDEX_NAME)
    try:
        names = json.loads(raw) if raw else []
    except ValueError:
        names = []
    return [n for n in names if isinstance(n, str) and _is_valid_name(n)] if isinstance(names, list) else []


def _write_index(backend: KeyringBackend, names: Iterable[str]) -> None:
    ordered = sorted(set(names), key=parse_secret_name)
    with _backend_guard(None):
        if ordered:
            backend.set_password(SERVICE, _INDEX_NAME, json.dumps(ordered))
        elif backend.get_password(SERVICE, _INDEX_NAME) is not None:
            backend.delete_password(SERVICE, _INDEX_NAME)


def _is_valid_name(name: str) -> bool:
    try:
        parse_secret_name(name)
    except ValueError:
        return False
    return True


def _warn_unavailable_once(exc: SecretBackendUnavailable) -> None:
    global _warned_unavailable
    with _warn_lock:
        if _warned_unavailable:
            return
        _warned_unavailable = True
    logger.log(
        logging.INFO if keyring_turned_off() else logging.WARNING,
        "OS keyring unavailable (%s); reading secrets from LLMGW_* environment variables",
        exc.reason,
    )


def _env_keys(provider: str, environ: Mapping[str, str]) -> list[str]:
    """A provider's keys from the environment (`environ` as the effective environment makes it)."""
    keys: list[str] = []
    while value := environ.get(env_var_name(provider, len(keys) + 1)):
        keys.append(value)
    return keys


def provider_keys(
    provider: str, environ: Mapping[str, str] | None = None, *, fallback: bool = True
) -> list[str]:
    """A provider's keys in order: from the keyring, or, if it has none or is unavailable, the environment.

    With ``fallback`` (the default) never raises for a missing keyring: that is the fallback case,
    logged once per process. Without it, an unreadable keyring raises SecretBackendUnavailable.
    Empty environment values count as missing. A `LLMGW_*_FILE` that cannot be read raises ConfigError.
    """
    check_provider_name(provider)
    try:
        keys = [value for _, value in _probe(_keyring(), provider)]
    except SecretBackendUnavailable as exc:
        if not fallback:
            raise
        _warn_unavailable_once(exc)
        keys = []
    return keys or _env_keys(provider, effective_environment(environ))


class KeyringKeySource:
    """Provider keys for the running gateway (`llmgw.relay.runtime.KeySource`): :func:`provider_keys`.

    At start-up the environment stands in for an unreadable keyring. Once the keyring has been read,
    a re-read that cannot read it raises, so the gateway keeps the keys (and their state) it has: a
    locked collection for a moment must not swap the keys for the environment's, or for none.
    `origin` says where the last read of a provider found its keys (the gateway's start-up line)."""

    def __init__(self) -> None:
        self._keyring_read = False
        self._origins: dict[str, str] = {}

    def keys(self, provider: str) -> list[str]:
        try:
            return self._read(provider)
        except SecretBackendUnavailable as exc:
            _warn_unavailable_once(exc)
            return self._from_env(provider)

    def reread(self, provider: str) -> list[str]:
        if not self._keyring_read:  # no keyring so far (environment only): nothing better to keep
            return self.keys(provider)
        return self._read(provider)

    def origin(self, provider: str) -> str:
        return self._origins.get(provider, "nowhere")

    def how_to_add(self, provider: str) -> str:
        var = env_var_name(provider)
        return f"run `llmgw secret set {provider}` or set {var} (or {var}{FILE_SUFFIX})"

    def _read(self, provider: str) -> list[str]:
        """The keyring's keys, else the environment's (raises when the keyring cannot be read)."""
        found = [value for _, value in _probe(_keyring(), check_provider_name(provider))]
        self._keyring_read = True
        if not found:
            return self._from_env(provider)
        self._origins[provider] = "the OS keyring"
        return found

    def _from_env(self, provider: str) -> list[str]:
        env = effective_environment()
        found = _env_keys(provider, env)
        names = [env.source(env_var_name(provider, i)) for i in range(1, len(found) + 1)]
        self._origins[provider] = ", ".join(names) or "nowhere"
        return found


def check_proxy_key(value: str) -> None:
    """ValueError unless every character of ``value`` is visible ASCII (0x21-0x7E).

    Clients send the key in a header, which servers read as latin-1 bytes, and a Bearer token ends at
    whitespace: a key with other characters could never be presented intact, so it could never match.
    """
    if not all("!" <= c <= "~" for c in value):
        raise ValueError(
            "a proxy key may only use visible ASCII characters (0x21-0x7E: letters, digits, punctuation; "
            "no spaces), or no client could ever present it"
        )


def proxy_key(environ: Mapping[str, str] | None = None) -> str | None:
    """The legacy proxy key: keyring entry ``proxy-key``, else ``LLMGW_PROXY_KEY`` (or its ``_FILE``),
    else None.

    Raises ConfigError, never showing the value, when the key in effect is outside the accepted alphabet.
    """
    try:
        value = _get(_keyring(), PROXY_KEY_NAME)
    except SecretBackendUnavailable as exc:
        _warn_unavailable_once(exc)
        value = None
    source = f"the OS keyring's {PROXY_KEY_NAME!r}"
    if not value:
        env = effective_environment(environ)
        value = env.get(PROXY_KEY_ENV) or None
        source = env.source(PROXY_KEY_ENV)
    if value is not None:
        try:
            check_proxy_key(value)
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return value


def budget_alert_webhook() -> str | None:
    """The budget alerts' webhook URL from the keyring (`budget-alert-webhook`), if set there; the
    environment's `LLMGW_BUDGET_ALERT_WEBHOOK` is the setting's own (settings/server.py)."""
    try:
        value = _get(_keyring(), BUDGET_ALERT_WEBHOOK_NAME)
    except SecretBackendUnavailable as exc:
        _warn_unavailable_once(exc)
        return None
    return value.strip() if value and value.strip() else None


def set_secret(name: str, value: str) -> None:
    """Store ``value`` under secret ``name`` in the OS keyring (replacing any previous value).

    Raises ValueError for a bad name, an empty value, a value with a line break, a provider key that
    is not visible ASCII (it goes in an HTTP header), or a gap
    (``openai.3`` before ``openai.2`` exists: keys are read up to the first missing index);
    SecretBackendUnavailable when there is no usable keyring.
    """
    provider, index = parse_secret_name(name)
    if not value.strip():
        raise ValueError("refusing to store an empty secret")
    if "\n" in value or "\r" in value:
        raise ValueError("refusing to store a secret containing a line break")
    if provider == PROXY_KEY_NAME:
        check_proxy_key(value)
    elif provider == BUDGET_ALERT_WEBHOOK_NAME:
        if not value.strip().lower().startswith(("http://", "https://")) or not is_header_value(
            value.strip()
        ):
            raise ValueError("the budget alert webhook is an http:// or https:// URL, visible ASCII only")
    elif not is_header_value(value):
        raise ValueError(
            "refusing to store a provider key with characters other than visible ASCII (a space, a tab, "
            "an accent…): it travels in an HTTP header, which cannot carry them"
        )
    backend = _keyring()
    if index > 1 and _get(backend, secret_name(provider, index - 1)) is None:
        raise ValueError(f"set {secret_name(provider, index - 1)!r} first: keys are read up to the first gap")
    with _index_lock:
        with _backend_guard(name, secret=value):
            backend.set_password(SERVICE, name, value)
        _write_index(backend, [*_read_index(backend), name])


def delete_secret(name: str) -> bool:
    """Delete secret ``name`` from the OS keyring; False if it was not there.

    Raises ValueError for a bad name, SecretBackendUnavailable when there is no usable keyring.
    """
    parse_secret_name(name)
    backend = _keyring()
    with _index_lock:
        existed = _get(backend, name) is not None
        if existed:
            with _backend_guard(name):
                backend.delete_password(SERVICE, name)
        indexed = _read_index(backend)
        if name in indexed:
            _write_index(backend, [n for n in indexed if n != name])
    return existed


def list_secrets(providers: Iterable[str] = ()) -> list[SecretInfo]:
    """Secrets in the keyring (indexed, or found by probing ``providers`` and ``proxy-key``), masked.

    Raises SecretBackendUnavailable when there is no usable keyring, even though environment secrets
    exist: callers wanting those anyway use :func:`env_secrets` (as ``llmgw secret list`` does).
    """
    backend = _keyring()
    found: dict[str, str] = {}
    for name in _read_index(backend):
        if (value := _get(backend, name)) is not None:
            found[name] = value
    for provider in providers:
        found.update(_probe(backend, check_provider_name(provider)))
    if (value := _get(backend, PROXY_KEY_NAME)) is not None:
        found[PROXY_KEY_NAME] = value
    return [
        SecretInfo(name, "keyring", mask_secret(found[name])) for name in sorted(found, key=parse_secret_name)
    ]


def env_secrets(providers: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> list[SecretInfo]:
    """Secrets the environment supplies for ``providers`` and the proxy key, masked (no keyring access);
    source "file" for those a `LLMGW_*_FILE` variable gave. ConfigError for a `_FILE` that cannot be read.
    """
    env = effective_environment(environ)
    infos: list[SecretInfo] = []
    if value := env.get(PROXY_KEY_ENV):
        infos.append(SecretInfo(PROXY_KEY_NAME, _env_source(env, PROXY_KEY_ENV), mask_secret(value)))
    for provider in sorted(set(providers)):
        for i, value in enumerate(_env_keys(check_provider_name(provider), env), start=1):
            source = _env_source(env, env_var_name(provider, i))
            infos.append(SecretInfo(secret_name(provider, i), source, mask_secret(value)))
    return sorted(infos, key=lambda info: parse_secret_name(info.name))


def _env_source(env: Environment, var: str) -> Literal["env", "file"]:
    return "file" if var in env.from_files else "env"


def effective_secrets(keyring_infos: list[SecretInfo], env_infos: list[SecretInfo]) -> list[SecretInfo]:
    """Merge the two listings: an env secret shows only where it is in effect (its provider has no
    keyring key)."""
    in_keyring = {parse_secret_name(info.name)[0] for info in keyring_infos}
    merged = keyring_infos + [i for i in env_infos if parse_secret_name(i.name)[0] not in in_keyring]
    return sorted(merged, key=lambda info: parse_secret_name(info.name))


def has_secret(name: str) -> bool:
    """Whether the OS keyring holds secret ``name``; raises SecretBackendUnavailable without a keyring."""
    parse_secret_name(name)
    return _get(_keyring(), name) is not None
