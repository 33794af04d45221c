"""scripts/bench_lib.py's side-by-side table with a peer gateway (`scripts/bench --peer portkey`, issue #22):
the totals over rounds, the ratios and the verdict on each goal, the Markdown it prints, the second table of
llmgw's variants (users mode with limits, the Responses API) beside its legacy chat completions and the peer,
and the wrk script that carries the peer's routing headers. Pure functions: no process, no network."""

from __future__ import annotations

import pytest

from tests.support.scripts import load_script

bl = load_script("bench_lib.py", "bench_lib")


def wrk(requests: int, seconds: float = 10.0, p50_us: int = 1000, status: int = 0, read: int = 0) -> object:
    return bl.WrkResult(
        requests=requests,
        duration_us=int(seconds * 1e6),
        bytes=0,
        connect=0,
        read=read,
        write=0,
        status=status,
        timeout=0,
        p50_us=p50_us,
        p90_us=p50_us,
        p99_us=p50_us,
        mean_us=float(p50_us),
        max_us=p50_us,
    )


def one(rps: float, cpu_us: float | None = None, p50_us: float = 1000.0, errors: int = 0) -> object:
    """Totals of a case at `rps` over 10 s, `cpu_us` CPU per request."""
    requests = int(rps * 10)
    cpu = None if cpu_us is None else cpu_us * requests / 1e6
    return bl.Totals(requests=requests, seconds=10.0, cpu_s=cpu, p50_us=p50_us, errors=errors)


Figures = tuple[dict[str, object], dict[str, object], dict[str, object]]


def figures(over: dict[tuple[str, str], object] | None = None) -> Figures:
    """Direct, llmgw and peer totals per case; llmgw meets every goal unless `over` ((side, case) ->
    totals) says otherwise."""
    direct = {
        "non-stream c=32": one(5000),
        "stream c=32": one(3000),
        "50 ms upstream c=64": one(1200),
        "non-stream c=1": one(900, p50_us=1000),
    }
    llmgw = {
        "non-stream c=32": one(2000, cpu_us=400),
        "stream c=32": one(1400, cpu_us=700),
        "50 ms upstream c=64": one(1100, cpu_us=500),
        "non-stream c=1": one(600, cpu_us=500, p50_us=1500),
    }
    peer = {
        "non-stream c=32": one(800, cpu_us=1250),
        "stream c=32": one(600, cpu_us=1600),
        "50 ms upstream c=64": one(660, cpu_us=1200),
        "non-stream c=1": one(400, cpu_us=1300, p50_us=2200),
    }
    for (side, case), value in (over or {}).items():
        {"direct": direct, "llmgw": llmgw, "peer": peer}[side][case] = value
    return direct, llmgw, peer


def test_totals_sum_the_rounds_and_take_the_median_p50() -> None:
    t = bl.totals([(wrk(100, p50_us=900), 0.1), (wrk(300, p50_us=3000), 0.3), (wrk(200, p50_us=1000), 0.2)])
    assert (t.requests, t.seconds, t.p50_us, t.errors) == (600, 30.0, 1000, 0)
    assert t.rps == pytest.approx(20.0)
    assert t.cpu_us_per_request == pytest.approx(1000.0)


def test_totals_of_an_even_number_of_rounds_average_the_middle_p50s_and_count_every_error() -> None:
    t = bl.totals([(wrk(10, p50_us=1000, status=2), None), (wrk(10, p50_us=2000, read=1), None)])
    assert t.p50_us == 1500
    assert t.errors == 3
    assert t.cpu_s is None and t.cpu_us_per_request is None  # the direct runs measure no gateway CPU


def test_totals_refuse_no_runs_and_a_mix_of_measured_and_unmeasured_cpu_is_unmeasured() -> None:
    with pytest.raises(ValueError):
        bl.totals([])
    assert bl.totals([(wrk(10), 0.1), (wrk(10), None)]).cpu_s is None


def test_a_run_without_requests_has_no_cpu_per_request_and_no_rate() -> None:
    t = bl.totals([(wrk(0, seconds=0), 0.5)])
    assert t.rps == 0.0 and t.cpu_us_per_request is None


def test_every_goal_met_reads_as_the_issue_table() -> None:
    rows = bl.peer_rows(*figures())
    assert [(r.case, r.peer, r.llmgw, r.ratio, r.goal, r.met) for r in rows] == [
        ("non-stream c=32, req/s", "800", "2,000", "2.50x", ">= 2x", True),
        ("non-stream c=32, CPU us/request", "1,250", "400", "0.32x", "<= 0.5x", True),
        ("stream c=32 (20 chunks), req/s", "600", "1,400", "2.33x", ">= 2x", True),
        ("50 ms upstream c=64, share of direct", "0.55", "0.92", "-", ">= 0.9", True),
        ("non-stream c=1, added p50", "+1.20 ms", "+0.50 ms", "-", "<= +0.6 ms", True),
    ]


