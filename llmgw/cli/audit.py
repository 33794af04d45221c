"""`llmgw audit [--since] [--json]`: the audit log, oldest first. Exit codes: 0, 2 bad --since or config."""

from __future__ import annotations

import argparse
import json
import sys
import time

from llmgw.cli.tables import format_table, iso_time
from llmgw.cli.usage import add_report_options, parse_since
from llmgw.services import audit
from llmgw.services.database import open_store
from llmgw.settings import load


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_report_options(
        sub.add_parser("audit", help="show the audit log: account, key and secret changes, logins")
    )


def run(args: argparse.Namespace) -> int:
    config = load(args.config).config
    try:
        since = parse_since(args.since, time.time()) if args.since else None
    except ValueError as exc:
        print(f"llmgw: --since: {exc}", file=sys.stderr)
        return 2
    with open_store(config) as store:
        entries = audit.entries(store, audit.Actor.cli(), since)
    if args.json:
        print(json.dumps([{**e.to_json(), "at": iso_time(e.at)} for e in entries], indent=2))
    elif not entries:
        print("no audit entries" + (" in that period" if since is not None else ""))
    else:
        rows = [[iso_time(e.at), e.actor, e.action, _target(e), e.client_address, e.detail] for e in entries]
        print(format_table(("time", "actor", "action", "target", "client", "detail"), rows))
    return 0


def _target(entry: audit.AuditEntry) -> str | None:
    if entry.target is None and entry.target_id is None:
        return None
    if entry.target_type == "key":
        return f"key {entry.target_id} ({entry.target})"
    return f"{entry.target_type} {entry.target or entry.target_id}"
