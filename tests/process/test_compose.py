"""packaging/compose.yaml, its Caddyfile and packaging/Containerfile agree with llmgw and with each other.

No container engine runs here, so what can be checked without one is: every LLMGW_* variable the compose
file gives the gateway is a setting or a secret's variable; production mode accepts what it sets (the
checks `llmgw serve` runs); the health check is a command the executable has; Caddy proxies to the port
the image listens on, and Caddy itself accepts the Caddyfile (when `caddy` is installed); and the file is
a valid compose file for `docker-compose config` (when installed: Debian's, Compose v1, which predates
the top-level `name`, so that one key is left out for it).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmgw.cli import MODULES
from llmgw.server.os_limits import descriptors_needed
from llmgw.services import credentials, production
from llmgw.settings import ServerConfig, load
from llmgw.settings.environment import FILE_SUFFIX, effective_environment
from llmgw.settings.locations import CONFIG_ENV
from llmgw.settings.providers import WELL_KNOWN_PROVIDERS
from llmgw.settings.server import ENV_VARS

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
COMPOSE = PACKAGING / "compose.yaml"
CADDYFILE = PACKAGING / "compose" / "Caddyfile"
CONTAINERFILE = PACKAGING / "Containerfile"
DOMAIN = "llm.example.com"
# ${NAME}, ${NAME:-default}, ${NAME:?error}: compose's interpolation
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}")


def interpolate(text: str, environ: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        if match["name"] in environ:
            return environ[match["name"]]
        if match["op"] == ":-":
            return match["arg"]
        raise AssertionError(f"{match[0]} is required and not set")

    return INTERPOLATION.sub(value, text)


def compose(environ: dict[str, str] | None = None) -> dict[str, Any]:
    text = interpolate(COMPOSE.read_text(encoding="utf-8"), {"LLMGW_DOMAIN": DOMAIN, **(environ or {})})
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def image_env() -> dict[str, str]:
    """The Containerfile's ENV (one instruction, continued lines of KEY=VALUE)."""
    text = CONTAINERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("ENV ")]
    return dict(item.split("=", 1) for item in line.split()[1:])


def instruction(name: str) -> str:
    (line,) = [
        line for line in CONTAINERFILE.read_text(encoding="utf-8").splitlines() if line.startswith(name)
    ]
    return line.removeprefix(name).strip()


def gateway() -> dict[str, Any]:
    service: dict[str, Any] = compose()["services"]["llmgw"]
    return service


def secret_variables() -> set[str]:
    """The variables a secret is read from: providers' keys, the proxy key, the alert webhook."""
    keys = {credentials.env_var_name(p, i) for p in WELL_KNOWN_PROVIDERS for i in (1, 2, 3)}
    return keys | {credentials.PROXY_KEY_ENV, credentials.BUDGET_ALERT_WEBHOOK_ENV}


def test_the_interpolation_refuses_a_missing_domain() -> None:
    with pytest.raises(AssertionError, match="LLMGW_DOMAIN"):
        interpolate(COMPOSE.read_text(encoding="utf-8"), {})
    assert interpolate("${A:-x}/${B}", {"B": "y"}) == "x/y"


def test_every_llmgw_variable_is_a_setting_or_a_secret() -> None:
    env = gateway()["environment"]
    assert isinstance(env, dict) and env
    settings, secrets = set(ENV_VARS.values()) | {CONFIG_ENV}, secret_variables()
    listed = set(gateway()["secrets"])
    for name, value in env.items():
        assert name.startswith("LLMGW_"), name
        if name.endswith(FILE_SUFFIX):  # Docker's secrets: the value's file, in /run/secrets/
            assert name.removesuffix(FILE_SUFFIX) in secrets | settings, name
            assert value.startswith("/run/secrets/") and value.removeprefix("/run/secrets/") in listed
        else:
            assert name in settings, f"{name} is no llmgw setting (docs/CONFIGURATION.md)"
            assert name not in secrets, f"{name}: a secret in plain sight; use {name}_FILE and a secret"
    for name in image_env():
        assert not name.startswith("LLMGW_") or name in settings, name


