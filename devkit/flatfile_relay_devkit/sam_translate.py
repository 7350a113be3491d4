"""template.yaml as CloudFormation deploys it: the AWS SAM transform, run offline, for checkov (`make scan`).

checkov reads the SAM source, where the Function URL, the functions' roles and inline policies, the event
source mappings and the schedules do not exist yet: SAM makes them at deploy time. This translates the source
with SAM's own translator (`samtranslator`, which comes with the SAM CLI: run it with `.venv-sam`'s Python), with
no AWS call: local code paths stand in as S3 URIs (as `sam validate` does), the pseudo parameters are fixed
placeholders, and no managed policy name needs looking up.

The checkov skips of a SAM resource (`Metadata: checkov: skip`, each with its reason) are copied to every
resource SAM makes from it (the function's role, URL, permissions, event source mappings, schedules: their
logical ids start with the SAM resource's), so one reason, stated once in template.yaml, covers them all.

Usage (what `make scan` runs):

    .venv-sam/bin/python devkit/flatfile_relay_devkit/sam_translate.py template.yaml .aws-sam/scan/template.json

Example:
    >>> placeholder_uris({"Resources": {"F": {"Type": "AWS::Serverless::Function",
    ...                                       "Properties": {"CodeUri": "functions/poller/"}}}})
    {'Resources': {'F': {'Type': 'AWS::Serverless::Function', 'Properties': {'CodeUri': 's3://local/functions/poller/'}}}}
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["REGION", "placeholder_uris", "skips_to_generated", "translate"]

REGION = "us-east-1"
"""The region the placeholders name (the translation depends on none of its own)."""
_CODE = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


def placeholder_uris(template: dict[str, Any]) -> dict[str, Any]:
    """The template with every local code path (functions, layers, Globals) as an ``s3://local/...`` URI."""
    found = copy.deepcopy(template)
    globals_ = found.get("Globals", {}).get("Function", {})
    if isinstance(globals_.get("CodeUri"), str):
        globals_["CodeUri"] = f"s3://local/{globals_['CodeUri']}"
    for resource in found.get("Resources", {}).values():
        key = _CODE.get(resource.get("Type", ""))
        value = resource.get("Properties", {}).get(key) if key else None
        if isinstance(value, str) and not value.startswith("s3://"):
            resource["Properties"][key] = f"s3://local/{value}"
    return found


def skips_to_generated(source: dict[str, Any], translated: dict[str, Any]) -> dict[str, Any]:
    """`translated` with each SAM resource's checkov skips on every resource made from it (see the module docs)."""
    resources = translated.get("Resources", {})
    for name, resource in source.get("Resources", {}).items():
        skips = resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
        if not skips or not str(resource.get("Type", "")).startswith("AWS::Serverless::"):
            continue
        for made_name, made in resources.items():
            if made_name.startswith(name):
                listed = made.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
                listed.extend(skip for skip in skips if skip not in listed)
    return translated


def translate(template_text: str) -> dict[str, Any]:
    """The CloudFormation template SAM makes of `template_text` (YAML or JSON), offline."""
    import boto3  # deferred: SAM CLI's venv has them, the project's does not need them here
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse

    source = yaml_parse(template_text)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    translated = translator.translate(placeholder_uris(source), parameter_values={"AWS::AccountId": "123456789012"},
                                      get_managed_policy_map=dict, passthrough_metadata=True)
    return skips_to_generated(source, translated)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: sam_translate.py TEMPLATE OUTPUT", file=sys.stderr)
        return 2
    translated = translate(Path(argv[1]).read_text(encoding="utf-8"))
    output = Path(argv[2])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(translated, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
