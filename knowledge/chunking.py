"""Splitting an article's body into chunks: one section per heading, then by length at paragraph, sentence
and word boundaries. Pure: no ORM, no I/O.

A body is Markdown. A form feed (\\f) starts a new page: PDFs are imported that way, and their chunks keep the
1-based page they start on. Bodies without form feeds have no page numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

MAX_CHARS = 1200
PAGE_BREAK = "\f"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_md = MarkdownIt("commonmark").enable("table")


@dataclass(frozen=True)
class Piece:
    heading: str
    text: str
    page: int | None = None


def _blocks(markdown: str) -> list[tuple[str | None, str]]:
    """(heading, None) for a heading, (None, text) for any other block, in order."""
    blocks: list[tuple[str | None, str]] = []
    tokens = _md.parse(markdown)
    in_heading = False
    prefix = ""
    for token in tokens:
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type == "list_item_open":
            prefix = "- "
        elif token.type == "inline":
            text = " ".join(child.content for child in token.children or [] if child.content) or token.content
            text = " ".join(text.split())
            if in_heading:
                blocks.append((text, ""))
            elif text:
                blocks.append((None, prefix + text))
            prefix = ""
        elif token.type in ("fence", "code_block") and token.content.strip():
            blocks.append((None, token.content.strip()))
    return blocks


def _split_long(text: str, limit: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    units = _SENTENCE_END.split(text)
    if max(len(unit) for unit in units) > limit:
        units = text.split()
    for unit in units:
        while len(unit) > limit:  # one word longer than a chunk: cut it
            if current:
                parts.append(current)
                current = ""
            parts.append(unit[:limit])
            unit = unit[limit:]
        candidate = f"{current} {unit}".strip()
        if len(candidate) > limit and current:
            parts.append(current)
            candidate = unit
        current = candidate
    if current:
        parts.append(current)
    return parts


def _pack(heading: str, paragraphs: list[str], page: int | None, limit: int) -> list[Piece]:
    pieces: list[Piece] = []
    current: list[str] = []
    size = 0
    for paragraph in paragraphs:
        for part in _split_long(paragraph, limit):
            if current and size + len(part) + 2 > limit:
                pieces.append(Piece(heading, "\n\n".join(current), page))
                current, size = [], 0
            current.append(part)
            size += len(part) + 2
    if current:
        pieces.append(Piece(heading, "\n\n".join(current), page))
    return pieces


def chunk(body: str, *, title: str = "", limit: int = MAX_CHARS) -> list[Piece]:
    """The pieces of `body`, in order. Text before the first heading goes under `title`; a heading with no
    text under it makes no piece."""
    pages = body.split(PAGE_BREAK)
    paged = len(pages) > 1
    pieces: list[Piece] = []
    heading = title
    for number, page_text in enumerate(pages, start=1):
        page = number if paged else None
        paragraphs: list[str] = []
        for block_heading, text in _blocks(page_text):
            if block_heading is not None:
                pieces += _pack(heading, paragraphs, page, limit)
                heading, paragraphs = block_heading or title, []
            else:
                paragraphs.append(text)
        pieces += _pack(heading, paragraphs, page, limit)
    return pieces
