"""Prometheus metrics, in a registry owned by the app (never the global one).

The kernel measures HTTP requests; each domain adds the figures it owns with
:func:`add_collector`, usually a custom collector that reads the database at scrape time, so
nothing has to keep counters in step with the data.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.registry import Collector


def init_metrics(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry()
    latency = Histogram(
        "borne_http_request_duration_seconds",
        "HTTP request latency by route",
        ["method", "endpoint", "status"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is not None:
            # Label by route rule, never by raw path: ids in paths would explode cardinality.
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            latency.labels(request.method, endpoint, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response

    app.extensions["borne.metrics"] = registry
    return registry


def registry_of(app: Flask) -> CollectorRegistry:
    """The app's own registry, for a domain's counters and histograms."""
    registry: CollectorRegistry = app.extensions["borne.metrics"]
    return registry


def add_collector(app: Flask, collector: Collector) -> None:
    """Expose ``collector``'s figures at ``/metrics`` of ``app``."""
    registry_of(app).register(collector)


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
