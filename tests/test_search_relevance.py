"""Search quality on the relevance set (tests/relevance.py): the floors below are a little
under what the current ranking scores, so a change that makes search worse fails here."""

from __future__ import annotations

from api.transfer import generate
from tests.relevance import DEMO_CASES, SEED, STORIES, evaluate, generated_cases


async def test_relevance_set_scores_above_its_floor(client, pool, demo) -> None:
    await generate(pool, STORIES, seed=SEED, progress=False)
    cases = DEMO_CASES + generated_cases()
    assert len(cases) >= 30
    assert all(case.relevant for case in cases), "every query has a judged answer"

    report = await evaluate(client, cases)

    for scored in report.scored:
        print(f"{scored.precision:.2f} {scored.reciprocal_rank:.2f} {scored.case.query}")
    print(f"precision@5 {report.mean('precision'):.3f} MRR {report.mean('reciprocal_rank'):.3f}")
    assert report.mean("precision") >= 0.9
    assert report.mean("reciprocal_rank") >= 0.9
