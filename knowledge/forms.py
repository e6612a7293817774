"""The knowledge pages' forms: the search box, the upload of files, the gap report's period."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

# Files one upload takes at most (each up to KB_MAX_FILE_BYTES).
UPLOAD_MAX_FILES = 20
ACCEPT = ".md,.markdown,.txt,.text,.html,.htm,.pdf,.docx"
DEFAULT_GAP_DAYS = 30
GAP_PERIODS = [(7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days"), (365, "Last year")]


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=1000, label="Search the knowledge base")


class _MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class _MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", _MultipleFileInput(attrs={"accept": ACCEPT}))
        kwargs.setdefault("allow_empty_file", True)  # the import says so for that file alone
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data]
        return [super(_MultipleFileField, self).clean(f, initial) for f in files if f] or [super().clean(None)]


class UploadForm(forms.Form):
    documents = _MultipleFileField(
        label="Files",
        help_text="Markdown, plain text, HTML, PDF or DOCX; several at once, each up to "
        f"{settings.KB_MAX_FILE_BYTES // 2**20} MB. Each file becomes one article.",
    )
    category = forms.SlugField(required=False, max_length=50, label="Category (optional)")
    published = forms.BooleanField(required=False, initial=True, label="Published (searchable at once)")

    def clean_documents(self) -> list[Any]:
        files: list[Any] = self.cleaned_data["documents"]
        if len(files) > UPLOAD_MAX_FILES:
            raise forms.ValidationError(f"At most {UPLOAD_MAX_FILES} files at once.")
        return files


class GapFiltersForm(forms.Form):
    days = forms.IntegerField(required=False, min_value=1, max_value=365, label="Period")

    def period(self) -> int:
        return self.cleaned_data.get("days") or DEFAULT_GAP_DAYS
