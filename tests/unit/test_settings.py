"""Configuration loading: defaults, env overrides, and located errors; docs/CONFIGURATION.md's settings
tables as the model's fields declare them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel

from llmgw.errors import ConfigError
from llmgw.settings import ServerConfig, load
from llmgw.settings.fields import EnvName, env_var
from llmgw.settings.reference import COMMAND, rewrite
from llmgw.settings.server import ENV_VARS

PAGE = Path(__file__).parents[2] / "docs" / "CONFIGURATION.md"


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "llmgw.toml"
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_defaults_without_any_file(tmp_path: Path) -> None:
    loaded = load(None, {"LLMGW_CONFIG": ""} | {"HOME": str(tmp_path)})
    s = loaded.config.server
    assert (s.host, s.port, s.auth_mode) == ("127.0.0.1", 4000, "legacy")
    assert s.database.endswith("llmgw.db")
    # the well-known providers by name, served once a key for them exists
    providers = loaded.config.providers
    assert list(providers) == ["openai", "anthropic", "gemini", "openrouter"]
    assert all(p.is_implicit and p.type == name for name, p in providers.items())


def test_full_example(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[server]
port = 4100
[providers.openai]
type = "openai"
[providers.or]
type = "openrouter"
x_title = "My app"
[providers.local]
type = "openai-compatible"
base_url = "http://127.0.0.1:8000/v1/"
models = ["llama"]
chunk_timeout = 5
[models]
fast = "local/llama"
smart = { model = "openai/gpt-4o", fallbacks = ["or/openai/gpt-4o"] }
""",
    )
    c = load(path, {}).config
    assert c.server.port == 4100
    assert c.providers["openai"].url == "https://api.openai.com/v1"
    assert c.providers["or"].url == "https://openrouter.ai/api/v1"
    assert c.providers["local"].url == "http://127.0.0.1:8000/v1"
    assert c.providers["local"].chunk_timeout == 5.0
    assert c.models["fast"].model == "local/llama"
    assert c.models["smart"].fallbacks == ("or/openai/gpt-4o",)


def test_env_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 4100\n")
    c = load(path, {"LLMGW_PORT": "4200", "LLMGW_HOST": "::1"}).config
    assert (c.server.port, c.server.host) == (4200, "::1")


def test_config_env_var_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 4321\n")
    assert load(None, {"LLMGW_CONFIG": path}).config.server.port == 4321


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("[server]\nprot = 1\n", {}, "[server] prot: unknown setting"),
        ("[server]\nport = 'x'\n", {}, "[server] port:"),
        ("[server]\nport = 70000\n", {}, "[server] port: Input should be less than or equal to 65535"),
        ("", {"LLMGW_PORT": "abc"}, "environment LLMGW_PORT:"),
        ("[providers.a]\ntype = 'azure'\n", {}, "[providers.a] type: unknown provider type 'azure'"),
        ("[providers.a]\ntype = 'openai'\ntimeout = 3\n", {}, "[providers.a] timeout: unknown setting"),
        ("[providers.a]\ntype = 'openai-compatible'\n", {}, "[providers.a] base_url: required"),
        ("[providers.a]\ntype = 'openai'\nbase_url = 'ftp://x'\n", {}, "[providers.a] base_url: Value error"),
        ("[providers.A]\ntype = 'openai'\n", {}, "[providers.A]: provider names must match"),
        ("[providers.proxy-key]\ntype = 'openai'\n", {}, "provider names must match"),
        ("[models]\nfast = 'nowhere/x'\n", {}, "[models] fast: 'nowhere/x' points nowhere"),
        ("[providers.a]\ntype='openai'\n[models]\nf = 'a'\n", {}, "[models] f: 'a' points nowhere"),
        (
            "[providers.a]\ntype='openai'\nmodels=['m']\n[models]\nf = 'a/other'\n",
            {},
            "'other' is not in [providers.a] models",
        ),
        ("[providers.a]\ntype='openai'\nx_title='t'\n", {}, "apply to type 'openrouter' only"),
        ("[server]\nauth_mode = 'admins'\n", {}, "[server] auth_mode: Input should be 'legacy', 'users'"),
        ("[server\n", {}, "invalid TOML"),
        ("[server]\ndefault_provider = 'nope'\n", {}, "[server] default_provider: 'nope' is not a provider"),
        (
            "[providers.a]\ntype='openai'\nhosted_tools='drop'\n",
            {},
            "[providers.a] hosted_tools: Input should be",
        ),
    ],
)
def test_errors_are_located(tmp_path: Path, toml: str, env: dict[str, str], message: str) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as info:
        load(path, env)
    assert message in str(info.value)
    if not env:
        assert str(info.value).startswith(path)