def test_every_secret_is_a_file_the_compose_file_defines() -> None:
    defined = compose()["secrets"]
    for name in gateway()["secrets"]:
        assert set(defined[name]) == {"file"} and defined[name]["file"].startswith("./secrets/"), name
    ignored = (PACKAGING.parent / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "packaging/secrets/" in ignored  # the key files never get committed


def test_production_mode_accepts_what_it_sets(tmp_path: Path) -> None:
    env = {**image_env(), **gateway()["environment"]}
    for name, path in list(env.items()):  # each secret's file, as compose mounts it in /run/secrets/
        if name.endswith(FILE_SUFFIX):
            local = tmp_path / Path(path).name
            local.write_text(f"sk-{local.name}-0123456789\n", encoding="utf-8")
            env[name] = str(local)
    empty = tmp_path / "llmgw.toml"  # the image's own llmgw.toml is as empty
    empty.write_text("", encoding="utf-8")
    env[CONFIG_ENV] = str(empty)
    assert effective_environment(env)["LLMGW_OPENAI_API_KEY"] == "sk-openai_api_key-0123456789"
    config = load(None, environ=env).config
    server = config.server
    assert server.production and server.public_url == f"https://{DOMAIN}"
    assert server.host == "0.0.0.0" and server.secure_cookies
    assert production.production_problems(config, no_auth=False, proxy_key=None) == []
    assert production.start_warnings(config, no_auth=False) == []
    # and the check can fail: the same deployment over plain http is refused
    plain = load(None, environ={**env, "LLMGW_PUBLIC_URL": f"http://{DOMAIN}"})
    assert production.production_problems(plain.config, no_auth=False, proxy_key=None)


def test_the_trusted_proxies_are_the_compose_network() -> None:
    (network,) = compose()["networks"].values()
    (subnet,) = [entry["subnet"] for entry in network["ipam"]["config"]]
    trusted = gateway()["environment"]["LLMGW_TRUSTED_PROXIES"]
    assert ipaddress.ip_network(trusted) == ipaddress.ip_network(subnet)
    assert ipaddress.ip_network(subnet).is_private
    for service in compose()["services"].values():
        assert service["networks"] == list(compose()["networks"])  # Caddy and llmgw only, on it


def test_the_health_check_is_the_images_and_the_command_exists() -> None:
    test = gateway()["healthcheck"]["test"]
    assert test == ["CMD", "llmgw", "healthcheck"] and "healthcheck" in MODULES
    assert instruction("HEALTHCHECK").endswith('CMD ["llmgw", "healthcheck"]')
    caddy = compose()["services"]["caddy"]
    assert caddy["depends_on"]["llmgw"]["condition"] == "service_healthy"


def test_the_volume_and_the_stop_grace_fit_the_image() -> None:
    service = gateway()
    assert service["volumes"][0].split()[0] == "llmgw-data:/data"
    assert instruction("VOLUME") == '["/data"]'
    assert image_env()["LLMGW_DATABASE"].startswith("/data/") and image_env()[CONFIG_ENV].startswith("/data/")
    grace = ServerConfig.model_fields["shutdown_grace"].default
    assert int(service["stop_grace_period"].removesuffix("s")) > grace  # the drain ends before SIGKILL
    # Two descriptors per stream: the default backlog's worth of streams without the start's warning.
    backlog = ServerConfig.model_fields["backlog"].default
    assert service["ulimits"]["nofile"] >= descriptors_needed(backlog)
    assert service["restart"] == "unless-stopped" and "ports" not in service  # only Caddy is published


def test_caddy_proxies_to_the_port_the_image_listens_on() -> None:
    text = CADDYFILE.read_text(encoding="utf-8")
    (upstream,) = re.findall(r"^\s*reverse_proxy\s+(\S+)", text, flags=re.MULTILINE)
    host, _, port = upstream.rpartition(":")
    assert host == "llmgw" and "llmgw" in compose()["services"]
    assert port == image_env()["LLMGW_PORT"] == instruction("EXPOSE")
    assert gateway()["expose"] == [port]
    assert re.search(r"^\s*flush_interval -1$", text, flags=re.MULTILINE)  # SSE passes at once
    assert 'Strict-Transport-Security "max-age=31536000"' in text
    assert re.search(r"^\{\$LLMGW_DOMAIN\} \{$", text, flags=re.MULTILINE)
    caddy = compose()["services"]["caddy"]
    assert caddy["environment"]["LLMGW_DOMAIN"] == DOMAIN
    assert "./compose/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]


def test_caddy_accepts_the_caddyfile() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed (scripts/install-system-deps)")
    env = {**os.environ, "LLMGW_DOMAIN": DOMAIN}
    done = subprocess.run(
        [caddy, "adapt", "--adapter", "caddyfile", "--config", str(CADDYFILE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert '"dial":"llmgw:4000"' in done.stdout and f'"host":["{DOMAIN}"]' in done.stdout
    assert '"flush_interval":-1' in done.stdout


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (scripts/install-system-deps)")
    text = COMPOSE.read_text(encoding="utf-8")
    copy = tmp_path / "compose.yaml"  # beside the files it names, as in packaging/
    copy.write_text(re.sub(r"^name: .*\n", "", text, flags=re.MULTILINE), encoding="utf-8")
    (tmp_path / "compose").mkdir()
    shutil.copy(CADDYFILE, tmp_path / "compose" / "Caddyfile")
    env = {**os.environ, "LLMGW_DOMAIN": DOMAIN}
    done = subprocess.run(
        [tool, "-f", str(copy), "config", "--quiet"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    broken = copy.read_text(encoding="utf-8").replace("stop_grace_period:", "stop_grace_periods:")
    copy.write_text(broken, encoding="utf-8")
    refused = subprocess.run(
        [tool, "-f", str(copy), "config", "--quiet"], capture_output=True, text=True, env=env, timeout=60
    )
    assert refused.returncode != 0 and "stop_grace_periods" in refused.stdout + refused.stderr
