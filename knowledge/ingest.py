"""Reading files into article text: Markdown, plain text, HTML, PDF and DOCX. No ORM: `extract` takes a file's
name and bytes and returns the title and the Markdown body, or raises IngestError with a message fit for the
person who sent the file. A PDF's pages are joined with form feeds (chunking.PAGE_BREAK) to keep page numbers."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath

from django.conf import settings
from markdown_it import MarkdownIt

from knowledge.chunking import PAGE_BREAK
from knowledge.models import SourceKind

logger = logging.getLogger(__name__)

KINDS = {
    ".md": SourceKind.MARKDOWN,
    ".markdown": SourceKind.MARKDOWN,
    ".txt": SourceKind.TEXT,
    ".text": SourceKind.TEXT,
    ".html": SourceKind.HTML,
    ".htm": SourceKind.HTML,
    ".pdf": SourceKind.PDF,
    ".docx": SourceKind.DOCX,
}
TITLE_CHARS = 300


class IngestError(ValueError):
    """A file that cannot become an article: the message says why."""


@dataclass(frozen=True)
class Document:
    title: str
    body: str
    kind: str


def _stem_title(name: str) -> str:
    stem = PurePath(name).stem
    return re.sub(r"[-_]+", " ", stem).strip().capitalize() or "Untitled"


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise IngestError("the file is binary, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise IngestError("the file is not UTF-8 text") from error
    return text.replace("\r\n", "\n").replace(PAGE_BREAK, "\n")


def _markdown(name: str, data: bytes) -> tuple[str, str]:
    body = _decode(data)
    for token, inline in zip(tokens := MarkdownIt("commonmark").parse(body), tokens[1:], strict=False):
        if token.type == "heading_open" and token.tag == "h1":
            return inline.content.strip(), body
    return _stem_title(name), body


def _text(name: str, data: bytes) -> tuple[str, str]:
    body = _decode(data)
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return (first if 0 < len(first) <= 120 else _stem_title(name)), body


class _HTMLText(HTMLParser):
    _SKIP = frozenset(["script", "style", "noscript", "template", "svg", "head"])
    _BLOCK = frozenset(["p", "div", "li", "br", "tr", "section", "article", "blockquote", "pre", "table", "ul"])

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.title: list[str] = []
        self.skipping = 0
        self.in_title = False
        self.heading_level = 0

    def _flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            self.lines.append(("#" * self.heading_level + " " if self.heading_level else "") + text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        if tag in self._SKIP:
            self.skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.heading_level = int(tag[1])
        elif tag in self._BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.heading_level = 0
        elif tag in self._BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.skipping:
            self.current.append(data)


def _html(name: str, data: bytes) -> tuple[str, str]:
    parser = _HTMLText()
    parser.feed(_decode(data))
    parser.close()
    parser._flush()
    title = " ".join("".join(parser.title).split())
    if not title:
        title = next((line.lstrip("# ") for line in parser.lines if line.startswith("# ")), "")
    return title or _stem_title(name), "\n\n".join(parser.lines)


def _pdf(name: str, data: bytes) -> tuple[str, str]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise IngestError("the PDF is encrypted; upload an unprotected copy")
        pages = [(page.extract_text() or "").replace(PAGE_BREAK, "\n").strip() for page in reader.pages]
        title = str(reader.metadata.title or "").strip() if reader.metadata else ""
    except IngestError:
        raise
    except Exception as error:  # pypdf raises many types for damaged files
        raise IngestError(f"the PDF cannot be read ({type(error).__name__})") from error
    # Lines of PDF text end where the page's layout did, not where sentences do: keep paragraphs only.
    body = PAGE_BREAK.join(re.sub(r"\n{2,}", "\n\n", page) for page in pages)
    return title or _stem_title(name), body


def _docx(name: str, data: bytes) -> tuple[str, str]:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        paragraphs = [(p.style.name if p.style is not None else "", p.text.strip()) for p in document.paragraphs]
        core_title = document.core_properties.title or ""
    except Exception as error:  # python-docx raises zip, XML and key errors for damaged files
        raise IngestError(f"the DOCX cannot be read ({type(error).__name__})") from error
    lines: list[str] = []
    title = core_title.strip()
    for style, text in paragraphs:
        if not text:
            continue
        level = re.fullmatch(r"Heading (\d)", style or "")
        if style == "Title":
            title = title or text
            lines.append(f"# {text}")
        elif level:
            lines.append(f"{'#' * int(level.group(1))} {text}")
        else:
            lines.append(text)
    return title or _stem_title(name), "\n\n".join(lines)


_READERS = {
    SourceKind.MARKDOWN: _markdown,
    SourceKind.TEXT: _text,
    SourceKind.HTML: _html,
    SourceKind.PDF: _pdf,
    SourceKind.DOCX: _docx,
}


def extract(name: str, data: bytes, *, max_bytes: int | None = None) -> Document:
    """The title, Markdown body and kind of the file `name` holding `data`."""
    limit = settings.KB_MAX_FILE_BYTES if max_bytes is None else max_bytes
    kind = KINDS.get(PurePath(name).suffix.lower())
    if kind is None:
        raise IngestError(f"unsupported file type; use one of {', '.join(sorted(KINDS))}")
    if len(data) > limit:
        raise IngestError(f"the file is larger than {limit // (1024 * 1024)} MB")
    if not data:
        raise IngestError("the file is empty")
    title, body = _READERS[kind](name, data)
    if not body.replace(PAGE_BREAK, "").strip():
        raise IngestError("the file has no text" + (" (a scanned PDF needs OCR first)" if kind == "pdf" else ""))
    return Document(title=title[:TITLE_CHARS], body=body, kind=kind)
