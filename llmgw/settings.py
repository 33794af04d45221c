"""Configuration: every setting in one table, loaded from TOML with `LLMGW_*` environment overrides.

Precedence: built-in default < config file < environment. The config file is `--config FILE`, else
`$LLMGW_CONFIG`, else `llmgw.toml` in the user config dir (absent is fine: the defaults run a gateway
on loopback with no providers). Errors are collected as located `ConfigError` messages, never tracebacks.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from llmgw.errors import ConfigError

APP_NAME = "llmgw"
PROVIDER_NAME = re.compile(r"^[a-z0-9_-]+$")
RESERVED_PROVIDER_NAMES = frozenset({"proxy-key"})

ProviderType = Literal["openai", "openrouter", "openai-compatible", "anthropic", "gemini"]
DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "anthropic": "https://api.anthropic.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
}
# Providers known by name: each is served without a [providers] table (type = its name, default URL),
# and its table, when it has one, may leave `type` out.
WELL_KNOWN_PROVIDERS: tuple[ProviderType, ...] = ("openai", "anthropic", "gemini", "openrouter")
# A full endpoint pasted where the API root belongs: refused, with the root it contains.
_ENDPOINT = re.compile(
    r"/(?:chat/completions|completions|embeddings|messages(?:/count_tokens)?|models(?:/[^/]+:\w+)?)$"
)
_GEMINI_VERSION = re.compile(r"/v1(?:alpha|beta)?$")


def effective_base_url(type_: str, base_url: str) -> str:
    """The API root requests go to, from a `base_url` as users copy it from an SDK's docs.

    The Anthropic SDKs' base URL has no `/v1` and google-genai's no version (they append them), while
    llmgw's roots include them: the missing part is added. OpenAI-format URLs keep their path (compatible
    servers mount the API anywhere), except an empty one on `openai` and `openrouter`, which has one place.
    """
    url = base_url.rstrip("/")
    path = urllib.parse.urlsplit(url).path
    if type_ == "anthropic" and not path.endswith("/v1"):
        return url + "/v1"
    if type_ == "gemini" and not _GEMINI_VERSION.search(path):
        return url + "/v1beta"
    if type_ == "openai" and not path:
        return url + "/v1"
    if type_ == "openrouter" and path in ("", "/api"):
        return url.removesuffix("/api") + "/api/v1"
    return url


def default_database() -> str:
    return str(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "llmgw.db")


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "llmgw.toml"


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table: where it lives, its default, and what it does."""

    section: str  # "server" or "providers.NAME"
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str | None:
        """Environment override; only [server] settings have one (providers are named by the file)."""
        return f"LLMGW_{self.name.upper()}" if self.section == "server" else None


PRICES_SECTION = 'prices."PROVIDER/MODEL"'

