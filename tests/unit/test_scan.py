"""`make scan`: checkov on template.yaml and on the CloudFormation SAM makes of it (translated offline), every
skip with its reason, and no skip without a finding under it (a skip for a check that passes states a false
reason)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from flatfile_relay_devkit.local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
TRANSLATE = ROOT / "devkit" / "flatfile_relay_devkit" / "sam_translate.py"

Finding = tuple[str, str]  # (logical id, check id)


def needs(tool: Path) -> None:
    if not tool.exists():
        pytest.skip(f"{tool.relative_to(ROOT)} comes with `make scan` (or `make validate`): run it once")


def translated(tmp_path: Path) -> dict[str, Any]:
    needs(SAM_PYTHON)
    output = tmp_path / "translated.json"
    subprocess.run([str(SAM_PYTHON), str(TRANSLATE), str(ROOT / "template.yaml"), str(output)], check=True,
                   timeout=120, capture_output=True, env={"PATH": "/usr/bin:/bin"})
    loaded: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return loaded


def skips(template: dict[str, Any]) -> dict[Finding, str]:
    return {(name, skip["id"]): skip.get("comment", "")
            for name, resource in template["Resources"].items()
            for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])}


def findings(template: dict[str, Any], tmp_path: Path, name: str) -> set[Finding]:
    """What checkov finds in `template` with every skip taken out."""
    needs(CHECKOV)
    bare = json.loads(json.dumps(template))
    for resource in bare["Resources"].values():
        (resource.get("Metadata") or {}).pop("checkov", None)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(bare), encoding="utf-8")
    answer = subprocess.run([str(CHECKOV), "--quiet", "--skip-download", "--framework", "cloudformation",
                             "-o", "json", "-f", str(path)], capture_output=True, text=True, check=False,
                            timeout=300, cwd=tmp_path)
    assert answer.returncode in (0, 1), answer.stderr
    report = json.loads(answer.stdout) if answer.stdout.strip() else {"results": {"failed_checks": []}}
    failed = report["results"]["failed_checks"] if isinstance(report, dict) else []
    return {(check["resource"].split(".", 1)[1], check["check_id"]) for check in failed}


def test_the_translation_holds_what_sam_makes_and_carries_the_skips(tmp_path: Path) -> None:
    made = translated(tmp_path)
    resources = made["Resources"]
    assert not [name for name, r in resources.items() if r["Type"].startswith("AWS::Serverless::")]
    url = resources["WebhookFunctionUrl"]
    assert (url["Type"], url["Properties"]["AuthType"]) == ("AWS::Lambda::Url", "NONE")
    assert resources["WebhookFunctionRole"]["Type"] == "AWS::IAM::Role"  # the inline policies, as deployed
    reason = skips(made)[("WebhookFunctionUrl", "CKV_AWS_258")]
    assert "cannot sign" in reason


@pytest.mark.slow
def test_every_skip_covers_a_finding_and_every_finding_is_skipped(tmp_path: Path) -> None:
    source = load_yaml(ROOT / "template.yaml")
    assert isinstance(source, dict)
    found = findings(source, tmp_path, "source")
    assert set(skips(source)) - {("WebhookFunction", "CKV_AWS_258")} == found  # 258 is for the URL SAM makes
    made = translated(tmp_path)
    found_made = findings(made, tmp_path, "translated")
    assert found_made - set(skips(made)) == set(), "unexplained findings in the translated template"
    assert ("WebhookFunctionUrl", "CKV_AWS_258") in found_made
