"""A ledger of known rows for the request log's tests (service, portal, browser, TUI): an administrator
(root) and two users (ann, ben) with one key each, and 60 requests every 5 minutes over the 5 hours
before `NOW`, spread over users, keys (and the proxy key: no user), models and outcomes by fixed rules;
two of them at the same instant, to test paging's tie-break. Tests compare what the log shows with a
plain filter of `Seeded.rows`."""

from __future__ import annotations

from dataclasses import dataclass

from llmgw.services import keys, users
from llmgw.services.audit import Actor
from llmgw.services.keys import Key
from llmgw.services.users import User
from llmgw.storage import Store, UsageRow

NOW = 1_796_128_830.0  # 2026-12-01 12:40:30 UTC
START = NOW - 5 * 3600
PASSWORD = "a long enough password"
ADMIN = Actor("cli:admin")
MODELS = ("fast", "fast", "up/gpt-4o-mini", "=HYPERLINK(1)")  # the last one looks like a formula
TIED = ("req_010", "req_011")  # same created_at


@dataclass(frozen=True)
class Seeded:
    root: User
    ann: User
    ben: User
    ann_key: Key
    ben_key: Key
    rows: list[UsageRow]

    def newest_first(self, rows: list[UsageRow] | None = None) -> list[str]:
        chosen = self.rows if rows is None else rows
        return [
            r.request_id for r in sorted(chosen, key=lambda r: (r.created_at, r.request_id), reverse=True)
        ]


def outcome(i: int) -> tuple[int, str | None, str | None]:
    """(status, error code, error kind) of the i-th request: some refusals, some failures, one stream
    cut."""
    if i % 5 == 0:
        return 502, "upstream_error", "upstream"
    if i % 7 == 0:
        return 429, "budget_exceeded", "policy"
    if i % 11 == 0:
        return 400, "invalid_request_error", "client"
    if i == 13:
        return 200, "stream_cut", "upstream"  # an error after the 200 went out
    return 200, None, None


def seed(store: Store) -> Seeded:
    root = users.create_user(store, ADMIN, "root", PASSWORD, role="admin")
    ann = users.create_user(store, ADMIN, "ann", PASSWORD)
    ben = users.create_user(store, ADMIN, "ben", PASSWORD)
    ann_key = keys.create_key(store, ADMIN, "ann", "laptop").key
    ben_key = keys.create_key(store, ADMIN, "ben", "ci").key
    owners = ((ann.id, ann_key.id), (ben.id, ben_key.id), (None, None))
    rows = []
    for i in range(60):
        user_id, key_id = owners[i % 3]
        status, code, kind = outcome(i)
        rows.append(
            UsageRow(
                request_id=f"req_{i:03d}",
                created_at=START + 300 * (10 if i == 11 else i),
                endpoint="/v1/chat/completions",
                provider="up",
                model_requested=MODELS[i % 4],
                model_upstream="gpt-4o-mini",
                status=status,
                error_type=code,
                error_kind=kind,
                prompt_tokens=10 + i,
                completion_tokens=5,
                total_tokens=15 + i,
                cost_usd=None if i % 4 == 3 else 0.001 * i,
                latency_ms=100.0 + i,
                streamed=i % 2 == 0,
                user_id=user_id,
                api_key_id=key_id,
            )
        )
    store.insert_requests(rows)
    return Seeded(root, ann, ben, ann_key, ben_key, rows)
