"""The knowledge pages: the articles with a search box and the upload of files, and the content-gap report."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from classification.taxonomy import category_choices
from knowledge import gaps, services
from knowledge.forms import GAP_PERIODS, GapFiltersForm, SearchForm, UploadForm
from knowledge.ingest import IngestError
from knowledge.models import Article
from knowledge.retrieval import search
from supportintel.http import AuthenticatedHttpRequest
from tickets.views.common import agent_required, render_page

logger = logging.getLogger(__name__)

# The page lists this many articles, the latest written first (search finds the others).
ARTICLES_SHOWN = 50
ADD_PERMISSION = "knowledge.add_article"


def _articles_context(
    request: AuthenticatedHttpRequest, search_form: SearchForm, upload_form: UploadForm
) -> dict[str, Any]:
    query = search_form.cleaned_data.get("q", "").strip() if search_form.is_valid() else ""
    articles = Article.objects.annotate(chunk_count=Count("chunks")).order_by("-updated", "-pk")
    return {
        "search_form": search_form,
        "upload_form": upload_form,
        "may_upload": request.user.has_perm(ADD_PERMISSION),
        "query": query,
        "hits": search(query) if query else [],
        "articles": articles[:ARTICLES_SHOWN],
        "shown": ARTICLES_SHOWN,
        "category_names": dict(category_choices()),
    }


@require_GET
@vary_on_headers("HX-Request")
@agent_required()
def articles(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    status = 200 if form.is_valid() else 400
    context = _articles_context(request, form, UploadForm())
    return render_page(request, "knowledge/articles.html", "knowledge/partials/search_results.html", context, status)


@require_POST
@agent_required(ADD_PERMISSION)
def upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Each file becomes an article or says why not (one message per file); then back to the articles."""
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        context = _articles_context(request, SearchForm(), form)
        return render_page(request, "knowledge/articles.html", "knowledge/articles.html", context, status=400)
    fields = {"category": form.cleaned_data["category"], "published": form.cleaned_data["published"]}
    for file in form.cleaned_data["documents"]:
        try:
            # One byte past the limit is enough for the import to say the file is too large.
            article = services.import_file(file.name, file.read(settings.KB_MAX_FILE_BYTES + 1), **fields)
        except IngestError as error:
            messages.error(request, f"{file.name}: not imported: {error}.")
            continue
        messages.success(request, f"{file.name}: imported as “{article.title}” ({article.chunks.count()} passages).")
    return redirect("knowledge:articles")


@require_GET
@agent_required()
def gap_report(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = GapFiltersForm(request.GET)
    context: dict[str, Any] = {"form": form, "periods": GAP_PERIODS, "category_names": dict(category_choices())}
    if not form.is_valid():
        return render(request, "knowledge/gaps.html", {**context, "days": None, "report": None}, status=400)
    days = form.period()
    return render(request, "knowledge/gaps.html", {**context, "days": days, "report": gaps.for_last_days(days)})
