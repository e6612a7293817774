"""Grounding a reply in the knowledge base: the one place that knows what a "source" is.

A caller (the classification chain, a specialist) does three things with it:

1. `retrieve(subject, body)`: the top `KB_TOP_K` chunks for a ticket, numbered 1..k as the prompt shows
   them (number = retrieval rank), each a `Source` (article id and title, chunk id, heading, page, score, text);
   `retrieve_many` does it for a chunk of tickets in two queries.
2. `prompt_block(sources)`: those sources as a block for a prompt, a JSON list between <sources> and
   </sources> (data, like the ticket: never instructions), each with its `number` to cite.
3. `validate_citations(cited, sources)`: the numbers a model cited, checked against what was retrieved; the
   cited `Source`s in the order cited, or `CitationError` for a number that was not given (the LLM path
   turns that into `invalid_output`, like any answer off the schema).

Without a model, `fallback_reply(sources, category)` writes the grounded part of a reply from the best
passage and names the best matching articles (of the ticket's category, or of none);
`fallback_citations(sources, category)` are the sources it uses, `quote(source)` the passage quoted.

Storing citations is the caller's: the classification chain keeps them as `classification.models.Citation`
rows (`classification.services.save_citations`), and what was retrieved in its explanation's `kb_sources`.

Only `knowledge` is imported here (no classification, no tickets): anything above may use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from knowledge import retrieval

# The ticket text the query is built from: the subject and the body's beginning (a query of a whole long
# email would OR hundreds of terms together and match everything a little).
QUERY_CHARS = 2000
# What a prompt shows of each source's text (a chunk is at most chunking.MAX_CHARS, 1,200, already).
PROMPT_CHARS_PER_SOURCE = 1200
# The passage a reply without a model quotes: the best chunk's opening sentences up to this length.
QUOTE_CHARS = 300
# How many articles a reply without a model names (the quoted one first).
FALLBACK_ARTICLES = 3

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class CitationError(ValueError):
    """A model cited a source it was not given (or a number that is not a source number at all)."""


@dataclass(frozen=True)
class Source:
    """One retrieved chunk as a prompt numbers it. `number` is 1-based and equals its retrieval rank."""

    number: int
    article_id: int
    article_title: str
    chunk_id: int
    heading: str
    page: int | None
    score: float
    text: str
    # The article's category slug ("" for none): a reply written without a model only uses articles of the
    # ticket's category or of none.
    category: str = ""
    # The cosine of the ticket's and the chunk's vectors (None without the vectors): the content-gap score.
    similarity: float | None = None

    @property
    def rank(self) -> int:
        return self.number

    def label(self) -> str:
        """How a reply or a page names it: the article's title, its section and its PDF page if any."""
        parts = [self.article_title]
        if self.heading and self.heading != self.article_title:
            parts.append(self.heading)
        label = " › ".join(parts)
        return f"{label} (page {self.page})" if self.page else label


def query_text(subject: str, body: str) -> str:
    """The text a ticket's sources are retrieved with."""
    return f"{subject}\n{body}"[:QUERY_CHARS]


def _sources(hits: list[retrieval.Hit]) -> list[Source]:
    return [
        Source(
            number=n,
            article_id=hit.chunk.article_id,
            article_title=hit.chunk.article.title,
            chunk_id=hit.chunk.pk,
            heading=hit.chunk.heading,
            page=hit.chunk.page,
            score=round(hit.score, 6),
            text=hit.chunk.text,
            category=hit.chunk.article.category,
            similarity=hit.similarity,
        )
        for n, hit in enumerate(hits, start=1)
    ]


def retrieve_many(
    tickets: Sequence[tuple[str, str]], *, k: int | None = None, using: str = "default"
) -> list[list[Source]]:
    """`retrieve` for each (subject, body), in the same order: two queries for a whole chunk of tickets (up to
    retrieval.BATCH), none when k is 0 (grounding switched off)."""
    k = settings.KB_TOP_K if k is None else k
    if k <= 0 or not tickets:
        return [[] for _ in tickets]
    hits = retrieval.search_many([query_text(subject, body) for subject, body in tickets], k, using=using)
    return [_sources(found) for found in hits]


def retrieve(subject: str, body: str, *, k: int | None = None, using: str = "default") -> list[Source]:
    """The `k` (default settings.KB_TOP_K) chunks of published articles that best match the ticket, best
    first, numbered 1..k. Two queries; none when k is 0 (grounding switched off)."""
    return retrieve_many([(subject, body)], k=k, using=using)[0]


def prompt_block(sources: Sequence[Source]) -> str:
    """The sources for a prompt: a JSON list between <sources> and </sources>, each entry with the `number`
    a citation names, the article's title, the section, the page (PDFs) and the text. Empty when none."""
    if not sources:
        return ""
    entries = [
        {
            "number": source.number,
            "article": source.article_title,
            "section": source.heading,
            "page": source.page,
            "text": source.text[:PROMPT_CHARS_PER_SOURCE],
        }
        for source in sources
    ]
    return f"<sources>{json.dumps(entries, ensure_ascii=False)}</sources>"


def validate_citations(cited: Sequence[int], sources: Sequence[Source]) -> list[Source]:
    """The sources a model cited, each once, in the order first cited. Raises CitationError for any number
    that is not one of `sources` (so no stored citation can point at a chunk that was not retrieved)."""
    by_number = {source.number: source for source in sources}
    chosen: dict[int, Source] = {}
    for number in cited:
        if isinstance(number, bool) or not isinstance(number, int) or number not in by_number:
            given = f"1..{len(sources)}" if sources else "none"
            raise CitationError(f"cites source {number!r}, not one it was given (given: {given})")
        chosen.setdefault(number, by_number[number])
    return list(chosen.values())


def _articles(sources: Sequence[Source], category: str) -> list[Source]:
    """The best source of each article of `category` (or of none), best article first, at most
    FALLBACK_ARTICLES. Without a model to judge them, words shared with an article of another topic ("how
    long", "email") are not enough to quote it."""
    best: dict[int, Source] = {}
    for source in sources:
        if not source.category or not category or source.category == category:
            best.setdefault(source.article_id, source)
    return list(best.values())[:FALLBACK_ARTICLES]


def quote(source: Source, limit: int = QUOTE_CHARS) -> str:
    """The passage's opening sentences, up to `limit` characters (cut at a word, with an ellipsis, when even
    the first sentence is longer)."""
    text = " ".join(source.text.split())
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        if len(kept) + len(sentence) + 1 > limit:
            break
        kept = f"{kept} {sentence}".strip()
    return kept or text[:limit].rsplit(" ", 1)[0] + "…"


def fallback_citations(sources: Sequence[Source], category: str = "") -> list[Source]:
    """What a reply without a model cites: the best chunk of each article it names (of the ticket's
    `category`, or of none), best first."""
    return _articles(sources, category)


def fallback_reply(sources: Sequence[Source], category: str = "") -> str:
    """The grounded paragraph of a reply written without a model, saying it comes from the articles: the best
    passage quoted with its article, then the other best matching articles by name; only articles of the
    ticket's `category` or of none ("": any). Empty when no source qualifies."""
    cited = fallback_citations(sources, category)
    if not cited:
        return ""
    best, others = cited[0], cited[1:]
    text = f'From our help centre ("{best.label()}"): "{quote(best)}"'
    if others:
        text += " See also: " + "; ".join(f'"{source.label()}"' for source in others) + "."
    return text
