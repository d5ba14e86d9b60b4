"""Prometheus metrics, in a registry owned by the app (never the global one).

Fleet figures are read from the database at scrape time by a custom collector, so nothing has to
keep counters in step with the data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from controller.db import Database
from controller.models import Alert, Device, Site, utcnow


class FleetCollector(Collector):
    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        devices = GaugeMetricFamily(
            "borne_devices", "Devices by site, kind and status", labels=["site", "kind", "status"]
        )
        age = GaugeMetricFamily(
            "borne_device_heartbeat_age_seconds",
            "Seconds since each device's last heartbeat",
            labels=["device", "name", "site", "kind"],
        )
        alerts = GaugeMetricFamily(
            "borne_alerts_open",
            "Open alerts by site and kind (wipe_incomplete: a public PC kept a resident's data)",
            labels=["site", "kind"],
        )
        now = utcnow()
        with self._database.session() as session:
            for slug, kind, count in session.execute(
                select(Site.slug, Alert.kind, func.count())
                .join(Site, Site.id == Alert.site_id)
                .where(Alert.resolved_at.is_(None))
                .group_by(Site.slug, Alert.kind)
            ):
                alerts.add_metric([slug, kind], count)
            for slug, kind, status, count in session.execute(
                select(Site.slug, Device.kind, Device.status, func.count())
                .join(Site)
                .group_by(Site.slug, Device.kind, Device.status)
            ):
                devices.add_metric([slug, kind, status], count)
            for device_id, name, slug, kind, last_seen in session.execute(
                select(Device.id, Device.name, Site.slug, Device.kind, Device.last_seen_at)
                .join(Site)
                .where(Device.last_seen_at.is_not(None))
            ):
                age.add_metric([device_id, name, slug, kind], (now - last_seen).total_seconds())
        yield devices
        yield age
        yield alerts


def init_metrics(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(FleetCollector(app.extensions["borne.db"]))
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


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
