"""Preview tokens (one hidden item, until expiry) and key administration through GraphQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from content.access import PreviewGrant, sign_preview
from db.pool import Pool
from db.secrets import service_secret
from schema.relay import to_global_id
from tests.conftest import bearer, data, error_codes, graphql
from tests.factories import create_deep_dive, create_story, slug_of

MINT = """mutation($id: ID!, $minutes: Int! = 60) {
  createPreviewToken(id: $id, expiresInMinutes: $minutes) { token expiresAt } }"""
READ = """query($slug: String!, $id: ID!, $token: String) {
  story(slug: $slug, previewToken: $token) { slug status deepDive { slug } }
  previewNode(id: $id, previewToken: $token) { id }
}"""
CREATE_KEY = """mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { key apiKey { id name role prefix ratePerMinute } } }"""
REVOKE_KEY = "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }"


async def draft_with_token(client: Any, pool: Pool, make_key: Any) -> tuple[int, str]:
    story = await create_story(pool, status="DRAFT", published_at=None)
    await create_deep_dive(pool, story_id=story, status="DRAFT", published_at=None)
    minted = await data(client, MINT, key=await make_key("EDITOR"), id=to_global_id("Story", story))
    return story, minted["createPreviewToken"]["token"]


async def test_a_preview_token_opens_one_draft_for_anyone(
    client: Any, pool: Pool, make_key: Any
) -> None:
    story, token = await draft_with_token(client, pool, make_key)
    slug = await slug_of(pool, "stories", story)
    found = await data(client, READ, slug=slug, id=to_global_id("Story", story), token=token)
    assert found["story"] == {"slug": slug, "status": "DRAFT", "deepDive": None}
    assert found["previewNode"] == {"id": to_global_id("Story", story)}
    without = await data(client, READ, slug=slug, id=to_global_id("Story", story))
    assert without == {"story": None, "previewNode": None}


async def test_a_preview_token_opens_nothing_else(client: Any, pool: Pool, make_key: Any) -> None:
    _, token = await draft_with_token(client, pool, make_key)
    other = await create_story(pool, status="DRAFT", published_at=None)
    found = await data(
        client,
        READ,
        slug=await slug_of(pool, "stories", other),
        id=to_global_id("Story", other),
        token=token,
    )
    assert found == {"story": None, "previewNode": None}


async def test_expired_and_forged_tokens_are_refused(
    client: Any, pool: Pool, make_key: Any
) -> None:
    story, token = await draft_with_token(client, pool, make_key)
    secret = await service_secret(pool, "preview-tokens")
    past = datetime.now(UTC) - timedelta(seconds=1)
    expired = sign_preview(secret, PreviewGrant("Story", story, past))
    forged = sign_preview(b"x" * 32, PreviewGrant("Story", story, past + timedelta(days=1)))
    for bad in (expired, forged, token[:-2], "garbage"):
        body = await graphql(
            client,
            READ,
            slug=await slug_of(pool, "stories", story),
            id=to_global_id("Story", story),
            token=bad,
        )
        assert error_codes(body) == ["UNAUTHENTICATED", "UNAUTHENTICATED"]


async def test_only_editors_mint_preview_tokens(client: Any, pool: Pool, make_key: Any) -> None:
    story = await create_story(pool, status="DRAFT", published_at=None)
    story_id = to_global_id("Story", story)
    reader = await make_key("PARTNER")
    assert error_codes(await graphql(client, MINT, key=reader, id=story_id)) == ["FORBIDDEN"]
    editor = await make_key("EDITOR")
    for bad in (
        {"id": to_global_id("Story", 9999)},
        {"id": to_global_id("Topic", 1)},
        {"id": story_id, "minutes": 0},
        {"id": story_id, "minutes": 7 * 24 * 60 + 1},
    ):
        assert error_codes(await graphql(client, MINT, key=editor, **bad)) == ["BAD_USER_INPUT"]


async def test_admins_create_and_revoke_keys(client: Any, make_key: Any) -> None:
    admin = await make_key("ADMIN")
    made = (
        await data(
            client,
            CREATE_KEY,
            key=admin,
            input={"name": "partner-feed", "role": "PARTNER", "ratePerMinute": 30},
        )
    )["createApiKey"]
    key = made["key"]
    assert made["apiKey"]["role"] == "PARTNER" and key.startswith(f"ng_{made['apiKey']['prefix']}_")
    ping = {"query": "{ stories(first: 1) { totalCount } }"}
    response = await client.post("/graphql", json=ping, headers=bearer(key))
    assert response.status_code == 200 and response.headers["X-RateLimit-Limit"] == "30"

    listed = (await data(client, "{ apiKeys { name prefix } }", key=admin))["apiKeys"]
    assert {"name": "partner-feed", "prefix": made["apiKey"]["prefix"]} in listed
    assert key not in str(listed)

    revoked = await data(client, REVOKE_KEY, key=admin, id=made["apiKey"]["id"])
    assert revoked["revokeApiKey"]["revokedAt"]
    assert (await client.post("/graphql", json=ping, headers=bearer(key))).status_code == 401


async def test_only_admins_manage_keys(client: Any, make_key: Any) -> None:
    editor = await make_key("EDITOR")
    body = await graphql(client, CREATE_KEY, key=editor, input={"name": "x", "role": "ADMIN"})
    assert error_codes(body) == ["FORBIDDEN"]
    assert error_codes(await graphql(client, "{ apiKeys { name } }", key=editor)) == ["FORBIDDEN"]
    admin = await make_key("ADMIN")
    for bad in (
        {"name": " ", "role": "PUBLIC"},
        {"name": "x", "role": "PUBLIC", "ratePerMinute": 0},
        {"name": "x", "role": "PUBLIC", "expiresAt": "2020-01-01T00:00:00Z"},
    ):
        assert error_codes(await graphql(client, CREATE_KEY, key=admin, input=bad)) == [
            "BAD_USER_INPUT"
        ]
