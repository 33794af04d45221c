"""`llmgw usage --by/--user/--until/--csv` and `llmgw usage purge`: the rollup report as an
administrator reads it (table, JSON, CSV), exit codes; the default output unchanged."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from llmgw import cli
from llmgw.services.usage_report import model_label
from llmgw.storage import Store, UsageRow
from tests.support.accounts_rows import add_user

NOV1 = 1_793_491_200.0  # 2026-11-01T00:00Z


def row(request_id: str, **fields: Any) -> UsageRow:
    fields.setdefault("created_at", NOV1 + 600)
    fields.setdefault("status", 200)
    fields.setdefault("provider", "oai")
    fields.setdefault("model_requested", "oai/gpt-4o")
    fields.setdefault("usage_source", "provider")
    return UsageRow(request_id=request_id, endpoint="/v1/chat/completions", **fields)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = tmp_path / "llmgw.db"
    path = tmp_path / "llmgw.toml"
    path.write_text(f"[server]\ndatabase = '{db}'\n", encoding="utf-8")
    Store.open(db).close()
    ann, bob = add_user(db, "ann", role="admin"), add_user(db, "bob")
    with Store.open(db) as store:
        store.insert_requests(
            [
                row("a1", user_id=ann, total_tokens=100, cost_usd=1.5, latency_ms=200.0, ttft_ms=50.0),
                row("a2", user_id=ann, total_tokens=50, cost_usd=0.5, created_at=NOV1 + 86400 + 1),
                row("b1", user_id=bob, total_tokens=10, status=500, provider="gem",
                    model_requested="gem/flash", cost_usd=None, error_kind="upstream",
                    error_type="upstream_error"),  # answered with tokens, no price
                row("old", user_id=bob, created_at=NOV1 - 40 * 86400, cost_usd=9.0),
            ]
        )  # fmt: skip
    return path


def llmgw(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_by_user_as_a_table_with_totals_and_flagged_cost(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = llmgw(capsys, "usage", "--since", "2026-11-01", "--by", "user", "--config", str(config))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:8] == [
        "user",
        "requests",
        "errors",
        "upstream",
        "upstr",
        "%",
        "policy",
        "client",
    ]
    ann = next(line for line in lines if line.startswith("ann "))
    bob = next(line for line in lines if line.startswith("bob "))
    total = next(line for line in lines if line.startswith("total "))
    assert ann.split()[1:3] == ["2", "0"] and "2.0000" in ann
    assert bob.split()[1:7] == ["1", "1", "1", "100.0", "0", "0"] and " ? " in f"{bob} "  # no price: never 0
    assert total.split()[1:7] == ["3", "1", "1", "33.3", "0", "0"] and "2.0000+" in total
    assert "upstream errors: 1 (33.3% of requests): upstream_error 1" in out
    assert "gem/flash" in out and "no known price" in out
    assert "from 2026-11-01T00:00:00Z" in out


def test_json_and_csv(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = llmgw(
        capsys, "usage", "--json", "--by", "model", "--until", "2026-11-02", "--config", str(config)
    )
    data = json.loads(out)
    assert code == 0 and data["by"] == "model" and data["until"] == "2026-11-02T00:00:00Z"
    assert (data["requests"], data["errors"], data["cost_usd"], data["unpriced_requests"]) == (3, 1, 10.5, 1)
    assert {g["label"]: g["requests"] for g in data["groups"]} == {"oai/gpt-4o": 2, "gem/flash": 1}
    assert data["latency_p50_ms"] is not None and data["unpriced_models"] == ["gem/flash"]
    code, out, _ = llmgw(
        capsys, "usage", "--csv", "--by", "day", "--since", "2026-11-01", "--config", str(config)
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert [(r["label"], r["bucket_start"], r["requests"]) for r in rows] == [
        ("2026-11-01", "2026-11-01T00:00:00Z", "2"),
        ("2026-11-02", "2026-11-02T00:00:00Z", "1"),
    ]
    assert rows[0]["unpriced_requests"] == "1"


def test_one_user_and_an_unknown_one(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = llmgw(capsys, "usage", "--user", "bob", "--json", "--config", str(config))
    assert code == 0 and json.loads(out)["requests"] == 2 and json.loads(out)["user"] == "bob"
    code, _, err = llmgw(capsys, "usage", "--user", "nobody", "--config", str(config))
    assert code == 1 and "nobody" in err
    code, _, err = llmgw(capsys, "usage", "--by", "user", "--until", "someday", "--config", str(config))
    assert code == 2 and "--until" in err


def test_the_default_output_is_unchanged(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = llmgw(capsys, "usage", "--json", "--config", str(config))
    data = json.loads(out)
    assert code == 0 and "by_model" in data and "groups" not in data and data["requests"] == 4


def test_purge_by_hand_prints_what_it_removed(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    days = int((time.time() - (NOV1 - 20 * 86400)) / 86400)  # cutoff ~20 days before Nov 1: "old" only
    config.write_text(config.read_text() + f"usage_retention_days = {days}\n", encoding="utf-8")
    code, out, _ = llmgw(capsys, "usage", "purge", "--config", str(config))
    assert code == 0
    assert "ledger rows: 1 purged, created before 2026-10-1" in out
    assert "hourly rollups: kept forever" in out
    code, out, _ = llmgw(capsys, "usage", "--by", "month", "--json", "--config", str(config))
    assert [g["requests"] for g in json.loads(out)["groups"]] == [1, 3]  # the rollups stay


def test_model_labels() -> None:
    assert model_label("oai", "oai/gpt-4o") == "oai/gpt-4o"
    assert model_label("oai", "smart") == "oai/smart"
    assert model_label(None, None) == "(unknown model)"


def test_csv_defuses_a_formula_looking_name(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A model name is the client's choice: a spreadsheet must not run it (same rule as the portal's)."""
    hostile = '=HYPERLINK("http://x","y")'
    with Store.open(config.parent / "llmgw.db") as store:  # the fixture's database
        store.insert_requests([row("evil", model_requested=hostile, provider=None)])
    code, out, _ = llmgw(
        capsys, "usage", "--csv", "--by", "model", "--since", "2026-11-01", "--config", str(config)
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert "'" + hostile in [r["label"] for r in rows]
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)


