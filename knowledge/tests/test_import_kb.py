from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from knowledge.models import Article
from knowledge.retrieval import search
from knowledge.tests import files

pytestmark = pytest.mark.django_db(transaction=True)


def _run(directory, *args):
    out = io.StringIO()
    try:
        call_command("import_kb", str(directory), *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def test_a_folder_is_imported_file_by_file_with_a_report(tmp_path):
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "refunds.md").write_text("# Refunds\n\n## Window\n\nWithin 30 days.\n")
    (tmp_path / "export.docx").write_bytes(files.docx("Exporting", [("CSV", "Export as CSV.")]))
    (tmp_path / "outage.html").write_text("<h1>Outages</h1><p>See the status page.</p>")
    (tmp_path / "guide.pdf").write_bytes(files.pdf(["Reset your password from the login page."]))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 nothing")
    (tmp_path / "secret.pdf").write_bytes(files.encrypted_pdf())
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden.md").write_text("# Hidden")

    out, error = _run(tmp_path, "--category", "billing", "--tags", "faq")
    assert error is not None and error.returncode == 1
    assert "ok      faq/refunds.md -> article" in out
    assert "failed  broken.pdf: the PDF cannot be read" in out
    assert "failed  secret.pdf: the PDF is encrypted" in out
    assert "failed  image.png: unsupported file type" in out
    assert "4 imported, 3 failed." in out and "hidden" not in out
    assert Article.objects.count() == 4
    assert set(Article.objects.values_list("category", flat=True)) == {"billing"}
    assert search("status page outage")[0].chunk.article.source_name == "outage.html"


def test_importing_again_updates_the_articles_instead_of_duplicating_them(tmp_path):
    (tmp_path / "refunds.md").write_text("# Refunds\n\nWithin 30 days.\n")
    assert _run(tmp_path)[1] is None
    (tmp_path / "refunds.md").write_text("# Refunds\n\nWithin 60 days.\n")
    out, error = _run(tmp_path, "--unpublished")
    assert error is None and "1 imported, 0 failed." in out
    [refunds] = Article.objects.all()
    assert "60 days" in refunds.body and not refunds.published


def test_a_missing_directory_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="not a directory"):
        call_command("import_kb", str(tmp_path / "nope"))
