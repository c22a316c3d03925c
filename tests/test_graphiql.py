"""GraphiQL is served from local copies of its pinned assets when they are installed."""

from __future__ import annotations

import base64
import hashlib
import re

from api import graphiql

TAG = re.compile(r'(?:src|href)="([^"]+)"\s+integrity="(sha384-[^"]+)"')


async def test_graphiql_page_uses_verified_local_assets_or_the_cdn(client) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assets = TAG.findall(response.text)
    assert len(assets) >= 5
    if not any(graphiql.ASSETS.rglob("*.js")):  # installed without npm: the CDN page
        assert all(url.startswith(graphiql.CDN) for url, _ in assets)
        return
    for url, integrity in assets:
        assert url.startswith(graphiql.MOUNT), url
        served = await client.get(url)
        assert served.status_code == 200, url
        digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
        assert integrity == f"sha384-{digest}", f"{url} differs from the pinned file"
