"""`llmgw run [--model M] [--gateway URL] -- claude|codex|gemini [ARGS…]`: starts a coding agent pointed
at the gateway, with the user's own key, in one line. What each agent is given is
`services.agent_launch.agent_env`'s (and its docstring says why); this module finds the pieces and
becomes the agent.

- The gateway: `--gateway`, else `$LLMGW_URL`, else the configured `[server]` address (an any-address
  listener reached on loopback).
- The key: `$LLMGW_API_KEY`, else the file `llmgw key save` wrote. It goes to the agent in its
  environment only, never in an argument (`ps` shows those to everyone).
- `LLMGW_URL` and `LLMGW_API_KEY` may be given as `…_FILE` (the effective environment,
  `settings.environment`); the agent inherits this process's own environment, never a value read
  from a file (the gateway's provider keys included), plus what `agent_env` sets.
- On POSIX the process becomes the agent (`execve`): signals, the terminal and the exit code are the
  agent's own. Elsewhere the agent runs as a child and its exit code is passed on.

Errors (exit codes of `cli/exit_codes.py`): 2 no key, a gateway URL that is not http(s), a bad
configuration; 127 the agent is not on PATH (with how to install it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping

from llmgw.errors import AgentNotFound, LaunchError
from llmgw.services import agent_launch, gemini_settings, saved_key
from llmgw.settings import load
from llmgw.settings.environment import effective_environment

URL_ENV = "LLMGW_URL"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run",
        help="start a coding agent (claude, codex, gemini) on this gateway with your key",
        description="Start a coding agent with its environment pointed at the gateway, e.g. "
        "`llmgw run --model fast -- claude`. The key comes from $LLMGW_API_KEY or `llmgw key save`.",
    )
    run.add_argument("--model", help="the model (a route or alias) the agent uses")
    run.add_argument(
        "--gateway", metavar="URL", help=f"the gateway's URL (default ${URL_ENV}, else [server])"
    )
    run.add_argument("--config", metavar="FILE", help="the configuration whose [server] address to use")
    run.add_argument(
        "--gemini-auth",
        action="store_true",
        help='set security.auth.selectedType = "gemini-api-key" in your ~/.gemini/settings.json (the '
        "rest kept): Gemini CLI needs it to use the gateway, and reads llmgw's own settings file only "
        "when root owns it",
    )
    run.add_argument("agent", choices=agent_launch.AGENTS, help="the agent to start")
    run.add_argument("agent_args", nargs=argparse.REMAINDER, metavar="ARGS", help="the agent's own arguments")


def gateway_url(flag: str | None, environ: Mapping[str, str], config_path: str | None) -> str:
    """The gateway's root URL, checked: the flag, the variable, or the configured listener."""
    if flag:
        return agent_launch.check_gateway_url(flag)
    if environ.get(URL_ENV):
        return agent_launch.check_gateway_url(environ[URL_ENV])
    server = load(config_path).config.server
    return agent_launch.check_gateway_url(agent_launch.listen_url(server.host, server.port))


def find_key(environ: Mapping[str, str]) -> str:
    try:
        found = saved_key.find_key(environ)
    except ValueError as exc:
        raise LaunchError(str(exc)) from None
    if found is None:
        raise LaunchError(
            f"no key: save yours once with `llmgw key save` (it asks for it), or set {saved_key.KEY_ENV}"
        )
    if found.warning:
        print(f"warning: {found.warning}", file=sys.stderr)
    return found.value


def ask(question: str) -> bool:
    """A yes from the terminal; no when stdin is not one (headless: never a question)."""
    if not sys.stdin.isatty():
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def run(args: argparse.Namespace) -> int:
    agent: agent_launch.Agent = args.agent
    agent_args = list(args.agent_args)
    if agent_args[:1] == ["--"]:  # `llmgw run claude -- -p hi`
        agent_args = agent_args[1:]
    environ = dict(os.environ)
    effective = effective_environment(environ)  # what llmgw reads; `environ` is what the agent gets
    url = gateway_url(args.gateway, effective, args.config)
    key = find_key(effective)
    launch = agent_launch.agent_env(agent, url, key, args.model)
    env = launch.apply(environ)
    program = shutil.which(agent, path=env.get("PATH", os.defpath))
    if program is None:
        raise AgentNotFound(
            f"{agent} is not on PATH; install it ({agent_launch.INSTALL_HINTS[agent]}) and try again"
        )
    if agent == "gemini":
        env.update(gemini_settings.prepare(environ))
        if (warning := gemini_settings.settings_warning(environ)) is not None:
            if args.gemini_auth or ask(f"{warning}.\nSet it now? [y/N] "):
                written = gemini_settings.choose_api_key_auth(environ)
                print(f"llmgw: Gemini CLI's auth type set in {written}", file=sys.stderr)
            else:
                print(f"warning: {warning}", file=sys.stderr)
    argv = [agent, *launch.args, *agent_args]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(program, argv, env)  # does not return
    return subprocess.call([program, *argv[1:]], env=env)
