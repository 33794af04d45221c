"""scripts/bench-streams' pure parts (issue #22's many concurrent streams): the client's output summed up,
the CPU split into set-up and per-event cost, its arguments, the limits it reports and the verdict on each
goal. No process, no network."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.scripts import load_script

bs = load_script("bench-streams", "bench_streams")


def stream(gaps: list[float], ttfb: float | None = 5.0, error: str | None = None) -> dict[str, Any]:
    return {"ttfb_ms": ttfb, "gaps_ms": gaps, "bytes": 100, "events": len(gaps) + 1, "error": error}


def client_out(*streams: dict[str, Any], samples: dict[str, str] | None = None) -> dict[str, Any]:
    return {"expected_bytes": 100, "wall_s": 25.0, "streams": list(streams), "samples": samples or {}}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # unsorted on purpose
    assert bs.percentile(values, 50) == 50
    assert bs.percentile(values, 99) == 99
    assert bs.percentile(values, 100) == 100
    assert bs.percentile([7.0], 99) == 7
    assert bs.percentile([1.0, 2.0], 50) == 1
    assert bs.percentile([], 50) is None


def test_summary_counts_intact_streams_errors_and_every_gap() -> None:
    out = client_out(
        stream([1000.0, 1001.0, 999.0], ttfb=4.0),
        stream([1000.0, 1500.0, 1000.0], ttfb=8.0),
        stream([2000.0], ttfb=30_000.0, error="timeout"),
        stream([], ttfb=None, error="connect:ECONNREFUSED"),
        stream([], ttfb=None, error="timeout"),
        samples={"timeout": "not done"},
    )
    s = bs.summarize(out)
    assert (s.streams, s.intact, s.events) == (5, 2, 4 + 4 + 2 + 1 + 1)
    assert s.errors == {"timeout": 2, "connect:ECONNREFUSED": 1}
    assert list(s.errors) == ["timeout", "connect:ECONNREFUSED"]  # most frequent first
    assert s.samples == {"timeout": "not done"}
    # TTFB only of the streams that got a first byte; gaps of every stream, failed ones included
    assert (s.ttfb_p50_ms, s.ttfb_p99_ms, s.ttfb_max_ms) == (8.0, 30_000.0, 30_000.0)
    assert (s.gap_p50_ms, s.gap_p99_ms, s.gap_max_ms) == (1000.0, 2000.0, 2000.0)
    assert (s.stream_bytes, s.wall_s) == (100, 25.0)
    assert s.failed_events == {1: 2, 2: 1}  # events received -> failed streams


def test_summary_of_a_run_where_nothing_arrived() -> None:
    s = bs.summarize(client_out(stream([], ttfb=None, error="http_503")))
    assert (s.intact, s.ttfb_p99_ms, s.gap_p99_ms, s.gap_max_ms) == (0, None, None, None)


@pytest.mark.parametrize("short_streams", [1000, 400])
def test_cpu_split_recovers_setup_and_per_event_cost(short_streams: int) -> None:
    setup, per_event = 2e-3, 155e-6  # what issue #22 measured

    def run(streams: int, events_each: int) -> tuple[int, int, float]:
        events = streams * events_each
        return streams, events, streams * setup + events * per_event

    got_setup, got_event = bs.split_cpu(run(1000, 20), run(short_streams, 4))
    assert got_setup == pytest.approx(setup)
    assert got_event == pytest.approx(per_event)


def test_core_share_needed_at_a_cost() -> None:
    # issue #22: 10,000 streams of 20 events at ~2 ms + 155 us each, within a 5 s ramp + 20 s
    assert bs.core_share(10_000, 20, 2000.0, 155.0, 25.0) == pytest.approx(2.04)
    assert bs.core_share(9000, 20, 1000.0, 50.0, 25.0) == pytest.approx(0.72)


def test_cpu_split_needs_two_different_events_per_stream() -> None:
    with pytest.raises(ValueError, match="same events per stream"):
        bs.split_cpu((1000, 20_000, 5.0), (500, 10_000, 2.5))


def test_arguments_default_to_the_issue_case() -> None:
    args = bs.parse_args([])
    assert args.streams == [1000, 9000]
    assert (args.events, args.short_events, args.interval, args.ramp) == (20, 4, 1.0, 5.0)
    assert not args.no_direct and args.json is None


def test_arguments_take_a_list_of_stream_counts() -> None:
    args = bs.parse_args(["--streams", "1000,5000,9000", "--events", "30", "--short-events", "5"])
    assert args.streams == [1000, 5000, 9000]
    assert (args.events, args.short_events) == (30, 5)


@pytest.mark.parametrize(
    "argv",
    [
        ["--streams", "0"],
        ["--streams", "1000,x"],
        ["--streams", ""],
        ["--events", "4"],  # not more than --short-events
        ["--short-events", "3"],  # fewer than a stream has (role, finish, usage, [DONE])
        ["--interval", "0"],
    ],
)
def test_arguments_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bs.parse_args(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def limits(hard: int = 20_000, ports: tuple[int, int] = (32768, 60999), somaxconn: int = 4096) -> Any:
    return bs.Limits(nofile_soft=1024, nofile_hard=hard, somaxconn=somaxconn, port_range=ports, backlog=4096)


def test_limits_fit_9000_streams_on_this_machine_kind() -> None:
    notes = limits().notes(9000, ramp=5.0)
    assert [fine for fine, _ in notes] == [True, True, True]
    assert "~18,064" in notes[0][1]  # two descriptors per stream, plus 64


def test_limits_say_what_caps_a_run() -> None:
    assert [fine for fine, _ in limits(hard=10_000).notes(9000, 5.0)] == [False, True, True]
    assert [fine for fine, _ in limits(ports=(50000, 60000)).notes(9000, 5.0)] == [True, False, True]
    notes = limits(somaxconn=128).notes(9000, 5.0)
    assert [fine for fine, _ in notes] == [True, True, False]
    assert "-> 128" in notes[2][1]


def summary(streams: int, intact: int, gap_p99_ms: float = 1010.0) -> Any:
    return bs.Summary(
        streams=streams,
        intact=intact,
        events=intact * 20,
        errors={} if intact == streams else {"timeout": streams - intact},
        samples={},
        ttfb_p50_ms=3.0,
        ttfb_p99_ms=40.0,
        ttfb_max_ms=90.0,
        gap_p50_ms=1000.0,
        gap_p99_ms=gap_p99_ms,
        gap_max_ms=1200.0,
        stream_bytes=5000,
        wall_s=26.0,
        failed_events={} if intact == streams else {19: streams - intact},
    )


def case(streams: int, intact: int | None = None, **over: Any) -> Any:
    figures: dict[str, Any] = {
        "streams": streams,
        "long": summary(streams, streams if intact is None else intact, over.pop("gap_p99_ms", 1010.0)),
        "short": summary(streams, streams),
        "warm": summary(streams, streams),
        "cpu_long_s": 10.0,
        "cpu_short_s": 4.0,
        "cpu_warm_s": 3.0,
        "idle_rss": 86_000_000,
        "peak_rss": 300_000_000,
        "settled_rss": 250_000_000,
        "max_fds": 2 * streams + 20,
        "max_accept_queue": 0,
        "setup_us": 800.0,
        "event_us": 40.0,
        "warm_setup_us": 500.0,
        "harness_cpu_s": 5.0,
        "cpu_busy": {0: 0.3, 1: 0.6},
        "listen_overflows": 0,
    }
    figures.update(over)
    return bs.GatewayCase(**figures)


def verdicts(cases: list[Any]) -> list[bool | None]:
    return [met for _, met, _ in bs.goals(cases)]


def test_goals_are_judged_on_the_largest_case_of_9000_or_more() -> None:
    assert verdicts([case(1000, intact=10), case(9000)]) == [True] * 6
    assert verdicts([case(9000), case(9500, intact=9400)])[0] is False


def test_each_goal_can_be_missed() -> None:
    assert verdicts([case(9000, gap_p99_ms=1600.0)]) == [True, False, True, True, True, True]
    assert verdicts([case(9000, peak_rss=600_000_000)]) == [True, True, False, True, True, True]
    assert verdicts([case(9000, setup_us=2000.0, event_us=155.0)]) == [True, True, True, False, False, True]
    assert verdicts([case(9000, idle_rss=120_000_000)]) == [True, True, True, True, True, False]
    assert verdicts([case(9000, setup_us=None, event_us=None)])[3:5] == [None, None]


def test_goals_not_measured_without_a_9000_stream_case() -> None:
    assert verdicts([case(1000)]) == [None, None, None, None, None, True]
    assert verdicts([]) == [None] * 6


def test_the_table_has_a_row_per_run() -> None:
    direct = bs.DirectCase(streams=1000, summary=summary(1000, 1000), harness_cpu_s=3.0, cpu_busy={0: 0.2})
    lines = bs.table([direct], [case(1000, intact=990)], short_events=4)
    assert len(lines) == 2 + 1 + 3
    assert lines[2].startswith("| direct | 1,000 | 1,000 | 0 | 3 / 40 | 1,000 / 1,010 / 1,200 |")
    assert "| llmgw | 1,000 | 990 | timeout 10 |" in lines[3]
    assert "| 10.0 | 800 | 40 | 86 / 300 / 250 |" in lines[3]
    assert lines[4].startswith("| llmgw, 4 events | 1,000 | 1,000 |")
    assert lines[5].startswith("| llmgw, 4 events, pool warm | 1,000 | 1,000 |")
    assert lines[5].endswith("| 3.0 | 500 | - | - |")
    assert direct.paces(interval=1.0)
    assert not bs.DirectCase(1000, summary(1000, 1000, gap_p99_ms=1300.0), 3.0, {}).paces(1.0)
