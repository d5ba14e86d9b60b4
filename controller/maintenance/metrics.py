"""Open alerts at ``/metrics``, read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from controller.db import Database
from controller.maintenance.models import Alert
from controller.places.models import Site


class AlertCollector(Collector):
    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        alerts = GaugeMetricFamily(
            "borne_alerts_open",
            "Open alerts by site and kind (wipe_incomplete: a public PC kept a resident's data)",
            labels=["site", "kind"],
        )
        with self._database.session(writes=False) as session:
            for slug, kind, count in session.execute(
                select(Site.slug, Alert.kind, func.count())
                .join(Site, Site.id == Alert.site_id)
                .where(Alert.resolved_at.is_(None))
                .group_by(Site.slug, Alert.kind)
            ):
                alerts.add_metric([slug, kind], count)
        yield alerts
