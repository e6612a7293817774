"""Flows over articles shared by admin, the API and the import command: saving (and re-chunking) an article,
importing a file as one."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from knowledge import chunking, embedding, ingest
from knowledge.models import Article, Chunk

logger = logging.getLogger(__name__)


def rechunk(article: Article) -> int:
    """Replace the article's chunks with those of its current body, each with its vector for the semantic
    re-ranking (none without the embedding wheel); the number of chunks."""
    pieces = chunking.chunk(article.body, title=article.title)
    vectors = embedding.embed([embedding.chunk_text(article.title, p.heading, p.text) for p in pieces])
    article.chunks.all().delete()
    Chunk.objects.bulk_create(
        Chunk(
            article=article,
            position=n,
            heading=p.heading[:300],
            text=p.text,
            page=p.page,
            embedding=None if vectors is None else embedding.to_bytes(vectors[n]),
        )
        for n, p in enumerate(pieces)
    )
    return len(pieces)


@transaction.atomic
def save_article(article: Article) -> Article:
    """Save the article and re-chunk it, together."""
    article.save()
    rechunk(article)
    return article


def import_file(name: str, data: bytes, *, replace: bool = False, **fields: Any) -> Article:
    """An article from an uploaded or imported file, chunked, in one transaction. Raises ingest.IngestError
    (a message fit for the person who sent the file) for a file that cannot be read; nothing is saved then.
    With `replace`, the article imported before from a file of the same name is updated instead of a new one
    made (import_kb and the seed run again without duplicates). `fields` set the article's other attributes
    (category, tags, published, source_url, title)."""
    document = ingest.extract(name, data)
    existing = Article.objects.filter(source_name=name[:255]).exclude(source_kind="manual").first()
    article = existing if replace and existing is not None else Article()
    article.title = document.title
    article.body = document.body
    article.source_name = name[:255]
    article.source_kind = document.kind
    for field, value in fields.items():
        if value is not None and value != "":
            setattr(article, field, value)
    save_article(article)
    logger.info("knowledge article %s imported from a %s file", article.pk, document.kind)
    return article
