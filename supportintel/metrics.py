"""`/metrics` in Prometheus' text format.

Every figure is read at scrape time from the stores all processes share (the database, the breaker's
storage), so any web process answers with the same numbers whichever gunicorn worker or Celery
worker did the work, and nothing is lost when a process restarts. Each query is bounded by an index
or a time window, as the dashboard's are, so a scrape stays cheap at a million tickets.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Iterator, Sequence
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from classification import services as classification
from classification.models import Classification, TripReason
from tickets import stats
from tickets.models import Source, Status, Ticket
from workers import heartbeat

# LLM latency quantiles are taken over the calls of this recent window (at most LATENCY_SAMPLE of them).
LATENCY_WINDOW = timedelta(minutes=15)
LATENCY_SAMPLE = 10_000
QUANTILES = (0.5, 0.9, 0.99)
BREAKER_STATES = ("closed", "open", "half-open")


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of already sorted values."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


class SupportIntelCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self._tickets()
        yield from self._classifications()
        yield from self._llm()
        yield from self._breaker()
        workers = GaugeMetricFamily("supportintel_workers", "Celery workers whose heartbeat was seen recently.")
        workers.add_metric([], len(heartbeat.alive()))
        yield workers

    def _tickets(self) -> Iterator[Metric]:
        # Ticket ids are never reused: the highest one counts every ticket ever accepted, deleted ones too.
        received = CounterMetricFamily("supportintel_tickets_received", "Tickets accepted (API, dashboard, import).")
        received.add_metric([], Ticket.objects.aggregate(last=Max("id"))["last"] or 0)
        yield received

        counts = stats.status_counts()
        by_status = GaugeMetricFamily(
            "supportintel_tickets",
            "Tickets by pipeline status (classified is estimated above 100k rows).",
            labels=["status"],
        )
        for status in Status.values:
            by_status.add_metric([status], counts[status])
        yield by_status

        depth = GaugeMetricFamily("supportintel_queue_depth", "Tickets queued or being classified.")
        depth.add_metric([], counts[Status.QUEUED] + counts[Status.PROCESSING])
        yield depth

    def _classifications(self) -> Iterator[Metric]:
        by_source = dict(Classification.objects.values_list("source").annotate(n=Count("*")).order_by())
        total = CounterMetricFamily(
            "supportintel_classifications", "Classifications stored, by source.", labels=["source"]
        )
        for source in Source.values:
            total.add_metric([source], by_source.get(source, 0))
        yield total

        reasons = dict(
            Ticket.objects.filter(classification_source=Source.KEYWORD)
            .values_list("fallback_reason")
            .annotate(n=Count("*"))
            .order_by()
        )
        fallback = GaugeMetricFamily(
            "supportintel_keyword_tickets",
            "Tickets whose current classification came from the keyword classifier, by why the LLM was not used.",
            labels=["reason"],
        )
        for reason, n in sorted(reasons.items()):
            fallback.add_metric([reason or "none"], n)
        yield fallback

    def _llm(self) -> Iterator[Metric]:
        since = timezone.now() - LATENCY_WINDOW
        recent = (
            Classification.objects.filter(source=Source.LLM, created__gte=since, latency_ms__isnull=False)
            .order_by("-created")
            .values_list("latency_ms", flat=True)[:LATENCY_SAMPLE]
        )
        latencies = sorted(ms / 1000 for ms in recent if ms is not None)
        latency = GaugeMetricFamily(
            "supportintel_llm_latency_seconds",
            f"LLM call latency over the last {int(LATENCY_WINDOW.total_seconds() // 60)} minutes.",
            labels=["quantile"],
        )
        for q in QUANTILES:
            latency.add_metric([str(q)], quantile(latencies, q) if latencies else math.nan)
        yield latency
        calls = GaugeMetricFamily("supportintel_llm_recent_calls", "LLM calls in the latency window.")
        calls.add_metric([], len(latencies))
        yield calls

        spent = classification.llm_spent_today()
        tokens = GaugeMetricFamily("supportintel_llm_tokens_today", "LLM tokens spent since midnight.")
        tokens.add_metric([], spent["tokens"])
        yield tokens
        cost = GaugeMetricFamily("supportintel_llm_cost_usd_today", "Estimated LLM cost since midnight, USD.")
        cost.add_metric([], spent["cost_usd"])
        yield cost
        budget = GaugeMetricFamily(
            "supportintel_llm_daily_token_budget",
            "LLM_DAILY_TOKEN_BUDGET: tokens a day before the keyword fallback (0: none).",
        )
        budget.add_metric([], settings.LLM_DAILY_TOKEN_BUDGET)
        yield budget

        spent = classification.llm_spent_today(Source.LLM_FALLBACK)
        tokens = GaugeMetricFamily(
            "supportintel_llm_fallback_tokens_today", "Tokens the fallback model spent since midnight."
        )
        tokens.add_metric([], spent["tokens"])
        yield tokens
        cost = GaugeMetricFamily(
            "supportintel_llm_fallback_cost_usd_today", "Estimated cost of the fallback model since midnight, USD."
        )
        cost.add_metric([], spent["cost_usd"])
        yield cost
        budget = GaugeMetricFamily(
            "supportintel_llm_fallback_daily_token_budget",
            "LLM_FALLBACK_DAILY_TOKEN_BUDGET: the fallback model's tokens a day (0: none).",
        )
        budget.add_metric([], settings.LLM_FALLBACK_DAILY_TOKEN_BUDGET)
        yield budget

    def _breaker(self) -> Iterator[Metric]:
        status = classification.breaker_status()
        # The LLM's breaker, and the fallback model's when one is configured: label breaker="llm" | "llm_fallback".
        breakers = [("llm", status)] + ([("llm_fallback", status["fallback"])] if status["fallback"] else [])
        state = GaugeMetricFamily(
            "supportintel_llm_breaker_state",
            "1 for each LLM circuit breaker's current state.",
            labels=["breaker", "state"],
        )
        failures = GaugeMetricFamily(
            "supportintel_llm_breaker_failures", "Consecutive LLM failures counted.", labels=["breaker"]
        )
        tripped = GaugeMetricFamily(
            "supportintel_llm_breaker_tripped",
            "1 for the condition that opened the breaker, while it is open or half-open.",
            labels=["breaker", "reason"],
        )
        window = {
            figure: GaugeMetricFamily(
                f"supportintel_llm_breaker_window_{figure}",
                f"{what} in the breaker's sliding window (LLM_BREAKER_WINDOW_SECONDS).",
                labels=["breaker"],
            )
            for figure, what in (("calls", "Calls"), ("failures", "Failed calls"), ("slow_calls", "Slow calls"))
        }
        for name, current in breakers:
            for value in BREAKER_STATES:
                state.add_metric([name, value], 1 if current["state"] == value else 0)
            failures.add_metric([name], current["fail_counter"])
            for reason in TripReason.values:
                tripped.add_metric([name, reason], 1 if current["trip_reason"] == reason else 0)
            for figure, family in window.items():
                family.add_metric([name], current["window"][figure])
        yield from (state, failures, tripped, *window.values())
        configured = GaugeMetricFamily("supportintel_llm_configured", "1 when an LLM is configured.")
        configured.add_metric([], 1 if status["llm_configured"] else 0)
        yield configured
        fallback = GaugeMetricFamily(
            "supportintel_llm_fallback_configured", "1 when a fallback model (LLM_FALLBACK_MODEL) is configured."
        )
        fallback.add_metric([], 1 if status["fallback"] else 0)
        yield fallback


registry = CollectorRegistry(auto_describe=False)
registry.register(SupportIntelCollector())


def _authorized(request: HttpRequest) -> bool:
    """Open when the operator said so (METRICS_PUBLIC); otherwise a staff session or the bearer token."""
    if settings.METRICS_PUBLIC:
        return True
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    if not token:
        return False
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse(
            "metrics need a staff session or the bearer token set in METRICS_TOKEN (METRICS_PUBLIC=1 opens them)\n",
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
