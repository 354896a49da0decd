"""Articles for provenance benchmarks: the shared research corpora when they sit beside
the checkout (BBC News, Reuters-21578), generated articles otherwise.

The corpora are read in place and never copied into the project.
"""

from __future__ import annotations

import json
from pathlib import Path

from services.samples.articles import ArticleGenerator

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def news_articles(limit: int | None = None) -> tuple[str, list[str]]:
    """(where they came from, article bodies)."""
    bodies: list[str] = []
    for path in (
        SHARED / "bbc-news" / "bbc_news.jsonl",
        SHARED / "reuters21578" / "reuters21578.jsonl",
    ):
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                text = json.loads(line).get("text") or ""
                if len(text.split()) >= 80:
                    bodies.append(text)
    if bodies:
        return "shared corpora (BBC News + Reuters-21578)", bodies[:limit]
    generator = ArticleGenerator(seed=2024)
    return "generated articles", [generator.text(400) for _ in range(limit or 20_000)]