# The one table. docs/CONFIGURATION.md is checked against it by tests/test_docs.py.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "server",
        "env",
        "development",
        "development or production: production refuses to start with unsafe settings.",
    ),
    Setting("server", "host", "127.0.0.1", "Address to listen on. Loopback by default."),
    Setting("server", "port", 4000, "TCP port to listen on."),
    Setting(
        "server",
        "auth_mode",
        "legacy",
        "Client authentication: legacy (one shared proxy key), users (personal API keys only) or both.",
    ),
    Setting("server", "database", "<user data dir>/llmgw.db", "SQLite file for the usage ledger."),
    Setting(
        "server",
        "database_busy_timeout",
        5.0,
        "Seconds a ledger write waits for another process's lock on the database before its rows go to "
        "the spool file.",
    ),
    Setting(
        "server",
        "ledger_queue_rows",
        10_000,
        "Most ledger rows waiting in memory for the database; past it rows go straight to the spool file.",
    ),
    Setting("server", "log_level", "info", "debug, info, warning or error."),
    Setting("server", "max_body_bytes", 16 * 1024 * 1024, "Largest request body accepted (413 above)."),
    Setting(
        "server", "max_image_bytes", 5 * 1024 * 1024, "Largest inline (base64) image, decoded (400 above)."
    ),
    Setting("server", "body_timeout", 30.0, "Seconds a request body may take to arrive in full (408 after)."),
    Setting("server", "max_header_count", 100, "Most request headers accepted (431 above)."),
    Setting(
        "server", "max_header_bytes", 32 * 1024, "Largest total size of the request headers (431 above)."
    ),
    Setting(
        "server",
        "max_event_bytes",
        16 * 1024 * 1024,
        "Largest single event of an upstream stream (the attempt fails with a 502 or an error event above).",
    ),
    Setting(
        "server", "retry_deadline", 60.0, "Seconds after arrival past which no new upstream attempt starts."
    ),
    Setting("server", "max_attempts", 5, "Most upstream attempts (keys and fallbacks) for one request."),
    Setting("server", "shutdown_grace", 30.0, "Seconds in-flight requests get to finish on SIGTERM/SIGINT."),
    Setting("server", "models_cache_ttl", 300.0, "Seconds an upstream /models listing is cached."),
    Setting("server", "key_refresh_interval", 60.0, "Seconds between re-reads of provider keys (0: never)."),
    Setting(
        "server",
        "default_max_tokens",
        4096,
        "max_tokens sent to an Anthropic upstream when an OpenAI client set none; also the output cap "
        "a request without one gets upstream when a spend budget applies to its user or key.",
    ),
    Setting(
        "server",
        "cors_origins",
        [],
        "Origins (scheme://host[:port]) whose web pages may call /v1/*; empty: CORS off.",
    ),
    Setting(
        "server",
        "cookie_secure",
        "auto",
        "Mark the portal's session cookie Secure and __Host- (auto: in production, else over HTTPS).",
    ),
    Setting(
        "server",
        "trusted_proxies",
        [],
        "Addresses or CIDRs of TLS-terminating reverse proxies whose X-Forwarded-* headers are believed.",
    ),
    Setting(
        "server",
        "public_url",
        "",
        "The address browsers reach the gateway at (https://llm.example.com): the portal answers to its "
        "host and takes forms from its origin; empty: loopback names (and, in development, host) only.",
    ),
    Setting(
        "server",
        "allowed_hosts",
        [],
        "More host names the portal answers to (the Host a browser sends, port aside), besides "
        "public_url's and loopback names.",
    ),
    Setting(
        "server",
        "usage_retention_days",
        90,
        "Days raw ledger rows are kept (0: forever, else at least 1); reports read the hourly rollups.",
    ),
    Setting(
        "server",
        "rollup_retention_days",
        0,
        "Days the hourly usage rollups are kept (0: forever, else at least 31: budgets read them).",
    ),
    Setting(
        "server",
        "metrics_listen",
        "",
        "host:port of a loopback-only listener serving /metrics without a key (e.g. 127.0.0.1:9464); "
        "empty: off.",
    ),
    Setting(
        "providers.NAME",
        "type",
        None,
        "openai | openrouter | openai-compatible | anthropic | gemini (required).",
    ),
    Setting("providers.NAME", "base_url", "per type", "Upstream API root; required for openai-compatible."),
    Setting(
        "providers.NAME", "models", None, "Allow-list of upstream model names; unset: any, listed upstream."
    ),
    Setting("providers.NAME", "headers", {}, "Extra headers sent upstream (values masked by config check)."),
    Setting("providers.NAME", "connect_timeout", 10.0, "Seconds to open a connection to the upstream."),
    Setting("providers.NAME", "first_byte_timeout", 600.0, "Seconds to wait for the upstream's response."),
    Setting("providers.NAME", "chunk_timeout", 120.0, "Seconds allowed between two chunks of a stream."),
    Setting("providers.NAME", "max_connections", 100, "Connection pool size towards this upstream."),
    Setting(
        "providers.NAME", "http_referer", None, "OpenRouter only: HTTP-Referer sent for app attribution."
    ),
    Setting("providers.NAME", "x_title", None, "OpenRouter only: X-Title sent for app attribution."),
    Setting(PRICES_SECTION, "input", None, "USD per million input tokens (required)."),
    Setting(PRICES_SECTION, "output", None, "USD per million output tokens (required)."),
    Setting(
        PRICES_SECTION, "cached_input", "input", "USD per million input tokens read from a prompt cache."
    ),
    Setting(
        PRICES_SECTION, "cache_write", "input", "USD per million input tokens written to a prompt cache."
    ),
    Setting(PRICES_SECTION, "reasoning", "output", "USD per million reasoning tokens."),
)


def _default(section: str, name: str) -> Any:
    return next(s.default for s in SETTINGS if s.section == section and s.name == name)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# An origin as a browser sends it: scheme, host (name, IPv4 or [IPv6]) and a port only if not the default.
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$")
_ORIGIN_START = re.compile(r"^https?://[^/?#\s]+", re.I)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?")


