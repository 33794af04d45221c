"""Production mode: what `llmgw serve` refuses to start with (each problem named, exit 2, nothing
listening) and what `llmgw config check` reports, while development accepts the same settings."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmgw.services.production import MIN_PROXY_KEY_CHARS, production_problems, start_warnings
from llmgw.settings import Config
from tests.conftest import UPSTREAM_KEY, provider
from tests.process.test_cli import llmgw
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

GOOD_KEY = "k" * MIN_PROXY_KEY_CHARS
SHORT_KEY = "short-proxy-key-0123456789abcde"  # 31 characters
assert len(SHORT_KEY) == MIN_PROXY_KEY_CHARS - 1


def server(**settings: Any) -> Config:
    return Config.model_validate({"server": {"env": "production", **settings}})


def with_auth_mode(config: Config, mode: str) -> Config:
    """`users` and `both` arrive with multi-user support (refused on load for now): set past validation."""
    return config.model_copy(update={"server": config.server.model_copy(update={"auth_mode": mode})})


# -- the rules, as a pure function -----------------------------------------------------------------


def test_a_safe_production_config_has_no_problem() -> None:
    cfg = server(cors_origins=["https://app.example.com"], public_url="https://llm.example.com")
    assert production_problems(cfg, no_auth=False, proxy_key=GOOD_KEY) == []
    assert start_warnings(cfg, no_auth=False) == []
    cfg = server(cookie_secure=False, trusted_proxies=["10.0.0.0/8"])  # TLS ends at a trusted proxy
    assert production_problems(cfg, no_auth=False, proxy_key=GOOD_KEY) == []
    for database in (
        "postgresql://llmgw@db.internal/llmgw",  # libpq's default, prefer
        "postgresql://llmgw@db.internal/llmgw?sslmode=verify-full",
        "postgresql://llmgw@127.0.0.1/llmgw?sslmode=disable",
        "postgresql:///llmgw?host=/run/postgresql&sslmode=disable",
    ):
        assert production_problems(server(database=database), no_auth=False, proxy_key=GOOD_KEY) == []


@pytest.mark.parametrize(
    ("settings", "no_auth", "key", "named"),
    [
        ({}, True, None, "--no-auth"),
        ({}, False, SHORT_KEY, f"proxy key has 31 characters; at least {MIN_PROXY_KEY_CHARS}"),
        ({"auth_mode": "legacy"}, False, None, "no proxy key"),
        ({"cookie_secure": False}, False, GOOD_KEY, "cookie_secure = false"),
        ({"cors_origins": ["*"]}, False, GOOD_KEY, 'cors_origins = ["*"]'),
        (
            {"database": "postgresql://llmgw@db.internal/llmgw?sslmode=disable"},
            False,
            GOOD_KEY,
            "sslmode=disable to db.internal",
        ),
        ({"public_url": "http://llm.example.com"}, False, GOOD_KEY, 'public_url = "http://llm.example.com"'),
    ],
)
def test_each_production_problem_alone(
    settings: dict[str, Any], no_auth: bool, key: str | None, named: str
) -> None:
    (problem,) = production_problems(server(**settings), no_auth=no_auth, proxy_key=key)
    assert named in problem
    # development accepts the very same settings
    dev = Config.model_validate({"server": {**settings, "env": "development"}})
    assert production_problems(dev, no_auth=no_auth, proxy_key=key) == []


def test_the_default_auth_mode_needs_no_proxy_key_in_production() -> None:
    """`both`, the default: personal keys only until a proxy key is set; a short one is still refused."""
    assert server().server.auth_mode == "both"
    assert production_problems(server(), no_auth=False, proxy_key=None) == []
    (problem,) = production_problems(server(), no_auth=False, proxy_key=SHORT_KEY)
    assert 'auth_mode = "both"' in problem


def test_every_production_problem_together_each_named_never_the_key() -> None:
    cfg = server(cookie_secure=False, cors_origins=["*"])
    problems = production_problems(cfg, no_auth=False, proxy_key=SHORT_KEY)
    assert len(problems) == 3
    assert all(SHORT_KEY not in p for p in problems)
    problems = production_problems(cfg, no_auth=True, proxy_key=None)
    assert len(problems) == 3 and "--no-auth" in problems[0]  # no key is no second problem then


def test_the_key_length_rule_follows_the_auth_mode() -> None:
    both = with_auth_mode(server(), "both")
    (problem,) = production_problems(both, no_auth=False, proxy_key=SHORT_KEY)
    assert 'auth_mode = "both"' in problem
    assert production_problems(both, no_auth=False, proxy_key=GOOD_KEY) == []
    assert production_problems(both, no_auth=False, proxy_key=None) == []  # users' own keys only
    users = with_auth_mode(server(), "users")
    assert production_problems(users, no_auth=False, proxy_key=SHORT_KEY) == []  # never accepted


def test_development_warns_of_a_wildcard_origin_and_of_origins_no_auth_refuses() -> None:
    dev = Config.model_validate({"server": {"cors_origins": ["*"]}})
    (warning,) = start_warnings(dev, no_auth=False)
    assert 'cors_origins = ["*"]' in warning and "production" in warning
    listed = Config.model_validate(
        {"server": {"cors_origins": ["https://a.example", "http://localhost:3000"]}}
    )
    assert start_warnings(listed, no_auth=False) == []
    (warning,) = start_warnings(listed, no_auth=True)
    assert "https://a.example" in warning and "localhost:3000" not in warning


@pytest.mark.parametrize(
    ("settings", "warned"),
    [
        ({"env": "production"}, True),  # behind a proxy the portal would answer nothing but loopback
        ({"env": "production", "public_url": "https://llm.example.com"}, False),
        ({"env": "production", "allowed_hosts": ["llm.example.com"]}, False),
        ({"host": "0.0.0.0"}, True),  # development, every interface: which name is not known
        ({"host": "192.0.2.10"}, False),  # development answers to the address it listens on
        ({}, False),  # development on loopback
    ],
)
def test_a_portal_without_a_public_name_is_warned_of(settings: dict[str, Any], warned: bool) -> None:
    said = start_warnings(Config.model_validate({"server": settings}), no_auth=False)
    assert bool(said) == warned, said
    if warned:
        (warning,) = said
        assert "public_url" in warning and "localhost" in warning


# -- llmgw serve, a real process -------------------------------------------------------------------


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def refused(tmp_path: Path, toml: str, env: dict[str, str], args: tuple[str, ...] = ()) -> str:
    """Starts `llmgw serve`, expects exit code 2 with nothing listening; returns what it said."""
    gw = GatewayProcess(tmp_path, toml, {"DBUS_SESSION_BUS_ADDRESS": "", **env}, args=args)
    try:
        with pytest.raises(RuntimeError, match="gateway exited with 2"):
            gw.start()
    finally:
        if gw.proc is not None and gw.proc.poll() is None:  # it started after all: stop it
            gw.stop()
    assert not listening(gw.port)
    assert "Traceback" not in gw.log()
    return gw.log()


@pytest.mark.parametrize(
    ("toml", "env", "args", "named"),
    [
        ('env = "production"\n', {}, ("--no-auth",), "--no-auth"),
        ('env = "production"\n', {"LLMGW_PROXY_KEY": SHORT_KEY}, (), "proxy key has 31 characters"),
        (
            "cookie_secure = false\n",
            {"LLMGW_ENV": "production", "LLMGW_PROXY_KEY": GOOD_KEY},
            (),
            "cookie_secure",
        ),
        ('env = "production"\ncors_origins = ["*"]\n', {"LLMGW_PROXY_KEY": GOOD_KEY}, (), "cors_origins"),
    ],
)
def test_serve_refuses_each_problem_in_production(
    tmp_path: Path, toml: str, env: dict[str, str], args: tuple[str, ...], named: str
) -> None:
    said = refused(tmp_path, toml, env, args)
    assert "production mode" in said and named in said
    assert said.count("\n  - ") == 1


def test_serve_names_every_problem_at_once(tmp_path: Path) -> None:
    toml = 'env = "production"\ncookie_secure = false\ncors_origins = ["*"]\n'
    said = refused(tmp_path, toml, {"LLMGW_PROXY_KEY": SHORT_KEY})
    assert said.count("\n  - ") == 3 and SHORT_KEY not in said
    assert "proxy key has 31 characters" in said and "cookie_secure" in said and "cors_origins" in said
    (tmp_path / "again").mkdir()
    said = refused(tmp_path / "again", toml, {}, ("--no-auth", "--host", "0.0.0.0"))
    assert said.count("\n  - ") == 3 and "--no-auth" in said


def test_development_serves_the_same_settings_warning_of_the_wildcard(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    toml = 'cookie_secure = false\ncors_origins = ["*"]\n' + provider("up", fake.base_url)
    env = {"LLMGW_PROXY_KEY": SHORT_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, toml, env) as gw:
        assert httpx.get(f"{gw.base_url}/healthz").status_code == 200
    assert 'WARNING llmgw cors_origins = ["*"]: any web page may call /v1/*' in gw.log()


def test_production_serves_a_safe_config(fake: FakeOpenAI, tmp_path: Path) -> None:
    toml = 'env = "production"\ncors_origins = ["https://app.example.com"]\n' + provider("up", fake.base_url)
    env = {"LLMGW_PROXY_KEY": GOOD_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, toml, env) as gw:
        assert httpx.get(f"{gw.base_url}/healthz").status_code == 200
    assert "cors_origins" not in gw.log()


# -- llmgw config check ----------------------------------------------------------------------------


def test_config_check_lists_the_problems_in_production(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[server]\nenv = "production"\ncookie_secure = false\ncors_origins = ["*"]\n')
    r = llmgw("config", "check", "--config", str(cfg), env={"LLMGW_PROXY_KEY": SHORT_KEY})
    assert r.returncode == 2
    assert 'env = "production"' in r.stdout and "cookie_secure = false" in r.stdout  # still shown
    assert r.stderr.count("\n  - ") == 3 and "configuration OK" not in r.stderr
    assert "proxy key has 31 characters" in r.stderr and SHORT_KEY not in r.stdout + r.stderr

    cfg.write_text('[server]\nenv = "production"\n')
    r = llmgw("config", "check", "--config", str(cfg), env={"LLMGW_PROXY_KEY": GOOD_KEY})
    assert r.returncode == 0 and "configuration OK" in r.stderr
    assert "# cookie_secure (auto) = true" in r.stdout


def test_config_check_in_development_warns_and_passes(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[server]\ncookie_secure = false\ncors_origins = ["*"]\n')
    r = llmgw("config", "check", "--config", str(cfg), env={"LLMGW_PROXY_KEY": SHORT_KEY})
    assert r.returncode == 0 and "configuration OK" in r.stderr
    assert 'warning: cors_origins = ["*"]' in r.stderr
    assert 'cors_origins = ["*"]' in r.stdout
