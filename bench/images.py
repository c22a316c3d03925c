"""Image renditions: how fast they are made (cold) and served again (warm), and the disk they
take.

    python bench/images.py [--images 8] [--size 4000x3000] [--concurrency 2]

A local HTTP server holds N photo-like JPEG originals (noise over gradients, so encoders work
as hard as on photographs); one story leads with each. Through the whole application in this
process (ASGI, no network; the response cache off, so warm requests measure the store):
first each original is fetched and inspected, then every allowed rendition of every image is
asked for once (cold: decoded, cropped, resized, encoded, stored), by format, then the same
again (warm: read from the store). Prints requests a second and p50/p95, and the store's
objects and bytes. Uses DATABASE_URL, else the embedded PostgreSQL in NEWSGRAPH_DATA_DIR
(.newsgraph/bench); the store goes to a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.images import DiskStore  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.discovery import bench_settings, in_process  # noqa: E402
from content.images import RATIOS, rendition_path  # noqa: E402


def photo_like(width: int, height: int, seed: int) -> bytes:
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    tint = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    blended = Image.blend(Image.blend(base, noise, 0.35), tint, 0.3)
    out = io.BytesIO()
    blended.filter(ImageFilter.SMOOTH).save(out, "JPEG", quality=88)
    return out.getvalue()


def serve_originals(files: dict[str, bytes]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


async def timed(client: httpx.AsyncClient, paths: list[str], concurrency: int) -> list[float]:
    """Milliseconds of each GET, `concurrency` at a time."""
    queue = list(paths)
    samples: list[float] = []

    async def worker() -> None:
        while queue:
            path = queue.pop()
            started = time.perf_counter()
            answer = await client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


def line(name: str, samples: list[float], seconds: float) -> str:
    cuts = statistics.quantiles(samples, n=20) if len(samples) > 1 else samples * 19
    rate = len(samples) / seconds
    return (
        f"{name:<34} {len(samples):5d} req  {rate:8.1f}/s  "
        f"p50 {statistics.median(samples):7.1f}  p95 {cuts[18]:7.1f} ms"
    )


async def run(settings: Settings, images: int, size: tuple[int, int], concurrency: int) -> None:
    files = {f"/bench-{n}.jpg": photo_like(*size, seed=n) for n in range(images)}
    server, base = serve_originals(files)
    urls = [base + path for path in files]
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url)
    try:
        for n, url in enumerate(urls):  # a published story leads with each (and stays)
            await conn.execute(
                "INSERT INTO stories (slug, title, summary, status, published_at, hero_image_url) "
                "VALUES ($1, 'Image bench', '', 'PUBLISHED', now() - interval '1 day', $2) "
                "ON CONFLICT (slug) DO NOTHING",
                f"image-bench-{os.getpid()}-{n}",
                url,
            )
    finally:
        await conn.close()
    store = settings.images.directory
    assert store is not None
    widths = settings.images.widths
    print(
        f"{images} originals of {size[0]}x{size[1]} "
        f"({sum(map(len, files.values())) // images // 1024} KiB each), widths {widths}, "
        f"{len(RATIOS)} ratios, concurrency {concurrency}"
    )
    async with in_process(settings) as client:
        originals = [rendition_path(url, "original", widths[0], "jpg") for url in urls]
        started = time.perf_counter()
        samples = await timed(client, originals, concurrency)
        print(line("first request (fetch + inspect + jpg)", samples, time.perf_counter() - started))
        for format in ("jpg", "webp", "avif"):
            paths = [
                rendition_path(url, ratio, width, format)
                for url in urls
                for ratio in RATIOS
                for width in widths
                if not (format == "jpg" and ratio == "original" and width == widths[0])
            ]
            random.Random(1).shuffle(paths)
            started = time.perf_counter()
            cold = await timed(client, paths, concurrency)
            print(line(f"cold {format}", cold, time.perf_counter() - started))
            started = time.perf_counter()
            warm = await timed(client, paths, concurrency)
            print(line(f"warm {format} (from the store)", warm, time.perf_counter() - started))
    server.shutdown()
    objects, used = DiskStore(store).usage()
    renditions = objects - images
    print(
        f"store: {objects} objects, {used / 1024 / 1024:.1f} MiB "
        f"({images} originals, {renditions} renditions; "
        f"{(used - sum(map(len, files.values()))) / max(renditions, 1) / 1024:.0f} KiB a rendition)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    folder = Path(tempfile.mkdtemp(prefix="newsgraph-images-"))
    try:
        settings = bench_settings()
        images = replace(settings.images, allow_private=True, directory=folder)
        settings = replace(settings, images=images, response_cache_bytes=0)
        asyncio.run(run(settings, args.images, (width, height), args.concurrency))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