def _comma_list(v: Any) -> Any:
    """A list setting given as one string (its environment form): comma-separated, blanks dropped."""
    return tuple(part.strip() for part in v.split(",") if part.strip()) if isinstance(v, str) else v


def _origin(value: str) -> str:
    """`value` as browsers send it in `Origin` (lower case, default port left out), or ValueError."""
    match = _ORIGIN.match(value.lower())
    if not match or (match[3] and not 0 < int(match[3]) < 65536):
        start = _ORIGIN_START.match(value)
        hint = f": use {start[0].lower()!r}" if start else ""
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port], no path){hint}")
    scheme, host, port = match.groups()
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[scheme] else "")


def _host_name(value: str) -> str:
    """`value` as a Host header names it: lower case, an IPv6 address without brackets; or ValueError."""
    name = value.strip().lower()
    bare = name.removeprefix("[").removesuffix("]")
    if ":" in bare and "%" not in bare:
        try:
            return str(ipaddress.IPv6Address(bare))
        except ValueError:
            pass
    elif _HOST_NAME.fullmatch(bare):
        return bare
    raise ValueError(f"{value!r} is not a host name (llm.example.com, 192.0.2.10; no scheme, no port)")


class ServerConfig(_Strict):
    env: Literal["development", "production"] = _default("server", "env")
    host: str = _default("server", "host")
    port: int = Field(_default("server", "port"), ge=0, le=65535)
    auth_mode: Literal["legacy", "users", "both"] = _default("server", "auth_mode")
    database: str = Field(default_factory=default_database)
    database_busy_timeout: float = Field(_default("server", "database_busy_timeout"), ge=0)
    ledger_queue_rows: int = Field(_default("server", "ledger_queue_rows"), ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = _default("server", "log_level")
    max_body_bytes: int = Field(_default("server", "max_body_bytes"), gt=0)
    max_image_bytes: int = Field(_default("server", "max_image_bytes"), gt=0)
    max_event_bytes: int = Field(_default("server", "max_event_bytes"), gt=0)
    body_timeout: float = Field(_default("server", "body_timeout"), gt=0)
    max_header_count: int = Field(_default("server", "max_header_count"), ge=1)
    max_header_bytes: int = Field(_default("server", "max_header_bytes"), ge=1024)
    retry_deadline: float = Field(_default("server", "retry_deadline"), gt=0)
    max_attempts: int = Field(_default("server", "max_attempts"), ge=1, le=50)
    shutdown_grace: float = Field(_default("server", "shutdown_grace"), ge=0)
    models_cache_ttl: float = Field(_default("server", "models_cache_ttl"), ge=0)
    key_refresh_interval: float = Field(_default("server", "key_refresh_interval"), ge=0)
    default_max_tokens: int = Field(_default("server", "default_max_tokens"), ge=1)
    cors_origins: tuple[str, ...] = ()
    cookie_secure: bool | None = None  # None: auto (see `secure_cookies`)
    trusted_proxies: tuple[str, ...] = ()
    public_url: str = _default("server", "public_url")
    allowed_hosts: tuple[str, ...] = ()
    usage_retention_days: float = Field(_default("server", "usage_retention_days"), ge=0)
    rollup_retention_days: float = Field(_default("server", "rollup_retention_days"), ge=0)
    metrics_listen: str = _default("server", "metrics_listen")

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def secure_cookies(self) -> bool:
        """Whether the portal marks its cookie Secure on every request: `cookie_secure`, or by default in
        production (auto in development: only on requests that came over HTTPS; `portal/site.py`)."""
        return self.production if self.cookie_secure is None else self.cookie_secure

    @field_validator("cors_origins", "trusted_proxies", "allowed_hosts", mode="before")
    @classmethod
    def _list_from_string(cls, v: Any) -> Any:
        return _comma_list(v)

    @field_validator("cookie_secure", mode="before")
    @classmethod
    def _auto(cls, v: Any) -> Any:
        return None if isinstance(v, str) and v.strip().lower() == "auto" else v

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if "*" in v:
            if len(v) > 1:
                raise ValueError("'*' must be the only origin when it is given")
            return v
        # Raised here, not per item, so that the error is located at the setting (and its env var).
        return tuple(dict.fromkeys(_origin(o) for o in v))

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        networks: list[str] = []
        for item in v:
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return tuple(dict.fromkeys(networks))

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str) -> str:
        v = v.strip()
        return _origin(v[:-1] if v.endswith("/") else v) if v else ""

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_host_name(h) for h in v))

    @field_validator("usage_retention_days")
    @classmethod
    def _raw_retention(cls, v: float) -> float:
        if 0 < v < 1:
            raise ValueError(
                "0 (forever) or at least 1 day: the portal's recent requests read raw rows, and "
                "a spool replay finds a request's earlier row there to count it once"
            )
        return v

    @field_validator("rollup_retention_days")
    @classmethod
    def _rollup_retention(cls, v: float) -> float:
        if 0 < v < 31:  # a month's start is less than 31 days back
            raise ValueError(
                "0 (forever) or at least 31 days: a month's budget is summed from them when the gateway "
                "starts, and month reports read them"
            )
        return v

    @field_validator("metrics_listen")
    @classmethod
    def _loopback_listen(cls, v: str) -> str:
        v = v.strip()
        if v:
            metrics_address(v)  # raises with the reason
        return v


