"""The gateway's Prometheus metrics (`GET /metrics`), in a registry of its own per `Gateway`.

Counted as requests finish (`request_finished`, from `Recorder.finish`) and as upstream attempts fail
(`upstream_error`, from `forward`): each through label children cached per label tuple, so the hot path
pays a few increments and two histogram observations, no label lookup. What already lives elsewhere is
read at scrape time instead (`_StateCollector`): rejected authentications, key cool-downs and key
states per provider, the ledger's queue and spool.

Labels stay bounded whatever clients send: `model` is the upstream model of the provider the request
was routed to (never the client's unresolved string). A model the configuration names (an alias's
target, a provider's allow-list) is always its own label; any other one only once an upstream has
accepted it (status < 400), and only the first `MAX_LABEL_VALUES` of those; the rest are "other".
A request that was not routed has provider = model = "".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from llmgw.relay.catalog import Catalog
from llmgw.storage import LedgerWriter, UsageRow

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_LABEL_VALUES = 500  # distinct unlisted (provider, model) pairs, and distinct error types
MAX_LABEL_CHARS = 100
OTHER = "other"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# Token kinds: cached and cache_write are part of prompt, reasoning part of completion.
TOKEN_KINDS = ("prompt", "completion", "cached", "cache_write", "reasoning")


class _Pool(Protocol):
    cooldowns_started: int

    def states(self, now: float | None = None) -> tuple[int, int, int]: ...


class Metrics:
    """Every metric of one gateway; `render()` is the body of a scrape."""

    def __init__(
        self,
        catalog: Catalog,
        pools: Mapping[str, _Pool],
        ledger: LedgerWriter,
        auth_failures: Callable[[], int],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._listed = _listed_models(catalog)
        self._seen: set[tuple[str, str]] = set()
        self._error_types: set[str] = set()
        r = self.registry
        pm = ("provider", "model")
        self._requests = Counter(
            "llmgw_requests", "Requests finished, by answer status.", [*pm, "status"], registry=r
        )
        self._tokens = Counter("llmgw_tokens", "Tokens reported or estimated.", [*pm, "type"], registry=r)
        self._cost = Counter("llmgw_cost_usd", "Cost of the priced requests, in US dollars.", pm, registry=r)
        self._unpriced = Counter(
            "llmgw_unpriced_requests",
            "Requests that used tokens (reported or estimated) but had no known price.",
            pm,
            registry=r,
        )
        self._latency = Histogram(
            "llmgw_request_latency_seconds",
            "Seconds from arrival to the end of the answer.",
            pm,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._ttft = Histogram(
            "llmgw_time_to_first_token_seconds",
            "Seconds from arrival to the first streamed output.",
            pm,
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self._upstream_errors = Counter(
            "llmgw_upstream_errors",
            "Failed upstream attempts (a request may make several).",
            [*pm, "error_type"],
            registry=r,
        )
        r.register(_StateCollector(pools, ledger, auth_failures))
        # Per (provider label, model label, status): the children a finished request touches, built once.
        self._children: dict[tuple[str, str, int], _Children] = {}

    def model_label(self, provider: str | None, model: str | None, status: int) -> tuple[str, str]:
        """The bounded (provider, model) labels of a request routed to `provider`/`model`."""
        if not provider:
            return "", ""
        pair = (provider, model or "")
        if pair in self._listed or pair in self._seen:
            return pair
        if status < 400 and len(self._seen) < MAX_LABEL_VALUES and len(pair[1]) <= MAX_LABEL_CHARS:
            self._seen.add(pair)
            return pair
        return provider, OTHER

    def request_finished(self, row: UsageRow) -> None:
        """Count a finished request (its latency already filled in)."""
        key = (*self.model_label(row.provider, row.model_upstream, row.status), row.status)
        c = self._children.get(key)
        if c is None:
            c = self._children[key] = self._build(*key)
        c.requests.inc()
        for counter, n in zip(
            c.tokens,
            (
                row.prompt_tokens,
                row.completion_tokens,
                row.cached_tokens,
                row.cache_write_tokens,
                row.reasoning_tokens,
            ),
            strict=True,
        ):
            if n:
                counter.inc(n)
        if row.cost_usd is not None:
            c.cost.inc(row.cost_usd)
        elif row.usage_source != "none":  # the ledger's "unpriced": used tokens, no price known
            c.unpriced.inc()
        if row.latency_ms is not None:
            c.latency.observe(row.latency_ms / 1000)
        if row.ttft_ms is not None:
            c.ttft.observe(row.ttft_ms / 1000)

    def upstream_error(self, provider: str, model: str, status: int, error_type: str | None) -> None:
        """Count one failed upstream attempt."""
        labels = self.model_label(provider, model, status)
        kind = (error_type or str(status))[:MAX_LABEL_CHARS]
        if kind not in self._error_types:
            if len(self._error_types) >= MAX_LABEL_VALUES:
                kind = OTHER
            else:
                self._error_types.add(kind)
        self._upstream_errors.labels(*labels, kind).inc()

    def render(self) -> bytes:
        """The exposition text of every metric."""
        return generate_latest(self.registry)

    def _build(self, provider: str, model: str, status: int) -> _Children:
        labels = (provider, model)
        return _Children(
            requests=self._requests.labels(*labels, str(status)),
            tokens=tuple(self._tokens.labels(*labels, kind) for kind in TOKEN_KINDS),
            cost=self._cost.labels(*labels),
            unpriced=self._unpriced.labels(*labels),
            latency=self._latency.labels(*labels),
            ttft=self._ttft.labels(*labels),
        )


class _Children:
    __slots__ = ("cost", "latency", "requests", "tokens", "ttft", "unpriced")

    def __init__(
        self,
        *,
        requests: Counter,
        tokens: tuple[Counter, ...],
        cost: Counter,
        unpriced: Counter,
        latency: Histogram,
        ttft: Histogram,
    ) -> None:
        self.requests = requests
        self.tokens = tokens
        self.cost = cost
        self.unpriced = unpriced
        self.latency = latency
        self.ttft = ttft


def _listed_models(catalog: Catalog) -> frozenset[tuple[str, str]]:
    """The (provider, model) pairs the configuration names: aliases' targets and allow-lists."""
    pairs = {(t.provider, t.model) for targets in catalog.aliases.values() for t in targets}
    pairs.update((p, m) for p, models in catalog.allowed.items() for m in models or ())
    return frozenset(pairs)


