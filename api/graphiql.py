"""GraphiQL without a CDN: its pinned scripts and styles, fetched from the npm registry at
install time (`python -m api.graphiql`), are served from /static/graphiql/.

The page keeps its subresource-integrity hashes, so browsers check the local copies too.
Without the files the page falls back to loading them from unpkg.com.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import strawberry

CDN = "https://unpkg.com/"
ASSETS = Path(__file__).resolve().parent / "static" / "graphiql"
MOUNT = "/static/graphiql/"
_PAGE = Path(strawberry.__file__).parent / "static" / "graphiql.html"
_ASSET = re.compile(re.escape(CDN) + r"((@[^/\"]+/)?[^/@\"]+@[^/\"]+)/([^\"]+)")


def page() -> str:
    """Strawberry's GraphiQL page, pointing at local assets when they are all installed."""
    html = _PAGE.read_text()
    if all((ASSETS / package / path).is_file() for package, _, path in _ASSET.findall(html)):
        return html.replace(CDN, MOUNT)
    return html


def fetch() -> None:
    """Download every asset the page names, at its pinned version, with `npm pack`."""
    wanted = _ASSET.findall(_PAGE.read_text())
    with tempfile.TemporaryDirectory() as scratch:
        for package in sorted({package for package, _, _ in wanted}):
            packed = subprocess.run(
                ["npm", "pack", "--silent", package, "--pack-destination", scratch],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()[-1]
            with tarfile.open(Path(scratch) / packed) as archive:
                for name, _, path in wanted:
                    if name == package:
                        _extract(archive, f"package/{path}", ASSETS / package / path)


def _extract(archive: tarfile.TarFile, member: str, target: Path) -> None:
    source = archive.extractfile(member)
    assert source is not None, f"{member} is not a file"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read())


if __name__ == "__main__":
    try:
        fetch()
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"GraphiQL assets not fetched ({error}); the page will use unpkg.com")
    print(f"GraphiQL assets in {ASSETS}")