def metrics_address(listen: str) -> tuple[str, int]:
    """`metrics_listen` ("127.0.0.1:9464", "[::1]:9464", "localhost:9464") as (host, port); raises
    ValueError unless the host is a loopback address: the listener answers without a key."""
    host, sep, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{listen!r} is not host:port (e.g. 127.0.0.1:9464)")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"{host!r} is not a loopback address: the metrics listener serves /metrics without a key, so it "
            "may only listen on 127.0.0.1, ::1 or localhost (remote scrapers use /metrics on the main "
            "port with an admin's API key)"
        )
    return host, int(port)


class ProviderConfig(_Strict):
    type: ProviderType
    base_url: str | None = None
    models: tuple[str, ...] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    connect_timeout: float = Field(_default("providers.NAME", "connect_timeout"), gt=0)
    first_byte_timeout: float = Field(_default("providers.NAME", "first_byte_timeout"), gt=0)
    chunk_timeout: float = Field(_default("providers.NAME", "chunk_timeout"), gt=0)
    max_connections: int = Field(_default("providers.NAME", "max_connections"), ge=1)
    http_referer: str | None = None
    x_title: str | None = None
    _implicit: bool = PrivateAttr(False)  # not settable from a file: only `implicit()` makes one

    @classmethod
    def implicit(cls, name: ProviderType) -> ProviderConfig:
        """The provider a well-known name stands for when the configuration has no table for it."""
        p = cls(type=name)
        p._implicit = True
        return p

    @property
    def is_implicit(self) -> bool:
        """Served because its name is well known, not because the configuration has its table."""
        return self._implicit

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL")
        v = v.rstrip("/")
        if endpoint := _ENDPOINT.search(v):
            raise ValueError(f"this is an endpoint, not the API root: use {v[: endpoint.start()]!r}")
        return v

    @property
    def url(self) -> str:
        """The effective base URL: `base_url` completed as `effective_base_url` says, or the type's default
        (validated to exist by `load`)."""
        return effective_base_url(self.type, self.base_url) if self.base_url else DEFAULT_BASE_URLS[self.type]


class PriceConfig(_Strict):
    """A model's price in USD per million tokens (`[prices."provider/model"]`); the optional rates
    default to `input` (cache reads and writes) or `output` (reasoning)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)
    cache_write: float | None = Field(None, ge=0)
    reasoning: float | None = Field(None, ge=0)


class AliasConfig(_Strict):
    model: str
    fallbacks: tuple[str, ...] = ()


class Config(_Strict):
    server: ServerConfig = Field(default_factory=lambda: ServerConfig())
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, AliasConfig] = Field(default_factory=dict)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)

    @field_validator("prices")
    @classmethod
    def _price_keys(cls, v: dict[str, PriceConfig]) -> dict[str, PriceConfig]:
        for key in v:
            provider, _, model = key.partition("/")
            if not provider or not model:
                raise ValueError(f'{key!r}: a price is named PROVIDER/model (e.g. "openai/gpt-4o")')
        return v

    @field_validator("providers", mode="before")
    @classmethod
    def _type_from_name(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {
                k: {"type": k, **t} if k in WELL_KNOWN_PROVIDERS and isinstance(t, Mapping) else t
                for k, t in v.items()
            }
        return v

    @field_validator("models", mode="before")
    @classmethod
    def _alias_shorthand(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: {"model": t} if isinstance(t, str) else t for k, t in v.items()}
        return v


@dataclass(slots=True)
class Loaded:
    """A validated configuration and where it came from."""

    config: Config
    source: Path | None
    env_overrides: dict[str, str] = field(default_factory=dict)


def config_path(cli_path: str | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The file to read, and whether it was named explicitly (then it must exist)."""
    if cli_path:
        return Path(cli_path), True
    if environ.get("LLMGW_CONFIG"):
        return Path(environ["LLMGW_CONFIG"]), True
    return default_config_file(), False


