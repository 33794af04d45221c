"""One CSV layout everywhere: for the same database and range, `llmgw usage --csv`, the portal's
export and the TUI's are the same bytes (services/csv_export.py `usage_csv`); a front end that grows
columns of its own, or writes them its own way, fails here."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from llmgw_tui.backend import Backend
from llmgw_tui.screens.usage import RANGES, read, write_csv
from starlette.testclient import TestClient

from llmgw import cli
from llmgw.portal import usage_pages
from llmgw.portal.usage_ranges import time_range
from llmgw.services.audit import Actor
from llmgw.services.csv_export import USAGE_COLUMNS
from llmgw.services.usage import GroupBy
from llmgw.settings import load
from tests.inprocess.test_portal import ADMIN_PW, SITE, login, make_app
from tests.process.test_portal_dashboards import EVIL, seed


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


@pytest.mark.parametrize("by", ["model", "user", "key", "provider"])  # what all three offer
def test_the_cli_the_portal_and_the_tui_write_the_same_bytes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
    by: GroupBy,
) -> None:
    app = make_app(tmp_path)
    seed(tmp_path)  # rows of the last 7 days: within every front end's 7-day range
    now = time.time()
    monkeypatch.setattr(usage_pages, "time", SimpleNamespace(time=lambda: now))  # the portal's clock
    rng = time_range("7d", now)
    config = tmp_path / "llmgw.toml"
    config.write_text(f"[server]\ndatabase = '{tmp_path / 'llmgw.db'}'\n", encoding="utf-8")

    with TestClient(app, base_url=SITE) as c:
        login(c, "alice", ADMIN_PW)
        response = c.get(f"/ui/admin/usage.csv?range=7d&by={by}")
    assert response.status_code == 200
    portal = response.content

    args = ["usage", "--csv", "--by", by, "--since", iso(rng.since), "--until", iso(rng.until)]
    assert cli.main([*args, "--config", str(config)]) == 0
    from_cli = capsysbinary.readouterr().out

    backend = Backend(load(str(config)).config, actor=Actor.cli(), clock=lambda: now)
    try:
        reading = read(backend, next(r for r in RANGES if r.label == "last 7 days"), by)
    finally:
        backend.close()
    exported = tmp_path / "tui.csv"
    assert write_csv(exported, reading.report) == len(reading.report.groups) >= 1
    from_tui = exported.read_bytes()

    assert from_cli == portal == from_tui
    lines = portal.split(b"\r\n")
    assert lines[-1] == b"" and not any(b"\n" in line for line in lines)  # CRLF, the last line too
    rows = list(csv.reader(io.StringIO(portal.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == USAGE_COLUMNS
    assert {r[0] for r in rows[1:]} == {by}
    if by == "model":
        assert "'" + EVIL in {r[USAGE_COLUMNS.index("model")] for r in rows}  # defused, everywhere