def test_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load(str(tmp_path / "missing.toml"), {})


def test_the_configuration_page_shows_every_setting_as_declared() -> None:
    """Every table of settings in the docs is what the generator writes from the model's fields: a
    setting added, removed or changed (default, help) without regenerating the page fails here."""
    page = PAGE.read_text(encoding="utf-8")
    assert rewrite(page) == page, (
        f"docs/CONFIGURATION.md's settings tables differ from the settings' fields: run {COMMAND}"
    )


def test_a_missing_or_stale_row_or_table_is_caught() -> None:
    page = PAGE.read_text(encoding="utf-8")
    row = next(line for line in page.splitlines() if line.startswith("| `max_attempts` |"))
    assert rewrite(page.replace(row + "\n", "")) == page  # a missing row comes back
    assert rewrite(page.replace(row, row.replace("`5`", "`6`"))) == page  # so does a stale one
    start = page.index("<!-- settings table: models.ALIAS")
    end = page.index("<!-- end of settings table -->", start) + len("<!-- end of settings table -->")
    with pytest.raises(ValueError, match=r"no settings table for models\.ALIAS"):
        rewrite(page[:start] + page[end:])
    with pytest.raises(ValueError, match="unknown settings table 'limits'"):
        rewrite(page.replace("settings table: models.ALIAS (", "settings table: limits ("))


def test_every_server_setting_has_its_environment_variable(tmp_path: Path) -> None:
    """Each `[server]` field is read from LLMGW_<NAME>: set to its default's environment form, every
    one is taken (and named as an override) and the result equals the defaults."""
    defaults = ServerConfig()
    env: dict[str, str] = {}
    for name, value in defaults.model_dump().items():
        form = (
            "auto" if value is None else ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        )
        env[ENV_VARS[name]] = form
    assert set(env) == {f"LLMGW_{name.upper()}" for name in ServerConfig.model_fields}
    loaded = load(write(tmp_path, ""), env)
    assert loaded.env_overrides == env
    assert loaded.config.server == defaults


def test_a_setting_may_name_its_own_environment_variable() -> None:
    class Server(BaseModel):
        port: int = 1
        listen: Annotated[str, EnvName("LLMGW_BIND")] = ""

    assert [env_var(n, f) for n, f in Server.model_fields.items()] == ["LLMGW_PORT", "LLMGW_BIND"]


# -- base URLs as users copy them ----------------------------------------------------------------

ANTHROPIC = "https://api.anthropic.com"
GEMINI = "https://generativelanguage.googleapis.com"


