"""The email alert on lost connections (issue 16): a log search alert rule that reads exactly the line
shared/domain/event_log.py writes, and an action group only when addresses are given.

The conditions are evaluated from the parsed Bicep for given parameter values (support.evaluate), from
what azd passes (ALERT_EMAILS) through main.bicep into the module.
"""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain.event_log import CONNECTION_LOST, EVENT_LOG_PREFIX, FIELDS, event_log_line

from .support import INFRA, accessor, body, declaring, evaluate, only, resources

RULE = "Microsoft.Insights/scheduledQueryRules"
ACTION_GROUP = "Microsoft.Insights/actionGroups"
# Scheduled query rules: the newest version that is not a preview (Bicep template reference, change log).
RULE_API_VERSION = "2023-12-01"
ISO_MINUTES = re.compile(r"^PT(\d+)M$")


@pytest.fixture(scope="module")
def alerts(bicep: dict[str, dict[str, Any]]) -> dict[str, Any]:
    path, document = declaring(bicep, RULE)
    assert path == "infra/modules/alerts.bicep"
    assert declaring(bicep, ACTION_GROUP)[0] == path, "the action group belongs beside the rule"
    return document


@pytest.fixture(scope="module")
def rule(alerts: dict[str, Any]) -> dict[str, Any]:
    return only(alerts, RULE)


@pytest.fixture(scope="module")
def query(rule: dict[str, Any]) -> str:
    (criterion,) = rule["properties"]["criteria"]["allOf"]
    return criterion["query"]


def _alerts_module(bicep: dict[str, dict[str, Any]]) -> dict[str, Any]:
    main = bicep["infra/main.bicep"]
    (module,) = [m for m in main["modules"].values() if m["detail"]["path"] == "modules/alerts.bicep"]
    return module["config"]


def _deployed_for(bicep: dict[str, dict[str, Any]], alert_emails_setting: str) -> dict[str, Any]:
    """What the alerts module deploys when azd passes ALERT_EMAILS=<setting> to main.bicep's alertEmails."""
    main = bicep["infra/main.bicep"]
    main_scope = {"alertEmails": alert_emails_setting}
    main_scope["alertEmailList"] = evaluate(main["variables"]["alertEmailList"]["value"], main_scope)
    module_scope = {"alertEmails": evaluate(_alerts_module(bicep)["params"]["alertEmails"], main_scope)}
    document = bicep["infra/modules/alerts.bicep"]
    (group,) = resources(document, ACTION_GROUP).values()
    rule_config = only(document, RULE)
    return {
        "emails": module_scope["alertEmails"],
        "action group deployed": evaluate(group["config"]["condition"], module_scope),
        "group": body(group),
        "rule actions": evaluate(rule_config["properties"]["actions"]["actionGroups"], module_scope),
    }


# --- what azd passes -----------------------------------------------------------------------------

def test_alert_emails_come_from_azd_with_an_empty_default(bicep) -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["alertEmails"] == {"value": "${ALERT_EMAILS=}"}
    main_param = bicep["infra/main.bicep"]["parameters"]["alertEmails"]
    # azd substitutes text; an array parameter would need JSON in the variable and a recent azd.
    assert main_param["type"] == "string" and main_param["default"] == ""


# --- the action group ----------------------------------------------------------------------------

def test_no_addresses_deploy_no_action_group_and_no_rule_action(bicep) -> None:
    for setting in ("", "  ", ","):
        deployed = _deployed_for(bicep, setting)
        assert deployed["emails"] == []
        assert deployed["action group deployed"] is False
        assert deployed["rule actions"] == []


def test_addresses_deploy_one_action_group_that_mails_each_of_them(bicep) -> None:
    deployed = _deployed_for(bicep, "ops@example.com, oncall@example.com,")
    assert deployed["emails"] == ["ops@example.com", "oncall@example.com"]
    assert deployed["action group deployed"] is True
    assert deployed["rule actions"] == [("actionGroup", "id")]
    receivers = deployed["group"]["properties"]["emailReceivers"]
    assert receivers["loop_type"]["detail"]["array_name"] == "alertEmails"
    item = receivers["loop_type"]["detail"]["item_name"]
    assert receivers["config"]["emailAddress"] == item
    assert receivers["config"]["useCommonAlertSchema"] is True
    assert deployed["group"]["properties"]["enabled"] is True
    assert len(deployed["group"]["properties"]["groupShortName"]) <= 12  # the service's limit


