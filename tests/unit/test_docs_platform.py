"""docs/platform.md and docs/migrating.md: the secrets they show turn on the sources they say, and the workbook action
they show is one the Platform takes and the relay exports. (The listener is run by
tests/integration/webhook/test_webhook_platform_listener.py.)"""

from __future__ import annotations

import json

from flatfile.commons.types.action import Action
from support.docs import block

from flatfile_relay.secret import FlatfileSecret
from flatfile_relay.settings import DEFAULT_PLATFORM_OPERATIONS, Settings
from flatfile_relay.webhook_platform import PlatformEvent, parse_delivery
from flatfile_relay_devkit.emulator.platform import PlatformState


def test_the_documented_platform_secret_turns_the_platform_on_alone() -> None:
    secret = FlatfileSecret.parse(block("docs/platform.md", "## Turning it on", "json").text)
    assert secret.sources == ("platform",)
    assert secret.platform is not None
    assert secret.platform.environment_id == "us_env_a1b2c3d4"


def test_the_documented_migration_secret_runs_both_sources() -> None:
    secret = FlatfileSecret.parse(block("docs/migrating.md", "## 1. Run both", "json").text)
    assert secret.sources == ("legacy", "platform")
    assert secret.problems == ()


def test_the_documented_submit_action_is_a_platform_action_whose_jobs_the_relay_exports() -> None:
    """The official SDK's `Action` takes it, the emulated Platform makes a job of pressing it, and that job is one
    the relay exports by default (its forwarded `job:ready` is queued)."""
    actions = json.loads(block("docs/platform.md", "## The submit action a workbook needs", "json").text)["actions"]
    [action] = [Action.model_validate(item) for item in actions]
    assert action.operation in DEFAULT_PLATFORM_OPERATIONS == Settings().platform_operations

    state = PlatformState.with_samples(7)
    space = state.add_space("Docs")
    workbook = state.add_workbook(space["id"], "Docs", [{"name": "Rows", "slug": "rows", "fields": []}],
                                  actions=actions)
    job = state.submit(workbook["id"], action.operation)
    [ready] = [event for event in state.events("job:ready") if event["context"]["jobId"] == job["id"]]
    event = parse_delivery(json.dumps(ready))
    assert isinstance(event, PlatformEvent)
    assert event.job == "workbook:submitActionFg"
    assert event.ignored_because(Settings().platform_operations) is None
