"""GET /metrics (api.metrics), read with Prometheus' own text-format parser: requests by route,
operation, engine and status, latency and database histograms, the webhook outbox, and
counts that add up across `serve --workers 2`."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, bearer
from tests.test_response_cache import _process, _up, until

HOME = "query Home { stories(first: 2) { edges { node { title } } } }"


async def scrape(http: httpx.AsyncClient) -> dict[str, list[Any]]:
    answer = await http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {f.name: f.samples for f in text_string_to_metric_families(answer.text)}


def count(found: dict[str, list[Any]], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in found.get(name, [])
        if s.name == f"{name}_total" and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_requests_are_counted_by_route_operation_and_status(
    client: httpx.AsyncClient, make_key: Any, demo: dict[str, Any], pool: Any
) -> None:
    key = await make_key("PUBLIC")
    before = await scrape(client)
    await client.post("/graphql", json={"query": HOME}, headers=bearer(key))
    slug = demo["stories"][0]["slug"]
    await client.get(f"/v1/stories/{slug}")
    await client.get("/no/such/path")
    long_name = "Q" + "x" * 70
    await client.post("/graphql", json={"query": f"query {long_name} {{ __typename }}"})
    after = await scrape(client)

    def grew(**labels: str) -> float:
        return count(after, "newsgraph_requests", **labels) - count(
            before, "newsgraph_requests", **labels
        )

    # (the suite's client also sends each query to a twin app on the other engine)
    assert grew(route="/graphql", operation="Home", status="200", role="PUBLIC") >= 1
    assert grew(route="/v1/stories/{slug}", status="200", method="GET") == 1
    assert grew(route="unmatched", status="404") == 1
    assert grew(route="/graphql", operation="(other)") >= 1
    assert not any(s.labels.get("operation") == long_name for s in after["newsgraph_requests"])
    buckets = [s for s in after["newsgraph_request_duration_seconds"] if s.name.endswith("_bucket")]
    assert buckets and {s.labels["le"] for s in buckets} >= {"0.01", "+Inf"}
    statements = after["newsgraph_request_statements"]
    assert any(s.name.endswith("_sum") and s.value > 0 for s in statements)
    [outbox] = after["newsgraph_webhook_outbox"]
    pending = await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE state = 'PENDING'")
    assert outbox.value == pending


async def test_counts_add_up_across_worker_processes(database_url: str) -> None:
    with _process(database_url, workers=2) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            await until(lambda: _up(http), bool, 60)
            for _ in range(20):  # new connections: the kernel spreads them over both workers
                async with httpx.AsyncClient(base_url=url) as one:
                    assert (await one.get("/v1/outlets")).status_code == 200
            for _ in range(3):  # whichever process answers the scrape counts them all
                found = await scrape(http)
                assert count(found, "newsgraph_requests", route="/v1/outlets") == 20


async def test_the_grafana_dashboard_reads_only_metrics_the_service_exports(
    client: httpx.AsyncClient,
) -> None:
    """ops/grafana-dashboard.json: a renamed or removed metric breaks its panels, and this."""
    dashboard = json.loads((ROOT / "ops" / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    await client.get("/healthz")
    answer = await client.get("/metrics")
    exported: set[str] = set()
    for family in text_string_to_metric_families(answer.text):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        exported |= {family.name, *(family.name + s for s in suffixes.get(family.type, []))}
    used = {name for e in expressions for name in re.findall(r"newsgraph_[a-z_]+", e)}
    assert len(used) >= 9 and used <= exported, used - exported
