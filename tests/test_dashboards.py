"""The dashboards and alert rules name metrics the controller really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def exported_metric_names(client) -> set[str]:
    text = client.get("/metrics").get_data(as_text=True)
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}


def referenced(text: str) -> set[str]:
    names = set(re.findall(r"\b(borne_[a-z_]+)", text))
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}


def test_dashboard_and_alerts_use_exported_metrics(client):
    exported = exported_metric_names(client)
    dashboard = json.loads((ROOT / "dashboards/grafana/fleet.json").read_text())
    alerts = (ROOT / "dashboards/prometheus/alerts.yml").read_text()
    used = referenced(json.dumps(dashboard)) | referenced(alerts)
    assert used and used <= exported, used - exported