def test_each_goal_missed_by_its_own_figure() -> None:
    rows = bl.peer_rows(
        *figures(
            {
                ("llmgw", "non-stream c=32"): one(1500, cpu_us=700),  # 1.88x, 0.56x
                ("llmgw", "stream c=32"): one(1100, cpu_us=700),  # 1.83x
                ("llmgw", "50 ms upstream c=64"): one(1000, cpu_us=700),  # 0.83 of direct
                ("llmgw", "non-stream c=1"): one(600, cpu_us=500, p50_us=1700),  # +0.70 ms
            }
        )
    )
    assert [r.met for r in rows] == [False, False, False, False, False]
    assert rows[0].ratio == "1.88x" and rows[1].ratio == "0.56x" and rows[4].llmgw == "+0.70 ms"


def test_a_goal_on_the_edge_is_met() -> None:
    rows = bl.peer_rows(*figures({("llmgw", "non-stream c=32"): one(1600, cpu_us=625)}))
    assert rows[0].ratio == "2.00x" and rows[0].met
    assert rows[1].ratio == "0.50x" and rows[1].met


def test_errors_on_either_side_void_a_ratio_goal() -> None:
    rows = bl.peer_rows(*figures({("peer", "stream c=32"): one(600, cpu_us=1600, errors=3)}))
    assert rows[2].met is False
    assert rows[0].met and rows[1].met  # the other cases stand
    rows = bl.peer_rows(*figures({("llmgw", "non-stream c=1"): one(600, cpu_us=500, p50_us=1500, errors=1)}))
    assert rows[4].met is False


def test_a_peer_that_served_nothing_gives_ratio_zero_not_a_crash() -> None:
    rows = bl.peer_rows(*figures({("peer", "non-stream c=32"): one(0, cpu_us=None)}))
    assert rows[0].ratio == "0.00x" and rows[0].met is False
    assert rows[1].ratio == "0.00x" and rows[1].met is False  # no CPU figure: not "better than half"


def test_the_markdown_table_has_a_header_a_rule_and_a_line_per_goal_with_its_verdict() -> None:
    rows = bl.peer_rows(*figures({("llmgw", "stream c=32"): one(1100, cpu_us=700)}))
    lines = bl.peer_table("Portkey", rows)
    assert lines[0] == "| case | Portkey | llmgw | ratio | goal | met |"
    assert lines[1] == "|---|---|---|---|---|---|"
    assert len(lines) == 2 + len(rows)
    assert lines[4] == "| stream c=32 (20 chunks), req/s | 600 | 1,100 | 1.83x | >= 2x | NO |"
    assert all(line.count("|") == 7 for line in lines)


def test_the_wrk_script_carries_the_peer_headers_quoted_and_only_when_given() -> None:
    headers = bl.portkey_headers(9100)
    assert headers == {"x-portkey-provider": "openai", "x-portkey-custom-host": "http://127.0.0.1:9100/v1"}
    script = bl.wrk_script(b'{"model":"m"}', "bench-key", headers)
    assert 'wrk.headers["x-portkey-provider"] = "openai"\n' in script
    assert 'wrk.headers["x-portkey-custom-host"] = "http://127.0.0.1:9100/v1"\n' in script
    assert 'wrk.headers["Authorization"] = "Bearer bench-key"' in script
    assert 'wrk.body = "{\\"model\\":\\"m\\"}"' in script
    plain = bl.wrk_script(b"{}", "k")
    assert "x-portkey" not in plain and plain.count("wrk.headers[") == 2


def test_the_peer_cases_are_the_issue_table_s() -> None:
    assert [(label, mode, c) for label, mode, c, _ in bl.PEER_CASES] == [
        ("non-stream c=32", "non-stream", 32),
        ("stream c=32", "stream", 32),
        ("50 ms upstream c=64", "non-stream", 64),
        ("non-stream c=1", "non-stream", 1),
    ]
    assert dict((label, model) for label, _, _, model in bl.PEER_CASES)["50 ms upstream c=64"] == "slow-0.05"


# -- llmgw's variants beside its legacy chat completions (users mode with limits, Responses) --------


def variants(over: dict[str, object] | None = None) -> dict[str, object]:
    """A variant's totals in the two cases it runs: 5% dearer than `figures()`'s llmgw unless `over`
    (case -> totals) says otherwise."""
    return {"non-stream c=32": one(1900, cpu_us=420), "stream c=32": one(1300, cpu_us=735), **(over or {})}


