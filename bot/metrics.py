"""Prometheus metrics of this process, served at /metrics by the HTTP server."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest
from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.response import HttpResponse

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

# A registry of our own rather than the library's global one: only Coherence's series, and
# tests can read them without another library's metrics in the way.
REGISTRY = CollectorRegistry()

PULSES_SENT = Counter(
    "coherence_pulses_sent", "Pulse messages delivered (channel posts and DMs).", registry=REGISTRY
)
PULSES_FAILED = Counter(
    "coherence_pulses_failed", "Pulse deliveries that failed for good.", registry=REGISTRY
)
ANSWERS = Counter("coherence_answers", "Pulse answers recorded.", registry=REGISTRY)
REMINDERS = Counter("coherence_reminders_sent", "Reminders sent.", registry=REGISTRY)
RUNS_CLOSED = Counter("coherence_runs_closed", "Pulse runs closed.", registry=REGISTRY)
DIGESTS = Counter("coherence_digests_posted", "Digests posted.", registry=REGISTRY)
OPEN_RUNS = Gauge(
    "coherence_open_runs", "Pulse runs open for answers (at the last tick).", registry=REGISTRY
)
SLACK_RATE_LIMITED = Counter(
    "coherence_slack_rate_limited", "Web API responses with HTTP 429.", registry=REGISTRY
)
SLACK_RETRIES = Counter(
    "coherence_slack_retries", "Web API calls retried, by reason.", ["reason"], registry=REGISTRY
)
TICK_DURATION = Histogram(
    "coherence_tick_duration_seconds",
    "Time one scheduler tick took.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
TICK_LAG = Gauge(
    "coherence_tick_lag_seconds",
    "How late the last tick started after it was due.",
    registry=REGISTRY,
)


def exposition() -> bytes:
    """Every series in the Prometheus text format."""
    return _generate_latest(REGISTRY)


def count_answer() -> None:
    """One pulse answer recorded (called by the answer listener once the answer is saved)."""
    ANSWERS.inc()


_RETRY_REASONS = {
    "RateLimitErrorRetryHandler": "rate_limited",
    "ServerErrorRetryHandler": "server_error",
    "ConnectionErrorRetryHandler": "connection_error",
}


class _CountingRetryHandler(RetryHandler):
    """Counts the retries of the Slack SDK handler it wraps; decides nothing itself."""

    def __init__(self, inner: RetryHandler, *, counts_rate_limits: bool) -> None:
        super().__init__(
            max_retry_count=inner.max_retry_count, interval_calculator=inner.interval_calculator
        )
        self.inner = inner
        # The client asks its handlers in turn about one response; the first one counts the 429.
        self.counts_rate_limits = counts_rate_limits
        self.reason = _RETRY_REASONS.get(type(inner).__name__, type(inner).__name__)

    # Keywords pass through untouched: this wrapper only observes the inner handler's decision.
    def can_retry(self, **call: Any) -> bool:
        retry = self.inner.can_retry(**call)
        response: HttpResponse | None = call.get("response")
        if self.counts_rate_limits and response is not None and response.status_code == 429:
            SLACK_RATE_LIMITED.inc()
        if retry:
            SLACK_RETRIES.labels(reason=self.reason).inc()
        return retry

    def prepare_for_next_attempt(self, **call: Any) -> None:
        self.inner.prepare_for_next_attempt(**call)


def count_slack_retries(client: WebClient) -> None:
    """Count `client`'s retries and 429s, keeping its retry handlers' behaviour."""
    inner = [
        handler.inner if isinstance(handler, _CountingRetryHandler) else handler
        for handler in client.retry_handlers
    ]
    client.retry_handlers = [
        _CountingRetryHandler(handler, counts_rate_limits=index == 0)
        for index, handler in enumerate(inner)
    ]


def record_tick(report: Any, *, digests: int, open_runs: int, seconds: float) -> None:
    """What one scheduler tick did (`report` is the dispatch TickReport)."""
    PULSES_SENT.inc(report.sent)
    PULSES_FAILED.inc(report.failed)
    REMINDERS.inc(report.reminded)
    RUNS_CLOSED.inc(report.closed)
    DIGESTS.inc(digests)
    OPEN_RUNS.set(open_runs)
    TICK_DURATION.observe(seconds)