@pytest.mark.parametrize(
    ("type_", "given", "effective"),
    [
        # The Anthropic SDK's base URL has no /v1 (it appends /v1/messages): both spellings work.
        ("anthropic", ANTHROPIC, f"{ANTHROPIC}/v1"),
        ("anthropic", f"{ANTHROPIC}/", f"{ANTHROPIC}/v1"),
        ("anthropic", f"{ANTHROPIC}/v1", f"{ANTHROPIC}/v1"),
        ("anthropic", f"{ANTHROPIC}/v1/", f"{ANTHROPIC}/v1"),
        ("anthropic", "https://api.deepseek.com/anthropic", "https://api.deepseek.com/anthropic/v1"),
        # google-genai's base URL has no version (it appends /v1beta); /v1 and /v1beta are kept.
        ("gemini", GEMINI, f"{GEMINI}/v1beta"),
        ("gemini", f"{GEMINI}/", f"{GEMINI}/v1beta"),
        ("gemini", f"{GEMINI}/v1beta/", f"{GEMINI}/v1beta"),
        ("gemini", f"{GEMINI}/v1", f"{GEMINI}/v1"),
        ("gemini", f"{GEMINI}/v1alpha", f"{GEMINI}/v1alpha"),
        # OpenAI-format roots: only an empty path is completed (compatible servers have other paths).
        ("openai", "https://api.openai.com", "https://api.openai.com/v1"),
        ("openai", "https://api.openai.com/", "https://api.openai.com/v1"),
        ("openai", "https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("openai", "https://proxy.example/openai", "https://proxy.example/openai"),
        ("openrouter", "https://openrouter.ai", "https://openrouter.ai/api/v1"),
        ("openrouter", "https://openrouter.ai/api", "https://openrouter.ai/api/v1"),
        ("openrouter", "https://openrouter.ai/api/v1/", "https://openrouter.ai/api/v1"),
        ("openai-compatible", "http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("openai-compatible", "https://api.groq.com/openai/v1/", "https://api.groq.com/openai/v1"),
    ],
)
def test_base_urls_are_accepted_as_the_sdks_spell_them(
    tmp_path: Path, type_: str, given: str, effective: str
) -> None:
    path = write(tmp_path, f"[providers.p]\ntype = '{type_}'\nbase_url = '{given}'\n")
    p = load(path, {}).config.providers["p"]
    assert p.url == effective
    assert p.base_url == given.rstrip("/")  # what the user wrote stays visible (config check)


@pytest.mark.parametrize(
    ("type_", "given", "right"),
    [
        ("anthropic", f"{ANTHROPIC}/v1/messages", f"{ANTHROPIC}/v1"),
        ("openai", "https://api.openai.com/v1/chat/completions", "https://api.openai.com/v1"),
        ("openai-compatible", "http://127.0.0.1:8000/v1/embeddings", "http://127.0.0.1:8000/v1"),
        ("gemini", f"{GEMINI}/v1beta/models/gemini-2.0-flash:generateContent", f"{GEMINI}/v1beta"),
    ],
)
def test_an_endpoint_pasted_as_base_url_is_refused_with_the_root(
    tmp_path: Path, type_: str, given: str, right: str
) -> None:
    path = write(tmp_path, f"[providers.p]\ntype = '{type_}'\nbase_url = '{given}'\n")
    with pytest.raises(ConfigError) as info:
        load(path, {})
    assert f"{path}: [providers.p] base_url:" in str(info.value)
    assert f"use {right!r}" in str(info.value)


# -- production mode, CORS, cookies and proxies --------------------------------------------------


def test_production_settings_default_to_development_with_cors_off(tmp_path: Path) -> None:
    s = load(write(tmp_path, ""), {}).config.server
    assert (s.env, s.cors_origins, s.cookie_secure, s.trusted_proxies) == ("development", (), None, ())
    assert not s.production and not s.secure_cookies  # auto: Secure only in production


def test_production_settings_from_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[server]\nenv = "production"\n'
        'cors_origins = ["https://App.Example.com", "http://localhost:5173", "https://b.example:443"]\n'
        'trusted_proxies = ["10.0.0.0/8", "127.0.0.1", "fd00::/8"]\n',
    )
    s = load(path, {}).config.server
    assert s.production and s.secure_cookies and s.cookie_secure is None
    # as browsers send an Origin: lower case, no default port
    assert s.cors_origins == ("https://app.example.com", "http://localhost:5173", "https://b.example")
    assert s.trusted_proxies == ("10.0.0.0/8", "127.0.0.1/32", "fd00::/8")


def test_production_settings_from_the_environment(tmp_path: Path) -> None:
    env = {
        "LLMGW_ENV": "production",
        "LLMGW_CORS_ORIGINS": "https://a.example, https://b.example",
        "LLMGW_COOKIE_SECURE": "false",
        "LLMGW_TRUSTED_PROXIES": "192.168.1.10,::1",
    }
    s = load(write(tmp_path, '[server]\ncors_origins = ["https://c.example"]\n'), env).config.server
    assert s.env == "production" and s.cookie_secure is False and not s.secure_cookies
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.trusted_proxies == ("192.168.1.10/32", "::1/128")
    s = load(
        write(tmp_path, "[server]\ncookie_secure = true\n"), {"LLMGW_COOKIE_SECURE": "auto"}
    ).config.server
    assert s.cookie_secure is None
    assert load(write(tmp_path, ""), {"LLMGW_CORS_ORIGINS": ""}).config.server.cors_origins == ()


def test_a_wildcard_origin_is_a_setting_production_mode_refuses_later(tmp_path: Path) -> None:
    """`*` loads (development allows it, with a warning): `llmgw serve` and `config check` refuse it
    in production next to every other problem, not as a load error."""
    env = {"LLMGW_ENV": "production", "LLMGW_CORS_ORIGINS": "*"}
    assert load(write(tmp_path, ""), env).config.server.cors_origins == ("*",)


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("[server]\nenv = 'prod'\n", {}, "[server] env: Input should be 'development' or 'production'"),
        ("", {"LLMGW_ENV": "staging"}, "environment LLMGW_ENV: Input should be"),
        (
            "[server]\ncors_origins = ['https://app.example.com/']\n",
            {},
            "[server] cors_origins: Value error, 'https://app.example.com/' is not an origin "
            "(scheme://host[:port], no path): use 'https://app.example.com'",
        ),
        (
            "[server]\ncors_origins = ['https://app.example.com/v1']\n",
            {},
            "'https://app.example.com/v1' is not an origin (scheme://host[:port], no path): "
            "use 'https://app.example.com'",
        ),
        ("[server]\ncors_origins = ['app.example.com']\n", {}, "'app.example.com' is not an origin"),
        ("[server]\ncors_origins = ['null']\n", {}, "'null' is not an origin"),
        ("[server]\ncors_origins = ['ftp://a.example']\n", {}, "'ftp://a.example' is not an origin"),
        ("[server]\ncors_origins = ['*', 'https://a.example']\n", {}, "'*' must be the only origin"),
        ("", {"LLMGW_CORS_ORIGINS": "https://a.example/"}, "environment LLMGW_CORS_ORIGINS: "),
        (
            "[server]\ntrusted_proxies = ['proxy.internal']\n",
            {},
            "[server] trusted_proxies: Value error, 'proxy.internal'",
        ),
        (
            "",
            {"LLMGW_TRUSTED_PROXIES": "10.0.0.300"},
            "environment LLMGW_TRUSTED_PROXIES: Value error, '10.0.0.300'",
        ),
        ("[server]\ncookie_secure = 'maybe'\n", {}, "[server] cookie_secure:"),
    ],
)
def test_production_settings_errors_are_located(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, toml), env)
    assert message in str(info.value)


