"""scripts/icount's pure parts and its seeded ledger: which cases run in users mode with which limits,
what the check after the counted run sets tiny, the client's bodies, and the user, key and limits
`seed` makes through llmgw.services. No valgrind, no process, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgw.storage import LimitValues, Store
from tests.support.scripts import load_script

ic = load_script("icount", "icount")


def test_the_first_cases_are_unchanged_and_the_personal_ones_follow() -> None:
    assert ic.CASES == (
        "chat",
        "responses",
        "responses-translated",
        "chat-users",
        "chat-limits",
        "chat-budget",
    )


@pytest.mark.parametrize("case", ["chat", "chat-users", "chat-limits", "chat-budget"])
def test_chat_cases_send_chat_completions_to_the_openai_compatible_provider(case: str) -> None:
    assert ic.path(case) == "/v1/chat/completions"
    assert ic.client_body(case, stream=True) == {
        "model": "fake/chunks-20",
        "stream": True,
        "messages": [{"role": "user", "content": "Hello"}],
    }


def test_responses_cases_keep_their_paths_providers_and_bodies() -> None:
    assert ic.path("responses") == ic.path("responses-translated") == "/v1/responses"
    assert ic.client_body("responses", stream=False) == {"model": "fakeoai/chunks-20", "input": "Hello"}
    assert ic.client_body("responses-translated", stream=False) == {
        "model": "fake/chunks-20",
        "input": "Hello",
    }


def test_limits_never_reached_only_on_the_limited_cases() -> None:
    assert ic.limits_of("chat") == ic.limits_of("chat-users") == {}
    assert ic.limits_of("chat-limits") == {"rpm": ic.NEVER, "tpm": ic.NEVER}
    assert ic.limits_of("chat-budget") == {"rpm": ic.NEVER, "tpm": ic.NEVER, "budget_usd": ic.BUDGET_USD}
    assert ic.NEVER >= 10**6 and ic.BUDGET_USD >= 1000  # a run of hundreds of requests stays far under


def test_every_limit_of_the_user_and_of_the_key_is_probed_with_a_tiny_value_and_its_refusal() -> None:
    assert ic.probes("chat-users") == []
    assert ic.probes("chat-limits") == [("user", "rpm"), ("key", "rpm"), ("user", "tpm"), ("key", "tpm")]
    probed = ic.probes("chat-budget")
    assert {limit for _, limit in probed} == set(ic.limits_of("chat-budget"))
    assert all(
        (subject, limit) in probed for subject in ("user", "key") for limit in ic.limits_of("chat-budget")
    )
    for limit in ic.limits_of("chat-budget"):
        assert 0 < ic.TINY[limit] < ic.limits_of("chat-budget")[limit]
        assert ic.REFUSAL[limit]


def test_seed_makes_one_user_and_its_key_with_the_cases_limits_on_both(tmp_path: Path) -> None:
    db = tmp_path / "seed.db"
    made = ic.seed(db, "chat-budget")
    assert made["token"].startswith("llmgw-") and made["key"] in made["token"]
    store = Store.open(str(db))
    try:
        rows = {(row.scope, row.subject): row.values for row in store.limit_rows()}
    finally:
        store.close()
    values = LimitValues(rpm=ic.NEVER, tpm=ic.NEVER, budget_usd=ic.BUDGET_USD, period="month")
    assert rows == {("user", ic.USER): values, ("key", made["key"]): values}


def test_seed_of_the_users_case_sets_no_limits(tmp_path: Path) -> None:
    db = tmp_path / "seed.db"
    ic.seed(db, "chat-users")
    store = Store.open(str(db))
    try:
        assert store.limit_rows() == []
    finally:
        store.close()
