from __future__ import annotations

import pytest

from knowledge.chunking import PAGE_BREAK
from knowledge.ingest import IngestError, extract
from knowledge.tests import files


def test_markdown_takes_its_title_from_the_first_h1_and_keeps_the_body():
    document = extract("refunds.md", b"# Refund policy\n\nWithin 30 days.\n")
    assert (document.title, document.kind) == ("Refund policy", "markdown")
    assert document.body == "# Refund policy\n\nWithin 30 days.\n"
    assert extract("how-to_export.md", b"Just text").title == "How to export"


def test_plain_text_takes_its_first_line_as_title_and_drops_form_feeds():
    document = extract("notes.txt", "\ufeffReset your password\r\nUse the link.\fMore.".encode())
    assert document.title == "Reset your password" and PAGE_BREAK not in document.body
    assert document.kind == "text"


def test_html_keeps_headings_and_paragraphs_and_drops_scripts_and_styles():
    html = (
        b"<html><head><title>Outages</title><style>p{color:red}</style></head><body>"
        b"<script>alert('x')</script><h1>Outages</h1><p>Check the <b>status</b> page.</p>"
        b"<h2>During an outage</h2><ul><li>Wait</li><li>Retry</li></ul></body></html>"
    )
    document = extract("outages.html", html)
    assert document.title == "Outages" and document.kind == "html"
    assert document.body == "# Outages\n\nCheck the status page.\n\n## During an outage\n\nWait\n\nRetry"


def test_pdf_pages_are_joined_by_form_feeds_and_the_title_comes_from_metadata():
    document = extract("guide.pdf", files.pdf(["Refunds take five days.", "Two-factor codes expire."], title="Guide"))
    assert document.title == "Guide" and document.kind == "pdf"
    assert document.body.split(PAGE_BREAK) == ["Refunds take five days.", "Two-factor codes expire."]


def test_docx_headings_become_markdown_headings():
    data = files.docx("Exporting data", [("CSV export", "Go to Settings, Export."), ("API", "Use the API.")])
    document = extract("export.docx", data)
    assert document.title == "Exporting data" and document.kind == "docx"
    assert document.body == "# Exporting data\n\n# CSV export\n\nGo to Settings, Export.\n\n# API\n\nUse the API."


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("virus.exe", b"MZ", "unsupported file type"),
        ("empty.md", b"", "the file is empty"),
        ("blank.txt", b"  \n\n ", "the file has no text"),
        ("latin.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("binary.md", b"\x00\x01\x02", "binary, not text"),
        ("broken.pdf", b"%PDF-1.4 this is not a pdf", "the PDF cannot be read"),
        ("broken.docx", b"PK\x03\x04 not a zip", "the DOCX cannot be read"),
        ("scan.pdf", files.pdf([""]), "scanned PDF needs OCR"),
        ("html.html", b"<script>only()</script>", "the file has no text"),
    ],
)
def test_bad_files_raise_a_clear_error(name, data, message):
    with pytest.raises(IngestError, match=message):
        extract(name, data)


def test_encrypted_pdfs_and_files_over_the_limit_are_refused(settings):
    with pytest.raises(IngestError, match="encrypted"):
        extract("secret.pdf", files.encrypted_pdf())
    settings.KB_MAX_FILE_BYTES = 1024 * 1024
    with pytest.raises(IngestError, match="larger than 1 MB"):
        extract("big.txt", b"a" * (1024 * 1024 + 1))
    assert extract("fits.txt", b"a" * (1024 * 1024)).body
