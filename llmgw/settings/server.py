"""`[server]`: the gateway's own settings, each declared once as a field (default, bounds, help; its
environment variable `LLMGW_<NAME>` unless `EnvName` says otherwise). docs/CONFIGURATION.md's table is
generated from these fields (`scripts/config-doc`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from llmgw.settings.addresses import comma_list, host_name, metrics_address, network, origin
from llmgw.settings.fields import Shown, Table, env_var
from llmgw.settings.locations import APP_NAME, default_database

__all__ = ["APP_NAME", "ENV_VARS", "ServerConfig", "default_database"]


class ServerConfig(Table):
    env: Literal["development", "production"] = Field(
        "development",
        description=(
            "`development` or `production`. Production mode refuses to start with unsafe settings, naming "
            "each: see [Production mode](#production-mode)."
        ),
    )
    host: str = Field("127.0.0.1", description="Address to listen on. Loopback by default.")
    port: int = Field(4000, ge=0, le=65535, description="TCP port to listen on.")
    backlog: int = Field(
        4096,
        ge=1,
        le=65535,
        description=(
            "Most connections the kernel holds for the gateway before it accepts them (the listen "
            "backlog). Past it a new client's connection is dropped and the client waits out its SYN "
            "retries (seconds each), so a burst of thousands of streams opening at once needs a large "
            "one; the HTTP server's own default is 100. The kernel caps it at `net.core.somaxconn` on "
            "Linux (4096 by default since Linux 5.4): a warning at start names that sysctl when this is "
            "above it. At start the soft open-files limit is also raised to the hard one (each stream "
            "holds two descriptors), with a warning when it stays below two per backlog slot plus 64."
        ),
    )
    auth_mode: Literal["legacy", "users", "both"] = Field(
        "both",
        description=(
            "Client authentication. `both` (the default): personal API keys (`llmgw key create USER`), "
            "working as soon as they are created, and the shared proxy key too when one is set "
            "(`llmgw secret set proxy-key` or `LLMGW_PROXY_KEY`); the proxy key's requests belong to the "
            "built-in `legacy` principal (no user, no admin rights, cannot log in, cannot read /metrics), "
            "and a value shaped like a personal key is checked only as one. `users`: personal API keys "
            "only; a proxy key is never read. `legacy`: the proxy key only, required, with admin rights "
            "on /metrics; personal keys are refused. A personal key revoked or expired, or whose user is "
            "disabled or deleted, is refused within about 0.25 s even when another process (the CLI) made "
            "the change. `serve --no-auth` (loopback only) overrides it. Migrating: README, "
            '"Personal API keys".'
        ),
    )
    database: Annotated[str, Shown("`<user data dir>/llmgw.db`")] = Field(
        default_factory=default_database,
        description=(
            "Where users, keys, limits and the usage ledger live: a SQLite file "
            "(`~/.local/share/llmgw/llmgw.db` on Linux), or a PostgreSQL server's URL, "
            "`postgresql://user:password@host:5432/llmgw`, which several `llmgw serve` instances can "
            'share (README, "Scaling out"). `LLMGW_DATABASE_URL` sets it too. Keep a password out '
            "of the file: `LLMGW_DATABASE_FILE`, or libpq's `PGPASSWORD` / `~/.pgpass`."
        ),
    )
    database_busy_timeout: float = Field(
        5.0,
        ge=0,
        description=(
            "Seconds a ledger write waits for another process holding the database's write lock (an "
            "`llmgw` command such as `llmgw user add` or `llmgw usage purge`, or the terminal admin, "
            "`llmgw tui`; the portal runs inside the gateway and shares its connection). A batch not "
            "written within about this plus 2 s of retries goes to the spool file `<database>.spool` "
            "(JSON lines), as does whatever is pending at shutdown; the next start replays it before "
            "serving, and the gateway replays it as soon as the database takes a write again. Nothing "
            "is dropped."
        ),
    )
    ledger_queue_rows: int = Field(
        10_000,
        ge=1,
        description=(
            "Most ledger rows waiting in memory for the database. Past it a finished request's row is "
            "appended straight to the spool file (one warning a minute says how many), so requests never "
            "wait for the database and memory stays bounded."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="debug, info, warning or error."
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description=(
            "`text`: one line per log record, and per request `llmgw.access`'s line. `json`: every log "
            "line on stderr is one JSON object (time, level, logger, message), and each model call ends "
            "with one carrying its request id, method, path, status, duration, time to first token, "
            "client address (behind `trusted_proxies`, the client's), user and key public id, models, "
            "provider, tokens, cost, stream and error kind and code; never a key, a cookie, a prompt or "
            "an answer. For Loki, Elasticsearch and other collectors."
        ),
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="Largest request body accepted (413 above)."
    )
    max_image_bytes: int = Field(
        5 * 1024 * 1024,
        gt=0,
        description=(
            "Largest inline (base64) image, decoded: 400 above, naming the block. 5 MiB is Anthropic's "
            "per-image limit, the strictest of the three APIs, so a request passes the same check "
            "whichever provider serves it."
        ),
    )
    max_event_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description=(
            "Largest single event of an upstream stream. An upstream still inside one event past this "
            "fails the attempt: a 502 if nothing reached the client yet (the next key or fallback is "
            "tried), else an error event ends the stream. Read in time linear in its size; generous "
            "because image outputs come as one event."
        ),
    )
    body_timeout: float = Field(
        30.0,
        gt=0,
        description=(
            "Seconds a request body may take to arrive in full, from the end of the headers: 408 after "
            "(in the caller's dialect). A client that leaves mid-body is recorded as 499 `client_closed`."
        ),
    )
    max_header_count: int = Field(100, ge=1, description="Most request headers accepted: 431 above.")
    max_header_bytes: int = Field(
        32 * 1024,
        ge=1024,
        description=(
            "Largest total size of the request headers (names and values): 431 above. A request head far "
            "past it (over 64 KiB, or this limit plus 16 KiB if larger) is refused by the HTTP layer "
            "itself: 431 with an empty body."
        ),
    )
    retry_deadline: float = Field(
        60.0, gt=0, description="Seconds after arrival past which no new upstream attempt starts."
    )
    max_attempts: int = Field(
        5, ge=1, le=50, description="Most upstream attempts (keys and fallbacks) for one request."
    )
    shutdown_grace: float = Field(
        30.0, ge=0, description="Seconds in-flight requests get to finish on SIGTERM/SIGINT."
    )
    models_cache_ttl: float = Field(300.0, ge=0, description="Seconds an upstream /models listing is cached.")
    key_refresh_interval: float = Field(
        60.0,
        ge=0,
        description=(
            "Seconds between re-reads of provider keys (0: never). A key the upstream rejected (401, or "
            "an error naming the key as invalid) comes back when its secret changes; a re-read that "
            "cannot read the keyring keeps the current keys."
        ),
    )
    default_max_tokens: int = Field(
        4096,
        ge=1,
        description=(
            "`max_tokens` sent to an Anthropic upstream when an OpenAI client set none (Anthropic "
            "requires it; OpenAI does not). Also the output cap a request without one gets upstream "
            "(`max_tokens`, or `max_completion_tokens` for OpenAI's own chat API) when a spend budget "
            "applies to its user or key, so the budget's reservation bounds its cost."
        ),
    )
    default_provider: str = Field(
        "",
        description=(
            "The provider a bare model name goes to: one that is no alias and whose part before the "
            'first `/` names no provider (`"gpt-4o-mini"` → `openai/gpt-4o-mini` with `"openai"`; '
            '`"Qwen/Qwen2.5-7B"` → that provider\'s `Qwen/Qwen2.5-7B`). Its `models` allow-list, when set, '
            "applies. For clients that strip a provider prefix they take for theirs (the OpenAI Agents "
            "SDK turns `openai/gpt-4o-mini` into `gpt-4o-mini`). Empty: such a name is a 404 that "
            "suggests the routed names ending in it, the name under each provider of its family's type "
            "(`gpt-4o-mini` → `openai/gpt-4o-mini`), and `GET /v1/models`."
        ),
    )
    cors_origins: tuple[str, ...] = Field(
        (),
        description=(
            "Origins whose web pages may call `/v1/*` from a browser (CORS), each exactly as a browser "
            'sends it: `"https://app.example.com"`, `"http://localhost:5173"` (scheme, host, a port only '
            "if not the default; no path, no trailing `/`). Empty: CORS is off and no CORS header is ever "
            'sent. `["*"]` (any page) is accepted in development only, with a warning at start. The '
            "environment form is comma-separated: "
            "`LLMGW_CORS_ORIGINS=https://a.example,https://b.example`. See [CORS](#cors-for-v1)."
        ),
    )
    # None: auto (see `secure_cookies`)
    cookie_secure: Annotated[bool | None, Shown('`"auto"`')] = Field(
        None,
        description=(
            "Whether the web portal marks its session cookie `Secure` (sent over HTTPS only, and then "
            "named with the `__Host-` prefix: no Domain, `Path=/`, never plantable from an http page or a "
            "sibling domain): `true`, `false`, or `auto`: always in production; in development, for a "
            "request that came over HTTPS (TLS at the gateway, `X-Forwarded-Proto: https` from one of "
            "`trusted_proxies`, or addressed to the host of an `https://` `public_url`), so the portal "
            "still works on plain `http://localhost`. The cookie's name is derived for each request the "
            "same way, so a session started over HTTPS is read back over HTTPS. Production refuses "
            "`false` unless `trusted_proxies` names the TLS-terminating proxy in front of the gateway."
        ),
    )
    trusted_proxies: tuple[str, ...] = Field(
        (),
        description=(
            'IP addresses or CIDR networks (`"10.0.0.5"`, `"172.16.0.0/12"`, `"::1"`) of reverse proxies '
            "that terminate TLS in front of the gateway. Only a connection from one of them (its own "
            "address, never a header) has its `X-Forwarded-Proto`, `X-Forwarded-Host` and "
            "`X-Forwarded-For` believed by the portal, and of each only what that proxy added: the last "
            "value, or the last `X-Forwarded-For` hop that is not itself a trusted proxy. That hop is the "
            "client's address (sessions, the audit log, the login throttle) only if it is an IP address; "
            "anything else (a name, `host:port`, an IPv6 zone) is ignored and the proxy's own address "
            "used. Production mode accepts `cookie_secure = false` only when this is set. Comma-separated "
            "in the environment."
        ),
    )
    public_url: str = Field(
        "",
        description=(
            "The address browsers reach the gateway at, scheme, host and a port only if not the default: "
            '`"https://llm.example.com"` (a trailing `/` is dropped; no path). The portal answers to its '
            "host, takes forms whose `Origin` is exactly it, and treats requests addressed to its host as "
            "coming over its scheme (so behind a TLS proxy that is not in `trusted_proxies` the cookie is "
            "still `Secure`). Production refuses an `http://` one. Empty: the portal answers only the "
            "names in `allowed_hosts` and loopback names (`localhost`, `127.0.0.1`, `[::1]`), plus, in "
            "development, `host`; see [The portal's host names](#the-portals-host-names)."
        ),
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description=(
            "More host names the portal answers to, exactly as browsers put them in `Host` but without a "
            'port (`"llm.internal"`, `"192.0.2.10"`, `"::1"`), besides `public_url`\'s and loopback '
            "names. A form sent to one must come from that same name's origin (its scheme the request's "
            "own: direct TLS, or `X-Forwarded-Proto` from `trusted_proxies`). Comma-separated in the "
            "environment."
        ),
    )
    usage_retention_days: float = Field(
        90,
        ge=0,
        description=(
            "Days raw ledger rows (one per request) are kept; `0` keeps them forever, else at least `1` "
            "(the portal's recent requests and the terminal admin's live tail read raw rows, and "
            "replaying the ledger's spool finds a request's earlier row among them to count it once). "
            "The running gateway deletes older rows every 10 minutes, 500 per transaction, in a worker "
            "thread (requests never wait on it); `llmgw usage purge` does the same by hand. Reports "
            "(`llmgw usage`, the portal's and the terminal admin's dashboards) and budgets' spend at "
            "start read the hourly rollups, so their totals do not change when rows go; only the "
            "per-request detail (the portal's recent requests, the live tail) does."
        ),
    )
    rollup_retention_days: float = Field(
        0,
        ge=0,
        description=(
            "Days the hourly usage rollups (what reports, `llmgw usage` and a starting gateway's budget "
            "spend read) are kept; `0` keeps them forever, else at least `31`, so a month's spend is "
            "whole. An hour is dropped once it ended more than this many days ago."
        ),
    )
    store_responses: bool = Field(
        True,
        description=(
            "Whether the gateway keeps the conversations of `/v1/responses` clients whose upstream keeps "
            "none (Anthropic, Gemini, OpenAI-compatible servers; OpenAI keeps its own): each answer's input "
            "and output items, for `previous_response_id`, `item_reference` inputs and "
            "`GET /v1/responses/{id}`, as OpenAI does when a request's `store` is on (its default). `false`: "
            "nothing is stored, and a `previous_response_id` to such an upstream is refused (400) with a "
            "message saying so; clients then send the whole conversation each turn, as Codex CLI does. "
            "What is stored and who can read it: the README's *Stored responses*."
        ),
    )
    response_retention_days: float = Field(
        30,
        ge=0,
        description=(
            "Days a stored response, and the record of which upstream key made a response OpenAI keeps, are "
            "kept; `0` keeps them forever. An older one is not found from then on (`404`, and a "
            "`previous_response_id` to it is refused), and the running gateway deletes them with the "
            "ledger's retention, every 10 minutes, in a worker thread; `llmgw usage purge` does it by hand."
        ),
    )
    metrics_listen: str = Field(
        "",
        description=(
            "`host:port` of a second listener that serves `GET /metrics` (Prometheus text format) "
            '**without a key**, for a scraper on the same machine: `"127.0.0.1:9464"`, `"[::1]:9464"`. '
            "Only a loopback address is accepted (anything else is a configuration error). Empty: off. On "
            "the main port `/metrics` is always there for an admin's personal API key, or the proxy key "
            "in `legacy` mode."
        ),
    )
    budget_alert_webhook: str = Field(
        "",
        description=(
            "URL a JSON POST goes to when a user's or key's spend crosses one of "
            "`budget_alert_thresholds` of its day or month budget: once per threshold and period, also "
            "across restarts. The body has `text` (what Slack's incoming webhooks show) and the fields a "
            "generic receiver reads: `event`, `scope`, `user`, `key`, `period`, `period_start`, "
            "`budget_usd`, `spent_usd`, `threshold`, `time`. Sent in the background, never holding up a "
            "request; a failure is retried with backoff and logged. **A secret** (a Slack URL is its own "
            "credential): set it in the environment or the keyring (`llmgw secret set "
            "budget-alert-webhook`), not in the file; `config check` masks it, logs name only its host. "
            "Empty: no alerts."
        ),
    )
    budget_alert_thresholds: tuple[int, ...] = Field(
        (80, 100),
        description=(
            "Percentages of a budget at which `budget_alert_webhook` is called, comma-separated in the "
            "environment (`80,100`). Each from 1 to 1000."
        ),
    )

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
        return comma_list(v)

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
        return tuple(dict.fromkeys(origin(o) for o in v))

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(network(item) for item in v))

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str) -> str:
        v = v.strip()
        return origin(v[:-1] if v.endswith("/") else v) if v else ""

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(host_name(h) for h in v))

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

    @field_validator("budget_alert_thresholds", mode="before")
    @classmethod
    def _thresholds_from_string(cls, v: Any) -> Any:
        return comma_list(v)

    @field_validator("budget_alert_thresholds")
    @classmethod
    def _thresholds(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= t <= 1000 for t in v):
            raise ValueError("each threshold is a percentage from 1 to 1000")
        return tuple(sorted(set(v)))

    @field_validator("budget_alert_webhook")
    @classmethod
    def _webhook(cls, v: str) -> str:
        v = v.strip()
        if v and (not v.lower().startswith(("http://", "https://")) or len(v) > 2048):
            raise ValueError("an http:// or https:// URL (the value is a secret: not shown)")
        return v

    @field_validator("metrics_listen")
    @classmethod
    def _loopback_listen(cls, v: str) -> str:
        v = v.strip()
        if v:
            metrics_address(v)  # raises with the reason
        return v


# Each [server] setting's environment variable, by setting name.
ENV_VARS: dict[str, str] = {name: env_var(name, f) for name, f in ServerConfig.model_fields.items()}