def test_variant_rows_read_beside_legacy_chat_and_the_peer() -> None:
    _, llmgw, peer = figures()
    rows = bl.variant_rows("users + limits", variants(), llmgw, peer)
    assert [(r.case, r.peer, r.chat, r.variant, r.vs_chat, r.goal, r.met, r.vs_peer) for r in rows] == [
        ("users + limits, non-stream c=32, req/s", "800", "2,000", "1,900", "0.95x", "-", None, "2.38x"),
        (
            "users + limits, non-stream c=32, CPU us/request",
            "1,250",
            "400",
            "420",
            "1.05x",
            "<= 1.10x",
            True,
            "0.34x",
        ),
        (
            "users + limits, stream c=32 (20 chunks), req/s",
            "600",
            "1,400",
            "1,300",
            "0.93x",
            "-",
            None,
            "2.17x",
        ),
        (
            "users + limits, stream c=32 (20 chunks), CPU us/request",
            "1,600",
            "700",
            "735",
            "1.05x",
            "<= 1.10x",
            True,
            "0.46x",
        ),
    ]


def test_a_variant_more_than_ten_percent_dearer_misses_and_on_the_edge_meets() -> None:
    _, llmgw, peer = figures()
    rows = bl.variant_rows(
        "Responses",
        variants({"non-stream c=32": one(1900, cpu_us=440), "stream c=32": one(1300, cpu_us=780)}),
        llmgw,
        peer,
    )
    assert [(r.vs_chat, r.met) for r in rows if r.met is not None] == [("1.10x", True), ("1.11x", False)]


def test_errors_of_the_variant_or_of_legacy_chat_void_its_goal_the_peer_s_do_not() -> None:
    _, llmgw, peer = figures()
    bad = variants({"stream c=32": one(1300, cpu_us=735, errors=2)})
    assert [r.met for r in bl.variant_rows("v", bad, llmgw, peer) if r.met is not None] == [True, False]
    _, llmgw, peer = figures({("llmgw", "non-stream c=32"): one(2000, cpu_us=400, errors=1)})
    assert [r.met for r in bl.variant_rows("v", variants(), llmgw, peer) if r.met is not None] == [
        False,
        True,
    ]
    _, llmgw, peer = figures({("peer", "stream c=32"): one(600, cpu_us=1600, errors=5)})
    assert all(r.met for r in bl.variant_rows("v", variants(), llmgw, peer) if r.met is not None)


def test_a_variant_s_rows_follow_the_peer_cases_order_and_only_the_cases_it_ran() -> None:
    _, llmgw, peer = figures()
    ran = {"stream c=32": one(1300, cpu_us=735), "non-stream c=32": one(1900, cpu_us=420)}
    assert [r.case for r in bl.variant_rows("v", ran, llmgw, peer)][::2] == [
        "v, non-stream c=32, req/s",
        "v, stream c=32 (20 chunks), req/s",
    ]
    only = bl.variant_rows("v", {"stream c=32": one(1300, cpu_us=735)}, llmgw, peer)
    assert [r.case for r in only] == [
        "v, stream c=32 (20 chunks), req/s",
        "v, stream c=32 (20 chunks), CPU us/request",
    ]


def test_no_cpu_figure_for_legacy_chat_gives_ratio_zero_and_no_verdict_of_cheap() -> None:
    _, llmgw, peer = figures({("llmgw", "non-stream c=32"): one(0, cpu_us=None)})
    rows = bl.variant_rows("v", variants(), llmgw, peer)
    assert (rows[0].vs_chat, rows[1].vs_chat, rows[1].met) == ("0.00x", "0.00x", False)


def test_the_variants_markdown_table_names_both_references_and_marks_lines_without_a_goal() -> None:
    _, llmgw, peer = figures()
    rows = bl.variant_rows("Responses", variants({"stream c=32": one(1300, cpu_us=800)}), llmgw, peer)
    lines = bl.variant_table("Portkey", rows)
    assert (
        lines[0]
        == "| case | Portkey | llmgw legacy chat | llmgw | vs legacy chat | goal | met | vs Portkey |"
    )
    assert lines[1] == "|---|---|---|---|---|---|---|---|"
    assert len(lines) == 2 + len(rows)
    assert lines[2] == "| Responses, non-stream c=32, req/s | 800 | 2,000 | 1,900 | 0.95x | - | - | 2.38x |"
    assert lines[5] == (
        "| Responses, stream c=32 (20 chunks), CPU us/request | 1,600 | 700 | 800 | 1.14x | <= 1.10x | NO "
        "| 0.50x |"
    )
    assert all(line.count("|") == 9 for line in lines)


def test_the_variants_run_in_two_of_the_peer_cases() -> None:
    assert bl.VARIANT_CASES == ("non-stream c=32", "stream c=32")
    assert set(bl.VARIANT_CASES) <= {label for label, *_ in bl.PEER_CASES}
    assert bl.MAX_VARIANT_RATIO == 1.10
