"""The real Segment Python SDK (segment-analytics-python) against a real Seam server.

A server-side SDK uses the secret key as its "write key" (SPEC §2) and posts /v1/batch with the key
as the Basic username and in the body, optionally gzip-compressed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from segment import analytics
from segment.analytics.client import Client
from segment.analytics.request import APIError

from e2e.support import Workspace


def uid(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(8)}"


@pytest.fixture
def sdk_errors() -> list[Any]:
    return []


@pytest.fixture(params=[False, True], ids=["plain", "gzip"])
def sdk(
    request: pytest.FixtureRequest, workspace: Workspace, sdk_errors: list[Any]
) -> Iterator[Any]:
    """The module-level `analytics` client, configured as the SDK's README says."""
    saved = (
        analytics.write_key,
        analytics.host,
        analytics.gzip,
        analytics.sync_mode,
        analytics.on_error,
    )
    analytics.default_client = None
    analytics.write_key = workspace.secret_key
    analytics.host = workspace.server.base_url
    analytics.gzip = request.param
    analytics.sync_mode = True
    analytics.on_error = lambda error, batch: sdk_errors.append((error, batch))
    try:
        yield analytics
    finally:
        analytics.default_client = None
        (
            analytics.write_key,
            analytics.host,
            analytics.gzip,
            analytics.sync_mode,
            analytics.on_error,
        ) = saved


def test_sdk_calls_stitch_anonymous_history_to_the_user(sdk, workspace: Workspace, sdk_errors):
    anon, user = uid("anon-"), uid("user-")
    sdk.page(
        anonymous_id=anon, category="Docs", name="Getting started", properties={"path": "/docs"}
    )
    sdk.track(anonymous_id=anon, event="Viewed Pricing", properties={"plan": "pro"})
    sdk.identify(
        user_id=user, anonymous_id=anon, traits={"email": f"{user}@example.com", "plan": "pro"}
    )
    sdk.track(user_id=user, event="Subscribed", properties={"amount": 49})
    sdk.page(anonymous_id=anon, name="Dashboard")
    alias_anon = uid("anon-")
    sdk.page(anonymous_id=alias_anon, name="Mobile landing")
    sdk.alias(previous_id=alias_anon, user_id=user)
    sdk.group(user_id=user, group_id="sdk-group", traits={"name": "SDK Inc"})
    assert sdk_errors == []

    (contact,) = workspace.contacts(external_id=user)
    contact = workspace.contact(contact["id"])
    assert contact["identifiers"]["email"] == f"{user}@example.com"
    assert set(contact["anonymous_ids"]) == {anon, alias_anon}

    timeline = workspace.events(contact_id=contact["id"], order="asc")
    kinds = [(e["type"], e["event"] or e["name"]) for e in timeline]
    for expected in [
        ("page", "Getting started"),
        ("track", "Viewed Pricing"),
        ("identify", None),
        ("track", "Subscribed"),
        ("page", "Dashboard"),
        ("page", "Mobile landing"),
        ("alias", None),
        ("group", None),
    ]:
        assert expected in kinds, (expected, kinds)
    by_name = {e["event"] or e["name"]: e for e in timeline}
    assert by_name["Getting started"]["attribution"]["via"] == "identify"
    assert by_name["Subscribed"]["attribution"]["via"] == "user_id"
    assert by_name["Dashboard"]["attribution"]["via"] == "visitor"
    assert by_name["Getting started"]["context"]["library"]["name"] == "analytics-python"
    assert by_name["Getting started"]["properties"].get("category") == "Docs"


def test_sdk_write_key_sends_page_and_track(workspace: Workspace):
    client = Client(workspace.write_key, host=workspace.server.base_url, sync_mode=True, gzip=True)
    anon = uid("anon-")
    client.page(anonymous_id=anon, name="Home")
    client.track(anonymous_id=anon, event="Clicked")
    events = workspace.events(anonymous_id=anon)
    assert sorted(e["type"] for e in events) == ["page", "track"]


def test_sdk_message_ids_make_retries_safe(workspace: Workspace):
    client = Client(workspace.secret_key, host=workspace.server.base_url, sync_mode=True)
    anon = uid("anon-")
    for _ in range(3):
        client.track(anonymous_id=anon, event="Retried", message_id="fixed-id")
    assert len(workspace.events(anonymous_id=anon)) == 1


def test_sdk_batches_through_the_background_consumer(workspace: Workspace):
    errors: list[Any] = []
    client = Client(
        workspace.secret_key,
        host=workspace.server.base_url,
        on_error=lambda error, batch: errors.append(error),
        upload_interval=0.05,
    )
    anon = uid("anon-")
    for i in range(50):
        client.track(anonymous_id=anon, event=f"bulk {i}")
    client.flush()
    client.join()
    assert errors == []
    assert len(workspace.events(anonymous_id=anon)) == 50


def test_sdk_with_a_bad_key_gets_an_api_error(workspace: Workspace):
    client = Client("wk_not_a_key", host=workspace.server.base_url, sync_mode=True)
    with pytest.raises(APIError) as raised:
        client.track(anonymous_id=uid("anon-"), event="x")
    assert raised.value.status == 401
