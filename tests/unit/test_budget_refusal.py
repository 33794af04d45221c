"""A budget's refusal and the reservation behind it (relay/limits.py): `WorstCase` (the dearest target,
the largest cap that fits), and the 429's words for each way a budget refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llmgw.errors import BudgetExceeded
from llmgw.relay.limits import Limiter, WorstCase
from llmgw.relay.output_cap import OutputCap
from llmgw.storage import LimitRow, LimitValues, Spend

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC).timestamp()
PER_TOKEN = 4e-6  # 4 USD per million output tokens


def test_the_worst_case_is_the_dearest_targets() -> None:
    worst = WorstCase(((0.001, PER_TOKEN), (0.002, 2 * PER_TOKEN)), OutputCap(1000, 2, 100), "max_tokens")
    assert worst.usd == pytest.approx(0.002 + 2200 * 2 * PER_TOKEN)
    assert worst.prompt_usd == 0.002


@pytest.mark.parametrize(
    ("room", "fit"),
    [
        (0.002 + 100 * 8e-6, 100),  # exactly 100 tokens of the dearer target
        (0.002 + 100 * 8e-6 - 1e-12, 99),  # a hair less: one fewer
        (0.0019, 0),  # the prompt alone does not fit
        (10.0, 1_249_750),
    ],
)
def test_the_largest_cap_that_fits(room: float, fit: int) -> None:
    worst = WorstCase(((0.001, PER_TOKEN), (0.002, 8e-6)), OutputCap(4096), "max_tokens")
    assert worst.fitting_cap(room) == fit
    if fit:
        assert worst._cost(fit) <= room < worst._cost(fit + 1)


def test_answers_and_thinking_shrink_what_fits() -> None:
    worst = WorstCase(((0.0, PER_TOKEN),), OutputCap(4096, 3, 1000), "max_tokens")
    # (per answer + 1000 thinking) * 3 answers * 4e-6 <= 0.06, so per answer <= 4000
    assert worst.fitting_cap(0.06) == 4000


def test_free_output_or_no_output_fits_nothing_to_name() -> None:
    assert WorstCase(((0.001, 0.0),), OutputCap(10), "max_tokens").fitting_cap(1.0) == 0
    assert WorstCase(((0.001, PER_TOKEN),), None).fitting_cap(1.0) == 0


def limiter(budget: float, spent: float = 0.0) -> Limiter:
    lim = Limiter(clock=lambda: NOW)
    lim.load([LimitRow("user", 1, "ada", "ada", LimitValues(budget_usd=budget, period="day"), NOW)])
    lim.load_spend(Spend({1: spent}, {}), Spend({1: spent}, {}))
    return lim


def refusal(lim: Limiter, worst: float | WorstCase, request_id: str = "r") -> str:
    with pytest.raises(BudgetExceeded) as caught:
        lim.admit(request_id, 1, None, lambda: worst)
    assert caught.value.headers["retry-after"] == str(12 * 3600)
    return caught.value.message


def test_reached() -> None:
    message = refusal(limiter(0.005, spent=0.0051), 0.0001)
    assert message == (
        "user ada has reached its spend budget of 0.005 USD per day: 0.0051 USD spent. "
        "It resets at the start of the next UTC day (2026-03-16 00:00 UTC)."
    )


def test_reached_with_requests_in_flight() -> None:
    lim = limiter(0.01)
    lim.admit("first", 1, None, lambda: 0.01)  # reserves all of it
    message = refusal(lim, 0.0001)
    assert message.startswith(
        "user ada has reached its spend budget of 0.01 USD per day: 0.00 USD spent, 0.01 USD reserved by "
        "requests in flight until they end. Requests in flight give back what they do not spend"
    )


def test_the_reservation_is_what_refused() -> None:
    worst = WorstCase(((0.0004, PER_TOKEN),), OutputCap(4096), "max_tokens")
    message = refusal(limiter(0.01, spent=0.002), worst)
    assert message == (
        "user ada's spend budget of 0.01 USD per day has 0.008 USD left (0.002 USD spent), and this request "
        "may cost up to 0.017 USD: the gateway reserves its worst case, its prompt plus `max_tokens` 4096 "
        "(`default_max_tokens`, as the request set no `max_tokens`) output tokens. Set `max_tokens` to 1900 "
        "or less and it fits. It resets at the start of the next UTC day (2026-03-16 00:00 UTC)."
    )


def test_a_plain_cost_without_parts_still_reads() -> None:
    message = refusal(limiter(0.01), 0.02)
    assert "has 0.01 USD left (0.00 USD spent), and this request may cost up to 0.02 USD." in message
