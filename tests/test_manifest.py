import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = Path(__file__).resolve().parent / "fixtures" / "slack-manifest-schema"  # see SOURCE.md there
REQUIRED_SCOPES = {
    "chat:write",
    "chat:write.public",
    "commands",
    "files:write",
    "files:read",
    "usergroups:read",
    "im:write",
    "im:read",
    "mpim:read",
    "channels:read",
    "channels:join",
    "groups:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
}


def load_manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())
    return loaded


def test_manifest_validates_against_slacks_schema() -> None:
    schema = json.loads((SCHEMAS / "manifest.schema.1.0.0.json").read_text())
    jsonschema.Draft7Validator(schema).validate(load_manifest())


def test_manifest_has_what_the_bot_needs() -> None:
    manifest = load_manifest()
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == REQUIRED_SCOPES  # nothing unused either
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/bland"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_readme_documents_every_scope() -> None:
    readme = (ROOT / "README.md").read_text()
    for scope in load_manifest()["oauth_config"]["scopes"]["bot"]:
        assert f"`{scope}`" in readme, scope
