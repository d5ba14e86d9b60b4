"""The dashboards and alert rules (dashboards/) name metrics the controller really exports, with
labels it really gives them, and Prometheus' own tool accepts them: promtool, from Debian's
prometheus package (``make test`` installs it), checks the rule files, the scrape configuration,
every dashboard query parsed as PromQL, and runs the rules on made-up series."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from agent.protocol import DeviceKind
from controller.db import utcnow
from controller.fleet.models import DeviceStatus
from controller.maintenance.models import Alert, AlertKind
from tests.factories import make_device, make_hotspot, make_site

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "dashboards/grafana"
PROMETHEUS = ROOT / "dashboards/prometheus"
SCRAPE_CONFIG = PROMETHEUS / "scrape.yml"  # a fragment of prometheus.yml, not a rule file
DASHBOARDS = sorted(GRAFANA.glob("*.json"))
RULE_FILES = sorted(p for p in PROMETHEUS.glob("*.yml") if p != SCRAPE_CONFIG)
SEVERITIES = {"critical", "warning", "info"}

METRIC = re.compile(r"\b(borne_[a-z0-9_]+)")
# A selector's braces: borne_devices{site=~"$site", kind="pc"} (label values hold no brace).
SELECTOR = re.compile(r"\b(borne_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"')
# Labels an aggregation or a vector match names: sum by (site, kind), on (site).
GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
GRAFANA_VARIABLE = re.compile(r"\$\{?[a-zA-Z_]+\}?")


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        raise RuntimeError(
            "promtool is missing: run 'make install-test-services' (Debian's prometheus)"
        )
    return subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def panels(container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside rows included."""
    for panel in container.get("panels", []):
        yield panel
        yield from panels(panel)


