"""Read template.yaml the way the local runner needs it: resources to create and each function's setup.

Only what the runner uses is interpreted: the resources it creates in moto (see `deployment`), and for each
`AWS::Serverless::Function` its handler, code folder, timeout, environment (Globals merged), SQS event
sources and schedules. Intrinsics `!Ref` (`AWS::NoValue` drops the value), `!GetAtt`, `!Sub`, `!Join`,
`!Split`, `!Select`, and `!If` on the template's Conditions (`!Equals`, `!Not`, `!And`, `!Or`).

Example:
    >>> template = Template.load("template.yaml")          # from the repository's root
    >>> [f.name for f in template.functions()]
    ['PollerFunction', 'ExporterFunction', 'WebhookFunction', 'ConsumerFunction']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class TemplateError(ValueError):
    """template.yaml holds something the local runner cannot interpret."""


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation short-form tags as {"Fn::...": value} / {"Ref": value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_yaml(path: str | Path) -> Any:
    """A YAML file with CloudFormation short-form tags read as their long form (`!Ref X` -> {"Ref": "X"})."""
    with Path(path).open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass(frozen=True)
class SqsSource:
    """An SQS event source of a function."""

    queue: str  # logical id of the queue
    batch_size: int
    report_failures: bool


@dataclass(frozen=True)
class ScheduleSource:
    """A `Schedule` / `ScheduleV2` event of a function (its properties as the template writes them)."""

    event: str  # the event's name under Events
    kind: str  # Schedule or ScheduleV2
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    """What the runner needs to invoke one function like Lambda would."""

    name: str
    code_uri: str
    handler: str
    timeout: int
    environment: dict[str, Any]
    sqs_sources: tuple[SqsSource, ...] = ()
    has_schedule: bool = False
    has_url: bool = False
    schedules: tuple[ScheduleSource, ...] = ()


@dataclass
class Template:
    """A parsed template.yaml."""

    body: dict[str, Any]
    root: Path = field(default_factory=Path)

    @classmethod
    def load(cls, path: str | Path) -> Template:
        path = Path(path)
        body = load_yaml(path)
        if not isinstance(body, dict) or "Resources" not in body:
            raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
        return cls(body=body, root=path.parent)

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.body["Resources"]
        return resources

    def parameter_defaults(self) -> dict[str, str]:
        return {
            name: str(spec.get("Default", ""))
            for name, spec in (self.body.get("Parameters") or {}).items()
        }

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res.get("Type") == resource_type}

    def functions(self) -> list[FunctionSpec]:
        defaults = (self.body.get("Globals") or {}).get("Function") or {}
        specs = []
        for name, resource in self.of_type("AWS::Serverless::Function").items():
            props = resource.get("Properties") or {}
            env = dict(((defaults.get("Environment") or {}).get("Variables")) or {})
            env.update(((props.get("Environment") or {}).get("Variables")) or {})
            sources, schedules = [], []
            for event_name, event in (props.get("Events") or {}).items():
                kind, event_props = event.get("Type"), event.get("Properties") or {}
                if kind == "SQS":
                    queue = event_props.get("Queue")
                    response_types = event_props.get("FunctionResponseTypes") or []
                    sources.append(
                        SqsSource(
                            queue=_logical_id(queue),
                            batch_size=int(event_props.get("BatchSize", 10)),
                            report_failures="ReportBatchItemFailures" in response_types,
                        )
                    )
                elif kind in ("Schedule", "ScheduleV2"):
                    schedules.append(ScheduleSource(event=str(event_name), kind=str(kind), properties=event_props))
            specs.append(
                FunctionSpec(
                    name=name,
                    code_uri=str(props.get("CodeUri", defaults.get("CodeUri", ""))),
                    handler=str(props.get("Handler", defaults.get("Handler", "app.handler"))),
                    timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
                    environment=env,
                    sqs_sources=tuple(sources),
                    has_schedule=bool(schedules),
                    has_url="FunctionUrlConfig" in props,
                    schedules=tuple(schedules),
                )
            )
        return specs

    def function(self, name: str) -> FunctionSpec:
        for spec in self.functions():
            if spec.name == name:
                return spec
        raise TemplateError(f"template has no function {name!r}")


def _logical_id(value: Any) -> str:
    """The logical id a `!GetAtt Queue.Arn` / `!Ref Queue` points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target.split(".", 1)[0] if isinstance(target, str) else target[0])
    raise TemplateError(f"cannot tell which resource {value!r} refers to")


