"""Staff API for alert rules: the defaults, each organisation's rules in force, its overrides."""

from __future__ import annotations

from typing import Annotated

import msgspec
from flask import Blueprint, Response

from controller.accounts.current import signed_in
from controller.api.io import MAX_ROW_ID, documented, json_response, parse_body
from controller.context import db_session
from controller.errors import NotFound
from controller.i18n import _
from controller.maintenance import rules as alert_rules

rules_api = Blueprint("alert_rules", __name__)

# A plain int converter: the OpenAPI document names its parameter (one with bounds it does not);
# the bounds are checked below, before any query (beyond them the driver fails, not the query).
ORGANISATION_RULE = "/organisations/<int:org_id>/alert-rules/<kind>"


class RuleDefaultOut(msgspec.Struct):
    kind: str
    threshold: float | None  # null: the rule takes none
    tolerance_min: int  # minutes in breach before the alert is raised; 0: at once
    unit: str | None  # of the threshold: "percent" or "seconds"
    threshold_min: float | None
    threshold_max: float | None
    meaning: str


class RuleOut(msgspec.Struct):
    kind: str
    threshold: float | None
    tolerance_min: int
    enabled: bool
    overridden: bool  # false: the default


class OrganisationRulesOut(msgspec.Struct):
    organisation_id: int
    organisation: str
    rules: list[RuleOut]


class AlertRulesOut(msgspec.Struct):
    defaults: list[RuleDefaultOut]
    organisations: list[OrganisationRulesOut]  # those the caller covers


class RuleIn(msgspec.Struct, forbid_unknown_fields=True):
    tolerance_min: Annotated[int, msgspec.Meta(ge=0, le=alert_rules.MAX_TOLERANCE_MIN)]
    # null or absent: the default threshold; a kind without one refuses any.
    threshold: float | None = None
    enabled: bool = True


def _default_out(default: alert_rules.RuleDefault) -> RuleDefaultOut:
    takes_one = default.unit is not None
    return RuleDefaultOut(
        default.kind.value,
        default.threshold,
        default.tolerance_min,
        default.unit.value if default.unit is not None else None,
        default.threshold_range[0] if takes_one else None,
        default.threshold_range[1] if takes_one else None,
        str(default.meaning),
    )


def _organisation_id(org_id: int) -> int:
    if not 1 <= org_id <= MAX_ROW_ID:
        raise NotFound(_("no organisation %(ref)s", ref=org_id))
    return org_id


def _rule_out(rule: alert_rules.Rule) -> RuleOut:
    return RuleOut(
        rule.kind.value, rule.threshold, rule.tolerance_min, rule.enabled, rule.overridden
    )


@rules_api.get("/alert-rules")
@documented(
    "The alert rules: their defaults, and those in force for each organisation you cover",
    response=AlertRulesOut,
    auth="staff",
)
def list_alert_rules() -> Response:
    in_force = alert_rules.visible_rules(db_session(), signed_in())
    return json_response(
        AlertRulesOut(
            [_default_out(d) for d in alert_rules.DEFAULTS.values()],
            [
                OrganisationRulesOut(o.id, o.name, [_rule_out(r) for r in rules.values()])
                for o, rules in in_force
            ],
        )
    )


@rules_api.put(ORGANISATION_RULE)
@documented(
    "Set an organisation's own threshold and tolerance for one alert rule, or turn it off",
    body=RuleIn,
    response=RuleOut,
    auth="staff",
    errors={
        403: "neither an admin nor a technician covering the organisation",
        404: "no such organisation or alert rule",
        409: "changed by someone else at the same moment",
        422: "threshold out of range or not taken by this rule, tolerance out of range",
    },
)
def put_alert_rule(org_id: int, kind: str) -> Response:
    body = parse_body(RuleIn)
    session = db_session()
    rule = alert_rules.set_override(
        session,
        signed_in(),
        _organisation_id(org_id),
        kind,
        threshold=body.threshold,
        tolerance_min=body.tolerance_min,
        enabled=body.enabled,
    )
    session.commit()
    return json_response(_rule_out(rule))


@rules_api.delete(ORGANISATION_RULE)
@documented(
    "Give an organisation the default of one alert rule again; answers the rule now in force",
    response=RuleOut,
    auth="staff",
    errors={
        403: "neither an admin nor a technician covering the organisation",
        404: "no such organisation or alert rule",
    },
)
def delete_alert_rule(org_id: int, kind: str) -> Response:
    session = db_session()
    rule = alert_rules.clear_override(session, signed_in(), _organisation_id(org_id), kind)
    session.commit()
    return json_response(_rule_out(rule))
