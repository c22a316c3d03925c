"""What operators see (api.observability, /readyz): request ids, trace context, the log line
per request, JSON logs, and readiness."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tomllib
from dataclasses import replace
from typing import Any

import pytest

from api import migrations, tracing
from api.logs import JsonLines
from api.settings import Settings
from tests.conftest import ROOT, bearer, serving

QUERY = "query Home { stories(first: 3) { edges { node { title } } } }"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_a_sane_request_id_is_echoed_and_any_other_replaced(client) -> None:
    kept = await client.get("/healthz", headers={"X-Request-ID": "frontend-42.a:b"})
    assert kept.headers["x-request-id"] == "frontend-42.a:b"
    for sent in ({}, {"X-Request-ID": "has spaces"}, {"X-Request-ID": "x" * 129}):
        made = (await client.get("/healthz", headers=sent)).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made), made
    other = (await client.get("/healthz")).headers["x-request-id"]
    assert other != made


async def test_a_trace_is_continued_or_started(client) -> None:
    sent = f"00-{TRACE}-00f067aa0ba902b7-01"
    continued = (await client.get("/healthz", headers={"traceparent": sent})).headers
    version, trace, span, flags = continued["traceparent"].split("-")
    assert (version, trace, flags) == ("00", TRACE, "01") and span != "00f067aa0ba902b7"
    for bad in ("nonsense", f"00-{'0' * 32}-00f067aa0ba902b7-01", "01-" + sent[3:]):
        started = (await client.get("/healthz", headers={"traceparent": bad})).headers
        assert started["traceparent"].split("-")[1] not in (TRACE, "0" * 32)


async def test_with_tracing_each_request_is_a_span_of_the_callers_trace(
    client, make_key: Any
) -> None:
    """NEWSGRAPH_TRACING=otlp's spans (api.tracing), sent here to the SDK's in-memory
    exporter instead of an OTLP collector."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    exported = InMemorySpanExporter()
    tracing.use(SimpleSpanProcessor(exported))
    key = await make_key("PARTNER")
    try:
        caller = "00f067aa0ba902b7"
        answer = await client.post(
            "/graphql",
            json={"query": QUERY},
            headers=bearer(key) | {"traceparent": f"00-{TRACE}-{caller}-01"},
        )
        started = await client.get("/healthz")
    finally:
        tracing.use(None)
    finished = exported.get_finished_spans()
    spans = {span.name: span for span in finished}  # (the twin engine's span has the same name)
    span = spans["POST /graphql Home"]
    assert span.kind is SpanKind.SERVER and span.status.status_code is not StatusCode.ERROR
    assert format(span.context.trace_id, "032x") == TRACE
    assert span.parent is not None and format(span.parent.span_id, "016x") == caller
    _, trace, span_id, _ = answer.headers["traceparent"].split("-")
    assert (trace, span_id) == (TRACE, format(span.context.span_id, "016x"))
    attributes = dict(span.attributes or {})
    assert attributes["http.route"] == "/graphql"
    assert attributes["http.response.status_code"] == 200
    assert attributes["graphql.operation.name"] == "Home"
    assert attributes["newsgraph.role"] == "PARTNER" and attributes["db.statements"] >= 1
    assert key not in str(attributes), "never the key"
    fresh = spans["GET /healthz"]
    assert fresh.parent is None, "no caller trace: a root span"
    assert started.headers["traceparent"].split("-")[1] == format(fresh.context.trace_id, "032x")
    assert {span.resource.attributes["service.name"] for span in spans.values()} == {"newsgraph"}
    later = await client.get("/healthz")
    assert len(exported.get_finished_spans()) == len(finished), "off again: no span"
    assert later.status_code == 200


async def test_each_request_is_one_line_with_what_it_did(
    client, make_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    key = await make_key("PARTNER")
    with caplog.at_level(logging.INFO, logger="newsgraph.access"):
        answer = await client.post(
            "/graphql",
            json={"query": QUERY},
            headers=bearer(key) | {"X-Request-ID": "req-1"},
        )
    engine = answer.headers["server-timing"].split('"')[1]  # engine;desc="compiled", ...
    # (the suite's client sends each query to a twin app on the other engine too)
    [line] = [
        r
        for r in caplog.records
        if r.name == "newsgraph.access"
        and r.fields["request_id"] == "req-1"  # type: ignore[attr-defined]
        and r.fields["engine"] == engine  # type: ignore[attr-defined]
    ]
    fields = line.fields  # type: ignore[attr-defined]
    assert fields["operation"] == "Home"
    assert fields["status"] == 200 and fields["role"] == "PARTNER"
    assert isinstance(fields["key_id"], int) and fields["statements"] >= 1
    assert fields["duration_ms"] >= fields["db_ms"] >= 0
    assert key not in json.dumps(fields) and key not in line.getMessage()
    shown = json.loads(JsonLines().format(line))
    assert shown["request_id"] == "req-1" and shown["logger"] == "newsgraph.access"
    assert shown["message"].startswith("POST /graphql 200")


async def test_readiness_needs_the_database_at_this_codes_revision(
    settings: Settings, make_database: Any
) -> None:
    url = await asyncio.to_thread(make_database)
    await asyncio.to_thread(migrations.upgrade, url)
    async with serving(replace(settings, database_url=url)) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "schemaRevision": migrations.head_revision()}
        await asyncio.to_thread(
            migrations.downgrade, url, "-1"
        )  # as if an older release's rollback ran under us
        behind = await http.get("/readyz")
        assert behind.status_code == 503 and behind.headers["retry-after"] == "5"
        assert "this code needs " + migrations.head_revision() in behind.json()["reason"]
        await asyncio.to_thread(migrations.upgrade, url)
        assert (await http.get("/readyz")).status_code == 200


async def test_browsers_may_read_the_request_id(settings: Settings) -> None:
    async with serving(replace(settings, cors_origins=("https://app.example",))) as http:
        answer = await http.get("/healthz", headers={"Origin": "https://app.example"})
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed and "traceparent" in exposed


async def test_health_names_the_version_the_changelog_and_pyproject_name(client) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    health = (await client.get("/healthz")).json()
    assert health["version"] == project["version"]
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    for released in re.findall(r"^## \[(\d+\.\d+\.\d+)\](.*)$", changelog, re.MULTILINE):
        assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", released[1]), released  # dated