def test_the_portals_public_url_and_host_names(tmp_path: Path) -> None:
    toml = (
        '[server]\npublic_url = "https://LLM.Example.com:443/"\n'
        'allowed_hosts = ["Portal.Internal", "192.0.2.10", "[2001:DB8::1]"]\n'
    )
    s = load(write(tmp_path, toml), {}).config.server
    assert s.public_url == "https://llm.example.com"  # an origin, as browsers send one
    assert s.allowed_hosts == ("portal.internal", "192.0.2.10", "2001:db8::1")
    env = {"LLMGW_PUBLIC_URL": "http://localhost:4000", "LLMGW_ALLOWED_HOSTS": "a.example, b.example"}
    s = load(write(tmp_path, ""), env).config.server
    assert (s.public_url, s.allowed_hosts) == ("http://localhost:4000", ("a.example", "b.example"))
    s = load(write(tmp_path, ""), {}).config.server
    assert (s.public_url, s.allowed_hosts) == ("", ())


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        (
            "public_url = 'llm.example.com'",
            {},
            "[server] public_url: Value error, 'llm.example.com' is not an",
        ),
        ("public_url = 'https://llm.example.com/ui'", {}, "use 'https://llm.example.com'"),
        ("", {"LLMGW_PUBLIC_URL": "ftp://x.example"}, "environment LLMGW_PUBLIC_URL: "),
        (
            "allowed_hosts = ['https://a.example']",
            {},
            "[server] allowed_hosts: Value error, 'https://a.example'",
        ),
        (
            "allowed_hosts = ['a.example:8443']",
            {},
            "is not a host name (llm.example.com, 192.0.2.10; no scheme",
        ),
        ("", {"LLMGW_ALLOWED_HOSTS": "a.example,b example"}, "environment LLMGW_ALLOWED_HOSTS: "),
    ],
)
def test_the_portals_names_errors_are_located(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, f"[server]\n{toml}\n"), env)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("usage_retention_days = 0.5", "usage_retention_days: Value error, 0 (forever) or at least 1 day"),
        ("usage_retention_days = 0.01", "the portal's recent requests read raw rows"),
        ("rollup_retention_days = 30", "rollup_retention_days: Value error, 0 (forever) or at least 31 days"),
        ("rollup_retention_days = 1", "a month's budget is summed from them"),
    ],
)
def test_retention_too_short_for_what_reads_it_is_refused(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, f"[server]\n{toml}\n"))
    assert message in str(info.value)


@pytest.mark.parametrize(("usage", "rollups"), [(0, 0), (1, 31), (90, 400), (1.5, 0)])
def test_retention_at_or_past_the_minimums_loads(tmp_path: Path, usage: float, rollups: float) -> None:
    toml = f"[server]\nusage_retention_days = {usage}\nrollup_retention_days = {rollups}\n"
    server = load(write(tmp_path, toml)).config.server
    assert (server.usage_retention_days, server.rollup_retention_days) == (usage, rollups)


def test_the_default_provider_may_be_a_well_known_one_without_its_table(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, "[server]\ndefault_provider = 'openai'\n"), {})
    assert loaded.config.server.default_provider == "openai"
    loaded = load(write(tmp_path, ""), {"LLMGW_DEFAULT_PROVIDER": "gemini"})
    assert loaded.config.server.default_provider == "gemini"
    assert loaded.config.providers["gemini"].hosted_tools == "leave_out"