class _StateCollector(Collector):
    """What is read when scraped rather than counted on the hot path."""

    def __init__(self, pools: Mapping[str, _Pool], ledger: LedgerWriter, auth_failures: Callable[[], int]):
        self._pools = pools
        self._ledger = ledger
        self._auth_failures = auth_failures

    def collect(self) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "llmgw_auth_failures",
            "Requests refused for a missing or wrong client key.",
            value=self._auth_failures(),
        )
        started = CounterMetricFamily(
            "llmgw_key_cooldowns", "Cool-downs applied to upstream keys (429s).", labels=["provider"]
        )
        keys = GaugeMetricFamily(
            "llmgw_upstream_keys",
            "Upstream keys by state: usable, cooling (a cool-down running) or retired (rejected).",
            labels=["provider", "state"],
        )
        now = time.monotonic()
        for name, pool in self._pools.items():
            started.add_metric([name], pool.cooldowns_started)
            for state, n in zip(("usable", "cooling", "retired"), pool.states(now), strict=True):
                keys.add_metric([name, state], n)
        yield started
        yield keys
        yield GaugeMetricFamily(
            "llmgw_ledger_queue_rows", "Ledger rows in memory, not yet written.", value=self._ledger.pending()
        )
        yield GaugeMetricFamily(
            "llmgw_ledger_spool_bytes",
            "Size of the ledger's spool file (rows waiting for the database).",
            value=self._ledger.spool.size(),
        )