Lookup = Callable[[str], str]
#: what `!Ref AWS::NoValue` stands for while resolving: the key or list item holding it is dropped
_NO_VALUE = object()


def resolve(
    value: Any, ref: Lookup, getatt: Callable[[str, str], str], condition: Callable[[str], bool] | None = None
) -> Any:
    """Resolve `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Split`, `Fn::Select` and `Fn::If` with the
    given lookups; other values pass through. `!Ref AWS::NoValue` removes its key or list item (None alone).

    Example:
        >>> resolve({"Fn::If": ["On", {"Ref": "A"}, "off"]}, str.lower, lambda n, a: n, lambda name: True)
        'a'
        >>> resolve({"Fn::Join": ["_", {"Fn::Split": ["-", {"Ref": "AWS::StackName"}]}]}, lambda n: "my-stack",
        ...         lambda n, a: n)
        'my_stack'
        >>> resolve([1, {"Ref": "AWS::NoValue"}], str, lambda n, a: n)
        [1]
    """
    resolved = _resolve(value, ref, getatt, condition)
    return None if resolved is _NO_VALUE else resolved


def _resolve(
    value: Any, ref: Lookup, getatt: Callable[[str, str], str], condition: Callable[[str], bool] | None
) -> Any:
    def again(inner: Any) -> Any:
        return _resolve(inner, ref, getatt, condition)

    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return _NO_VALUE if arg == "AWS::NoValue" else ref(str(arg))
        if key in _LISTS:
            return _LISTS[key](again(arg))
        if key == "Fn::GetAtt":
            logical, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return getatt(str(logical), str(attribute))
        if key == "Fn::If" and condition is not None:
            name, when_true, when_false = arg
            return again(when_true if condition(str(name)) else when_false)
        if key == "Fn::Sub":
            text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

            def substitute(match: re.Match[str]) -> str:
                if match.group(1):  # ${!Literal} is the literal text ${Literal}
                    return "${" + match.group(2) + "}"
                name = match.group(2)
                if name in local:
                    return str(again(local[name]))
                if "." in name:
                    logical, attribute = name.split(".", 1)
                    return getatt(logical, attribute)
                return ref(name)

            return re.sub(r"\$\{(!?)([^}]+)\}", substitute, text)
        if key.startswith("Fn::"):
            raise TemplateError(f"the local runner does not interpret {key}")
    if isinstance(value, dict):
        pairs = ((k, again(v)) for k, v in value.items())
        return {k: v for k, v in pairs if v is not _NO_VALUE}
    if isinstance(value, list):
        return [item for item in (again(v) for v in value) if item is not _NO_VALUE]
    return value


def _join(arg: Any) -> str:
    separator, items = arg
    return str(separator).join(str(item) for item in items)


def _split(arg: Any) -> list[str]:
    separator, text = arg
    return str(text).split(str(separator))


def _select(arg: Any) -> Any:
    index, items = arg
    return items[int(index)]


#: intrinsics computed from their resolved argument
_LISTS: dict[str, Callable[[Any], Any]] = {"Fn::Join": _join, "Fn::Split": _split, "Fn::Select": _select}


def evaluate_condition(template: Template, name: str, ref: Lookup) -> bool:
    """The value of one of the template's Conditions (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`).

    Example:
        >>> template = Template(body={"Resources": {}, "Conditions": {"Off": {"Fn::Not": [{"Condition": "On"}]},
        ...                                                           "On": {"Fn::Equals": [{"Ref": "P"}, "x"]}}})
        >>> evaluate_condition(template, "Off", lambda name: "x")
        False
    """
    conditions = template.body.get("Conditions") or {}
    if name not in conditions:
        raise TemplateError(f"template has no condition {name!r}")

    def value(node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            (key, arg), = node.items()
            if key == "Condition":
                return evaluate_condition(template, str(arg), ref)
            if key == "Fn::Equals":
                left, right = (resolve(side, ref, _no_getatt) for side in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not value(arg[0])
            if key == "Fn::And":
                return all(value(item) for item in arg)
            if key == "Fn::Or":
                return any(value(item) for item in arg)
        raise TemplateError(f"the local runner cannot evaluate condition {name!r}")

    return value(conditions[name])


def _no_getatt(name: str, attribute: str) -> str:
    raise TemplateError(f"a condition cannot use !GetAtt {name}.{attribute}")