def dashboard_queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable of a dashboard."""
    for panel in panels(board):
        for target in panel.get("targets", []):
            yield f"panel {panel['id']} ({panel['title']}) {target['refId']}", target["expr"]
    for variable in board.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            query = variable["query"]
            yield (
                f"variable ${variable['name']}",
                query["query"] if isinstance(query, dict) else query,
            )


def rules(path: Path) -> Iterator[dict[str, Any]]:
    for group in yaml.safe_load(path.read_text())["groups"]:
        yield from group["rules"]


def every_query() -> Iterator[tuple[str, str]]:
    for path in DASHBOARDS:
        for where, expr in dashboard_queries(json.loads(path.read_text())):
            yield f"{path.name}: {where}", expr
    for path in RULE_FILES:
        for rule in rules(path):
            yield f"{path.name}: {rule.get('alert') or rule.get('record')}", rule["expr"]


def exported(client) -> dict[str, set[str] | None]:
    """Each name a query may use, with the labels its samples carry (None: no sample to tell).

    A family is declared (``# TYPE``) even with no sample, so names are known without data;
    labels only from the samples present."""
    text = client.get("/metrics").get_data(as_text=True)
    names: dict[str, set[str] | None] = {}
    for family in text_string_to_metric_families(text):
        suffixes = {
            "histogram": ("_bucket", "_count", "_sum"),
            "summary": ("", "_count", "_sum"),
            "counter": ("_total",),
        }.get(family.type, ("",))
        for suffix in suffixes:
            samples = [s for s in family.samples if s.name == family.name + suffix]
            labels = set().union(*(s.labels for s in samples)) if samples else None
            names[family.name + suffix] = labels
    return names


def seed_every_kind_of_device(db) -> None:
    """Rows behind each labelled family, so that their samples show which labels they carry."""
    site = make_site(db, slug="bib-centre")
    now = utcnow()
    pc = make_device(db, site, status=DeviceStatus.ONLINE, last_seen_at=now)
    make_device(db, site, kind=DeviceKind.KIOSK, status=DeviceStatus.OFFLINE, last_seen_at=now)
    make_hotspot(
        db,
        site,
        status=DeviceStatus.ONLINE,
        last_seen_at=now,
        metrics={"state": {"portal": "running", "portal_clients": "3"}},
    )
    db.add(Alert(kind=AlertKind.WIPE_INCOMPLETE, device_id=pc.id, site_id=site.id, message="left"))
    db.flush()


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_each_dashboard_is_json_with_a_title_and_unique_panel_ids(path: Path):
    board = json.loads(path.read_text())

    ids = [panel["id"] for panel in panels(board)]
    assert board["title"].strip() and board["uid"].strip()
    assert ids and len(ids) == len(set(ids)), f"{path.name}: panel ids repeat: {sorted(ids)}"
    assert all(panel["title"].strip() for panel in panels(board))


def test_the_five_dashboards_are_there_with_their_own_uids():
    boards = {path.stem: json.loads(path.read_text()) for path in DASHBOARDS}

    assert {"fleet", "site", "portal", "kiosks", "maintenance"} <= set(boards)
    uids = [board["uid"] for board in boards.values()]
    assert len(uids) == len(set(uids))


def test_the_site_dashboard_shows_the_chosen_site_only():
    board = json.loads((GRAFANA / "site.json").read_text())

    assert "site" in {v["name"] for v in board["templating"]["list"]}
    for where, expr in dashboard_queries(board):
        if not where.startswith("variable"):
            assert 'site="$site"' in expr, where


def test_every_query_uses_metrics_and_labels_the_controller_exports(client, db):
    seed_every_kind_of_device(db)
    client.get("/healthz")  # a timed request: the latency histogram gets its labels
    names = exported(client)

    unknown: dict[str, list[str]] = {}
    wrong_labels, no_metric = [], []
    for where, expr in every_query():
        used = set(METRIC.findall(expr))
        for name in sorted(used - set(names)):
            unknown.setdefault(name, []).append(where)
        # Alert rules may watch Prometheus' own `up`; a dashboard panel shows the controller's.
        if not used and ".json:" in where:
            no_metric.append(where)
        for name, matchers in SELECTOR.findall(expr):
            labels = names.get(name)
            if labels is not None:
                wrong_labels += [
                    f"{where}: {name}{{{label}}}"
                    for label in MATCHER.findall(matchers)
                    if label not in labels
                ]
        known = [names.get(name) for name in used]
        if known and all(labels is not None for labels in known):
            carried = set().union(*known)
            wrong_labels += [
                f"{where}: by ({label})"
                for grouping in GROUPING.findall(expr)
                for label in re.split(r"\s*,\s*", grouping.strip())
                if label and label not in carried
            ]
    assert not unknown, "metrics /metrics does not export:\n" + "\n".join(
        f"{name}, used by {'; '.join(wheres)}" for name, wheres in sorted(unknown.items())
    )
    assert not wrong_labels, f"labels these metrics do not carry: {wrong_labels}"
    assert not no_metric, f"queries on no metric of the controller: {no_metric}"


def test_promtool_accepts_every_rule_file():
    assert RULE_FILES
    result = promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_FILES)


def test_promtool_refuses_a_broken_rule_file(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "groups:\n"
        "  - name: broken\n"
        "    rules:\n"
        "      - alert: HalfAnExpression\n"
        '        expr: sum by (site) (borne_alerts_open{kind="offline"}) >\n'
        "        for: 5m\n"
    )
    result = promtool("check", "rules", broken)

    assert result.returncode != 0
    assert '"HalfAnExpression": could not parse expression' in result.stdout + result.stderr


def test_every_rule_says_how_long_how_bad_and_what_happened():
    names = []
    for path in RULE_FILES:
        for rule in rules(path):
            names.append(rule["alert"])
            assert "for" in rule, f"{rule['alert']}: no for:"
            assert rule.get("labels", {}).get("severity") in SEVERITIES, rule["alert"]
            annotations = rule.get("annotations", {})
            assert annotations.get("summary") and annotations.get("description"), rule["alert"]
    assert len(names) == len(set(names)), names


def test_every_dashboard_query_parses_as_promql(tmp_path: Path):
    """Each query becomes a recording rule that promtool parses; Grafana's variables stand in
    as plain values."""
    queries = [
        (f"{path.name}: {where}", GRAFANA_VARIABLE.sub("x", expr))
        for path in DASHBOARDS
        for where, expr in dashboard_queries(json.loads(path.read_text()))
        if not where.startswith("variable")  # label_values() is Grafana's, not PromQL
    ]
    recording = {
        "groups": [
            {
                "name": "dashboard-queries",
                "rules": [
                    {"record": f"dashboard:query_{n}", "expr": expr}
                    for n, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(recording))

    result = promtool("check", "rules", tmp_path / "queries.yml")

    failing = result.stdout + result.stderr
    assert result.returncode == 0, (
        failing + "\n" + "\n".join(f"{n}: {w}" for n, (w, _) in enumerate(queries))
    )


def test_promtool_accepts_the_scrape_config_with_the_rules(tmp_path: Path):
    """The fragment, placed under scrape_configs of a prometheus.yml that loads the rules;
    promtool wants the token file to exist, so it points at one here."""
    token = tmp_path / "borne-metrics-token"
    token.write_text("scrape-me\n")
    scrape = yaml.safe_load(SCRAPE_CONFIG.read_text())
    assert [job["job_name"] for job in scrape] == ["borne-controller"]
    assert scrape[0]["authorization"]["credentials_file"] == "/etc/prometheus/borne-metrics-token"
    scrape[0]["authorization"]["credentials_file"] = str(token)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump({"rule_files": [str(p) for p in RULE_FILES], "scrape_configs": scrape})
    )

    result = promtool("check", "config", config)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(1 for p in RULE_FILES for _ in rules(p))} rules found" in result.stdout


RULE_TESTS = """
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      # bib-centre: 2 of its 3 devices offline; mdh-abbaye: 1 of 4.
      - series: 'borne_alerts_open{site="bib-centre", kind="offline"}'
        values: '2x40'
      - series: 'borne_devices{site="bib-centre", kind="pc", status="online"}'
        values: '1x40'
      - series: 'borne_devices{site="bib-centre", kind="pc", status="offline"}'
        values: '2x40'
      - series: 'borne_alerts_open{site="mdh-abbaye", kind="offline"}'
        values: '1x40'
      - series: 'borne_devices{site="mdh-abbaye", kind="pc", status="online"}'
        values: '3x40'
      - series: 'borne_devices{site="mdh-abbaye", kind="pc", status="offline"}'
        values: '1x40'
      - series: 'borne_alerts_open{site="mdh-abbaye", kind="wipe_incomplete"}'
        values: '1x40'
      - series: 'borne_tickets_breached{team="Equipe ville", priority="urgent", target="take"}'
        values: '1x40'
      - series: 'borne_tickets_breached{team="Equipe ville", priority="low", target="take"}'
        values: '0x9 1x30'
    alert_rule_test:
      - eval_time: 0m
        alertname: BornePublicPcWipeIncomplete
        exp_alerts:
          - exp_labels: {severity: critical, site: mdh-abbaye}
      - eval_time: 9m
        alertname: BorneSiteUnreachable
        exp_alerts: []
      - eval_time: 10m
        alertname: BorneSiteUnreachable
        exp_alerts:
          - exp_labels: {severity: critical, site: bib-centre}
      - eval_time: 10m
        alertname: BorneDeviceOffline
        exp_alerts: []
      - eval_time: 15m
        alertname: BorneDeviceOffline
        exp_alerts:
          - exp_labels: {severity: warning, site: bib-centre}
          - exp_labels: {severity: warning, site: mdh-abbaye}
      - eval_time: 5m
        alertname: BorneUrgentTicketNotTaken
        exp_alerts:
          - exp_labels: {severity: critical, team: Equipe ville}
      - eval_time: 20m
        alertname: BorneTicketNotTaken
        exp_alerts: []
      - eval_time: 25m
        alertname: BorneTicketNotTaken
        exp_alerts:
          - exp_labels: {severity: warning, team: Equipe ville, priority: low}
"""


def test_the_rules_fire_when_and_where_they_say(tmp_path: Path):
    """promtool runs the rules on made-up series. It compares annotations too, so it runs them
    from a copy without annotations: their text is checked above, their firing here."""
    for path in RULE_FILES:
        groups = yaml.safe_load(path.read_text())
        for group in groups["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
        (tmp_path / path.name).write_text(yaml.safe_dump(groups))
    tests = yaml.safe_load(RULE_TESTS)
    tests["rule_files"] = [str(tmp_path / path.name) for path in RULE_FILES]
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))

    result = promtool("test", "rules", tmp_path / "tests.yml")

    assert result.returncode == 0, result.stdout + result.stderr
