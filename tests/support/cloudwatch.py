"""The metrics template.yaml's alarms and dashboard watch, and the metrics the functions emit (EMF).

A dimension value that names a template resource is written `!Ref Name` or `!GetAtt Name.Attribute`, whether
the template says it with an intrinsic (alarms) or with `${...}` inside the dashboard's `!Sub` body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

#: the stack name the template's `${AWS::StackName}` stands for here (the local runner's default stack)
STACK = "flatfile-relay"
#: the relay's own namespace (POWERTOOLS_METRICS_NAMESPACE): one per stack
NAMESPACE = f"FlatfileRelay/{STACK}"
#: how the template writes it
NAMESPACE_SUB = {"Fn::Sub": "FlatfileRelay/${AWS::StackName}"}
ALARM = "AWS::CloudWatch::Alarm"
DASHBOARD = "AWS::CloudWatch::Dashboard"


@dataclass(frozen=True)
class Watched:
    """One metric an alarm or a dashboard widget reads."""

    where: str  # "PollerDLQAlarm", "Dashboard: Failures by kind", ...
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted (name, value)

    def dimension(self, name: str) -> str:
        return dict(self.dimensions)[name]


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's alarms by logical id."""
    return {name: r for name, r in template["Resources"].items() if r["Type"] == ALARM}


def alarm_metrics(template: dict[str, Any]) -> list[Watched]:
    """The metric of every alarm (each alarm watches exactly one, no metric math)."""
    watched = []
    for name, alarm in alarms(template).items():
        props = alarm["Properties"]
        assert "Metrics" not in props, f"{name}: metric math is not checked here"
        dimensions = tuple(sorted((d["Name"], _value(d["Value"])) for d in props.get("Dimensions", [])))
        watched.append(Watched(name, _value(props["Namespace"]), props["MetricName"], dimensions))
    return watched


def dashboard_body(template: dict[str, Any], name: str = "Dashboard") -> dict[str, Any]:
    """The dashboard's JSON body, `${...}` replaced: parameters by their defaults, resources by `!Ref` /
    `!GetAtt` markers, pseudo parameters by sample values."""
    body = template["Resources"][name]["Properties"]["DashboardBody"]
    assert isinstance(body, dict), "DashboardBody is built with !Sub"
    assert set(body) == {"Fn::Sub"}, "DashboardBody is built with !Sub"
    text = body["Fn::Sub"]
    assert isinstance(text, str), "!Sub with a plain string: every ${...} names a parameter or resource"
    parameters = template.get("Parameters", {})

    def substitute(match: re.Match[str]) -> str:
        token = match.group(1)
        if token.startswith("AWS::"):
            return {"AWS::Region": "eu-west-1", "AWS::StackName": STACK}[token]
        if token in parameters:
            return str(parameters[token]["Default"])
        resource, _, attribute = token.partition(".")
        assert resource in template["Resources"], f"dashboard: ${{{token}}} names nothing in the template"
        return f"!GetAtt {resource}.{attribute}" if attribute else f"!Ref {resource}"

    loaded: dict[str, Any] = json.loads(re.sub(r"\$\{([^}]+)\}", substitute, text))
    return loaded


def dashboard_metrics(template: dict[str, Any], name: str = "Dashboard") -> list[Watched]:
    """Every metric of every widget (the array form, written out in full: no "." shorthand)."""
    watched = []
    for widget in dashboard_body(template, name)["widgets"]:
        properties = widget.get("properties", {})
        for line in properties.get("metrics", []):
            fields = [item for item in line if not isinstance(item, dict)]
            assert "." not in fields, f"{properties.get('title')}: write dashboard metrics out in full"
            namespace, metric, *pairs = fields
            assert len(pairs) % 2 == 0, f"{properties.get('title')}: dimensions come in name/value pairs"
            dimensions = tuple(sorted(zip(pairs[::2], pairs[1::2], strict=True)))
            watched.append(Watched(f"{name}: {properties.get('title')}", namespace, metric, dimensions))
    return watched


def emitted_metrics(output: str) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """(namespace, metric, sorted dimensions) of every metric in the EMF documents printed to stdout."""
    found = set()
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = tuple(sorted((key, str(document[key])) for key in dimension_set))
                for metric in directive["Metrics"]:
                    assert metric["Name"] in document, f"EMF document without a value for {metric['Name']}"
                    found.add((directive["Namespace"], metric["Name"], dimensions))
    return found


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        assert re.sub(r"\$\{AWS::StackName\}", "", text).count("${") == 0, f"only the stack name in {text!r}"
        return text.replace("${AWS::StackName}", STACK)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return f"!Ref {value['Ref']}"
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        resource, attribute = target if isinstance(target, list) else str(target).split(".", 1)
        return f"!GetAtt {resource}.{attribute}"
    raise AssertionError(f"a value must be a literal, !Ref, !GetAtt or !Sub of the stack name, got {value!r}")
