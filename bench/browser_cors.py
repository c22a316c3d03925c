"""CORS in a real browser: headless Chromium loads a page from one origin that calls the API
on another (GraphQL POST, a persisted-query GET, REST, a feed) and reads the headers a
client needs; a page from an origin the setting does not list must be refused by the browser.
Prints what the pages saw.

    python bench/browser_cors.py

Needs Chromium (Debian: `apt-get install chromium`). Uses the embedded PostgreSQL in
NEWSGRAPH_DATA_DIR (default .newsgraph/cache-bench, with the demo content) unless
DATABASE_URL is set.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
API, ALLOWED, OTHER = 8360, 8361, 8362
QUERY = "query HomeFeed { stories(first: 3) { edges { node { title } } } }"
SHA = hashlib.sha256(QUERY.encode()).hexdigest()

PAGE = """<!doctype html><meta charset="utf-8"><title>cors</title><pre id="out">running</pre>
<script>
const api = "http://127.0.0.1:%(api)d";
const seen = [];
async function call(name, url, init) {
  try {
    const r = await fetch(url, init);
    const body = await r.text();
    seen.push({name, status: r.status, rateLimitRemaining: r.headers.get("X-RateLimit-Remaining"),
               etag: r.headers.get("ETag"), serverTiming: r.headers.get("Server-Timing"),
               bytes: body.length});
  } catch (e) { seen.push({name, error: String(e)}); }
}
(async () => {
  const query = %(query)s;
  const ext = JSON.stringify({persistedQuery: {version: 1, sha256Hash: "%(sha)s"}});
  await call("graphql POST", api + "/graphql", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({query})});
  await call("persisted GET (register)", api + "/graphql?query=" + encodeURIComponent(query)
    + "&extensions=" + encodeURIComponent(ext));
  await call("persisted GET (hash only)", api + "/graphql?extensions=" + encodeURIComponent(ext));
  await call("REST", api + "/v1/stories?first=2");
  await call("JSON Feed", api + "/feeds/stories.json");
  document.getElementById("out").textContent = "RESULT " + JSON.stringify(seen);
})();
</script>"""


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Chromium: apt-get install chromium")
    env = {
        **os.environ,
        "NEWSGRAPH_DATA_DIR": os.environ.get("NEWSGRAPH_DATA_DIR")
        or str(ROOT / ".newsgraph" / "cache-bench"),
        "NEWSGRAPH_PORT": str(API),
        "NEWSGRAPH_CORS_ORIGINS": f"http://127.0.0.1:{ALLOWED}",
        "NEWSGRAPH_WEBHOOK_WORKER": "off",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--workers", "1", "--no-access-log"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pages = [_serve_page(port) for port in (ALLOWED, OTHER)]
    try:
        _wait(f"http://127.0.0.1:{API}/healthz")
        for port, expect in ((ALLOWED, "allowed"), (OTHER, "not listed")):
            print(f"page on http://127.0.0.1:{port} ({expect} in NEWSGRAPH_CORS_ORIGINS):")
            for result in _run_page(chromium, port):
                print("  ", json.dumps(result))
    finally:
        server.terminate()
        server.wait(timeout=30)
        for page in pages:
            page.shutdown()


def _serve_page(port: int) -> http.server.ThreadingHTTPServer:
    body = PAGE % {"api": API, "query": json.dumps(QUERY), "sha": SHA}

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    page = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    return page


def _run_page(chromium: str, port: int) -> list[dict[str, object]]:
    dom = subprocess.run(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--virtual-time-budget=15000", "--dump-dom", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    found = re.search(r"RESULT (\[.*\])", dom)
    if found is None:
        raise SystemExit(f"the page did not finish:\n{dom[-2000:]}")
    results: list[dict[str, object]] = json.loads(found[1].replace("&quot;", '"'))
    return results


def _wait(url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not start")


if __name__ == "__main__":
    main()
