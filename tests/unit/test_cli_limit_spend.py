"""`llmgw limit list` and `llmgw usage --user NAME` with the spend against each budget: amounts with
their digits, what remains, the percentage used."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from llmgw import cli
from llmgw.services import limits
from llmgw.services.audit import Actor
from llmgw.storage import Store, UsageRow
from tests.support.accounts_rows import add_key, add_user


@pytest.fixture
def config(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "llmgw.db"
    path = tmp_path / "llmgw.toml"
    path.write_text(f"[server]\ndatabase = '{db}'\n", encoding="utf-8")
    Store.open(db).close()
    ada = add_user(db, "ada")
    key = add_key(db, ada, name="laptop")
    now = time.time()
    with Store.open(db) as store:
        limits.set_limits(store, Actor.cli(), "ada", budget_usd=0.01, period="day", rpm=30)
        limits.set_limits(store, Actor.cli(), key.public_id, tpm=5000)
        store.insert_requests(
            [
                UsageRow(
                    request_id="r1",
                    created_at=now,
                    endpoint="/v1/chat/completions",
                    provider="oai",
                    model_requested="oai/gpt-4o-mini",
                    status=200,
                    user_id=ada,
                    api_key_id=key.key_id,
                    usage_source="provider",
                    cost_usd=0.0025,
                )
            ]
        )
    return path, key.public_id


def llmgw(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_limit_list_shows_spend_against_budget(
    config: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, key = config
    code, out, _ = llmgw(capsys, "limit", "list", "--config", str(path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "scope", "subject", "owner", "rpm", "tpm", "budget", "usd", "spent", "remaining", "used", "updated",
    ]  # fmt: skip
    assert lines[1].split()[:9] == ["user", "ada", "ada", "30", "-", "0.01/day", "0.0025", "0.0075", "25%"]
    # A key without a budget: its month's spend, nothing remaining or used.
    assert lines[2].split()[:8] == ["key", key, "ada", "-", "5000", "-", "0.0025", "-"]


def test_limit_list_json_has_the_numbers(
    config: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = config
    code, out, _ = llmgw(capsys, "limit", "list", "ada", "--json", "--config", str(path))
    assert code == 0
    (row,) = json.loads(out)
    assert row["budget_usd"] == 0.01 and row["period"] == "day"
    assert row["spent_today_usd"] == pytest.approx(0.0025)
    assert row["remaining_usd"] == pytest.approx(0.0075)
    assert row["used"] == pytest.approx(0.25)
    assert row["resets"].endswith("T00:00:00Z")


def test_usage_for_one_user_ends_with_their_budgets(
    config: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, key = config
    code, out, _ = llmgw(capsys, "usage", "--user", "ada", "--config", str(path))
    assert code == 0
    assert "ada spent 0.0025 USD today and 0.0025 USD this month (UTC)." in out
    tail = out.split("this month (UTC).\n", 1)[1].splitlines()
    assert tail[0].split()[:3] == ["limit", "of", "limits"]
    assert "rpm 30, tpm off, budget 0.01 USD/day" in tail[1] and "0.0075" in tail[1] and "25%" in tail[1]
    assert tail[2].startswith(f"key {key} (laptop)")
    # JSON and CSV stay the report's own shapes.
    code, out, _ = llmgw(capsys, "usage", "--user", "ada", "--json", "--config", str(path))
    assert code == 0 and "spent" not in json.loads(out)


def test_usage_for_a_user_without_limits(
    config: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = config
    add_user(Path(str(path).replace("llmgw.toml", "llmgw.db")), "bob")
    code, out, _ = llmgw(capsys, "usage", "--user", "bob", "--config", str(path))
    assert code == 0
    assert (
        "bob spent 0.00 USD today and 0.00 USD this month (UTC).\nNo limits apply to them or their keys."
        in out
    )