def load(cli_path: str | None = None, environ: Mapping[str, str] | None = None) -> Loaded:
    """Read, merge and validate the configuration; raise ConfigError with every problem located."""
    env = os.environ if environ is None else environ
    path, explicit = config_path(cli_path, env)
    raw: dict[str, Any] = {}
    source: Path | None = None
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        source = path
    elif explicit:
        raise ConfigError(f"{path}: config file not found")

    overrides = {s.env: env[s.env] for s in SETTINGS if s.env and s.env in env}
    if overrides:
        server = raw.setdefault("server", {})
        if not isinstance(server, dict):
            raise ConfigError(f"{path}: [server] must be a table")
        for s in SETTINGS:
            if s.env in overrides:
                server[s.name] = overrides[s.env]

    where = str(source) if source else "defaults"
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(_located(where, err, overrides) for err in exc.errors())) from None
    configured = set(config.providers)
    config = with_implicit_providers(config)
    problems = _cross_check(config, configured)
    if problems:
        raise ConfigError("\n".join(f"{where}: {p}" for p in problems))
    return Loaded(config, source, overrides)


def with_implicit_providers(config: Config) -> Config:
    """`config` with every well-known provider it has no table for, marked implicit (after its own)."""
    missing = [name for name in WELL_KNOWN_PROVIDERS if name not in config.providers]
    if not missing:
        return config
    implicit = {name: ProviderConfig.implicit(name) for name in missing}
    return config.model_copy(update={"providers": {**config.providers, **implicit}})


def _located(where: str, err: Mapping[str, Any], overrides: Mapping[str, str]) -> str:
    loc = [str(p) for p in err["loc"]]
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        msg = "unknown setting"
    elif err["type"] == "literal_error" and "type" in loc[-1:]:
        msg = (
            f"unknown provider type {err.get('input')!r}; "
            "expected openai, openrouter, openai-compatible, anthropic or gemini"
        )
    key = ".".join(loc)
    if len(loc) == 2 and loc[0] == "server" and f"LLMGW_{loc[1].upper()}" in overrides:
        return f"environment LLMGW_{loc[1].upper()}: {msg}"
    if loc and loc[0] == "providers" and len(loc) >= 2:
        key = f"[providers.{loc[1]}]" + (f" {'.'.join(loc[2:])}" if len(loc) > 2 else "")
    elif loc and loc[0] == "prices" and len(loc) >= 2:
        key = f'[prices."{loc[1]}"]' + (f" {'.'.join(loc[2:])}" if len(loc) > 2 else "")
    elif loc and loc[0] in ("server", "models") and len(loc) >= 2:
        key = f"[{loc[0]}] {'.'.join(loc[1:])}"
    return f"{where}: {key}: {msg}"


def _cross_check(config: Config, configured: set[str]) -> list[str]:
    problems: list[str] = []
    for name, p in config.providers.items():
        if not PROVIDER_NAME.match(name) or name in RESERVED_PROVIDER_NAMES:
            problems.append(
                f"[providers.{name}]: provider names must match [a-z0-9_-]+ and not be 'proxy-key'"
            )
        if p.type == "openai-compatible" and not p.base_url:
            problems.append(f"[providers.{name}] base_url: required for type 'openai-compatible'")
        if p.type != "openrouter" and (p.http_referer or p.x_title):
            problems.append(f"[providers.{name}]: http_referer and x_title apply to type 'openrouter' only")
    for alias, target in config.models.items():
        # An alias named like an implicit provider's model wins over it (routes that name elsewhere).
        if "/" in alias and alias.split("/", 1)[0] in configured:
            problems.append(f"[models] {alias}: an alias may not shadow provider {alias.split('/', 1)[0]!r}")
        for ref in (target.model, *target.fallbacks):
            prov, _, upstream = ref.partition("/")
            if prov not in config.providers or not upstream:
                problems.append(f"[models] {alias}: {ref!r} points nowhere (expected PROVIDER/model)")
            elif (allowed := config.providers[prov].models) is not None and upstream not in allowed:
                problems.append(f"[models] {alias}: {upstream!r} is not in [providers.{prov}] models")
    return problems