def test_plain_usage_one_row_per_model_and_errors_by_kind(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(config.parent / "llmgw.db") as store:
        store.insert_requests(
            [
                row("s1", model_requested="smart", model_upstream="gpt-4o", total_tokens=5, cost_usd=0.5),
                row("s2", model_requested="smart", model_upstream="gpt-4o", status=429, error_kind="policy",
                    error_type="budget_exceeded", usage_source="none"),
                row("x1", provider=None, model_requested="nope", status=404, error_kind="policy",
                    error_type="model_not_found", usage_source="none"),
            ]
        )  # fmt: skip
    code, out, _ = llmgw(capsys, "usage", "--config", str(config))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:7] == ["provider", "model", "requests", "errors", "upstream", "policy", "client"]
    # `smart` is inside the gpt-4o row (the rows summed from `oai/gpt-4o` as requested join it)
    gpt = next(line for line in lines if line.startswith("oai "))
    assert gpt.split()[:9] == ["oai", "gpt-4o", "(via", "smart)", "5", "1", "0", "1", "0"]
    assert sum(1 for line in lines if "gpt-4o" in line and line.startswith("oai")) == 1
    assert "policy refusals: 2 (28.6% of requests): budget_exceeded 1, model_not_found 1" in out
    assert "upstream errors: 1 (14.3% of requests): upstream_error 1" in out
    code, out, _ = llmgw(capsys, "usage", "--json", "--config", str(config))
    data = json.loads(out)
    assert (data["errors_upstream"], data["errors_policy"], data["errors_client"]) == (1, 2, 0)
    assert {(e["kind"], e["code"]) for e in data["error_codes"]} == {
        ("upstream", "upstream_error"),
        ("policy", "budget_exceeded"),
        ("policy", "model_not_found"),
    }
    gpt_json = next(m for m in data["by_model"] if m["model"] == "gpt-4o")
    assert gpt_json["aliases"] == ["smart"] and gpt_json["requests"] == 5
    code, out, _ = llmgw(capsys, "usage", "--by", "model", "--config", str(config))
    line = next(line for line in out.splitlines() if line.startswith("oai/gpt-4o"))
    assert line.split()[:5] == ["oai/gpt-4o", "(via", "smart)", "5", "1"]
    assert "nope " in out and "policy refusals: 2" in out
