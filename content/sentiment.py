"""Sentiment inferred from a story's own words, for stories an editor has not rated.

VADER (vaderSentiment) is a lexicon and rule-based classifier for short English text; its
compound score runs from -1 to 1, and its authors' conventional cut-offs of +-0.05 split it
into positive, neutral and negative.
"""

from __future__ import annotations

from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

THRESHOLD = 0.05


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # reads its lexicon once per process


def infer_sentiment(title: str, summary: str) -> str:
    """POSITIVE, NEUTRAL or NEGATIVE for the headline and summary together."""
    compound = _analyzer().polarity_scores(f"{title}. {summary}")["compound"]
    if compound >= THRESHOLD:
        return "POSITIVE"
    if compound <= -THRESHOLD:
        return "NEGATIVE"
    return "NEUTRAL"
