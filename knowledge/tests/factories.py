from __future__ import annotations

from typing import Any

from knowledge import services
from knowledge.models import Article


def article(title: str, body: str, **fields: Any) -> Article:
    """A saved, chunked article."""
    return services.save_article(Article(title=title, body=body, **fields))