# --- the rule ------------------------------------------------------------------------------------

def test_rule_is_a_current_log_alert_over_the_app_insights_component(bicep, alerts, rule) -> None:
    (resource,) = [r for r in resources(alerts, RULE).values() if not r.get("existing")]
    assert resource["api_version"] == RULE_API_VERSION
    assert rule["kind"] == "LogAlert"
    (scope,) = rule["properties"]["scopes"]
    target, attribute = accessor(scope)
    assert attribute == "id"
    component = alerts["resources"][target]
    assert component["type"] == "Microsoft.Insights/components" and component["existing"] is True
    passed = _alerts_module(bicep)["params"][component["config"]["name"]]
    assert accessor(passed) == ("monitoring", "outputs", "applicationInsightsName")


def test_rule_fires_every_five_minutes_at_severity_2_and_resolves_itself(rule) -> None:
    properties = rule["properties"]
    assert properties["severity"] == 2
    assert properties["enabled"] is True
    assert properties["autoMitigate"] is True
    frequency = int(ISO_MINUTES.match(properties["evaluationFrequency"])[1])
    window = int(ISO_MINUTES.match(properties["windowSize"])[1])
    assert frequency == 5 and 5 <= window <= 15


def test_rule_has_no_identity(rule) -> None:
    """Its query reads only the component in its scope, as whoever deployed it: no identity, no role to grant."""
    assert "identity" not in rule


def test_rule_counts_lost_connections_and_names_customers_in_one_alert(rule, query) -> None:
    (criterion,) = rule["properties"]["criteria"]["allOf"]
    assert criterion["operator"] == "GreaterThan" and criterion["threshold"] == 0
    assert criterion["timeAggregation"] == "Total"
    assert criterion["failingPeriods"] == {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1}
    last_summarize = [line for line in query.splitlines() if line.lstrip("| ").startswith("summarize")][-1]
    # One row per evaluation: the final summarize has no `by`, so one alert carries the count and the ids.
    assert " by " not in last_summarize
    assert f"{criterion['metricMeasureColumn']} = sum(" in last_summarize
    (dimension,) = criterion["dimensions"]
    assert f"{dimension['name']} = strcat_array(" in last_summarize and "make_set(customerId, 5)" in last_summarize


# --- the query reads what the app writes ----------------------------------------------------------

def test_query_matches_the_prefix_and_fields_the_app_writes(query) -> None:
    assert f'let prefix = "{EVENT_LOG_PREFIX}";' in query
    assert "| where message startswith_cs prefix" in query
    assert "parse_json(substring(message, strlen(prefix)))" in query
    assert f'tostring(payload.type) == "{CONNECTION_LOST}"' in query
    used = set(re.findall(r"\bpayload\.([A-Za-z]+)", query))
    assert used == {"type", "customerId", "eventId"} and used <= set(FIELDS)


def test_query_counts_each_line_in_one_evaluation_only(rule, query) -> None:
    """Lines ingested within one evaluation period are counted; the longer window lets late lines in once."""
    (minutes,) = re.findall(r"coalesce\(ingestion_time\(\), timestamp\) > ago\((\d+)m\)", query)
    assert f"PT{minutes}M" == rule["properties"]["evaluationFrequency"]


def test_a_logged_line_is_read_back_as_the_query_reads_it(query) -> None:
    """The line, taken apart the KQL way: the prefix of its `let`, then parse_json of what follows."""
    prefix = re.search(r'let prefix = "([^"]*)";', query)[1]
    event_type = re.search(r'tostring\(payload\.type\) == "([^"]*)"', query)[1]
    line = event_log_line(event_type="connectionLost", event_id="e-1", customer_id="contoso", tenant_id="contoso.com",
                          from_status="succeeded", from_reason=None, to_status="failed",
                          to_reason="invalidCredentials", at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), run_id=None)
    assert line.startswith(prefix)
    payload = json.loads(line[len(prefix):])
    assert payload["type"] == event_type
    assert (payload["customerId"], payload["eventId"]) == ("contoso", "e-1")
