from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from knowledge import gaps, services
from knowledge.api.serializers import (
    ArticleSerializer,
    GapQuerySerializer,
    GapReportSerializer,
    HitSerializer,
    SearchQuerySerializer,
    UploadSerializer,
)
from knowledge.ingest import IngestError
from knowledge.models import Article
from knowledge.retrieval import search
from supportintel.permissions import ModelPermissions
from supportintel.schema import SingleObjectSchema


def _may_read(request: Request) -> bool:
    user = request.user
    return bool(
        user
        and user.is_authenticated
        and (user.has_perm("tickets.view_ticket") or user.has_perm("knowledge.view_article"))
    )


class KnowledgeReadPermission(BasePermission):
    """Reading the knowledge base: whoever reads tickets (agents answer from it) or may view articles."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return _may_read(request)


class ArticlePermissions(ModelPermissions):
    """Reading as KnowledgeReadPermission; writing needs the article's add, change or delete permission."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return _may_read(request)
        return super().has_permission(request, view)


class CanAddArticles(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("knowledge.add_article"))


class ArticleViewSet(viewsets.ModelViewSet):
    """Knowledge-base articles. Writing one re-chunks it; its chunks are searchable at once."""

    serializer_class = ArticleSerializer
    permission_classes = [ArticlePermissions]

    def get_queryset(self) -> QuerySet[Article]:
        return Article.objects.all()


class KnowledgeSearchViewSet(viewsets.ViewSet):
    """`GET /kb/search/?q=`: the chunks of published articles that best match `q`, best first (KB_TOP_K, or
    `k` up to 50), each with its article."""

    permission_classes = [KnowledgeReadPermission]

    @extend_schema(parameters=[SearchQuerySerializer], responses={200: HitSerializer(many=True)})
    def list(self, request: Request) -> Response:
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        hits = search(query.validated_data["q"], query.validated_data.get("k"))
        return Response(HitSerializer(hits, many=True).data)


class KnowledgeUploadViewSet(viewsets.ViewSet):
    """`POST /kb/upload/` (multipart): one file becomes one article, chunked and searchable at once; a file
    that cannot be read is a 400 saying why, and nothing is saved."""

    permission_classes = [CanAddArticles]
    parser_classes = [MultiPartParser]

    @extend_schema(request=UploadSerializer, responses={201: ArticleSerializer})
    def create(self, request: Request) -> Response:
        upload = UploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        fields = dict(upload.validated_data)
        file = fields.pop("file")
        try:
            article = services.import_file(file.name, file.read(), **fields)
        except IngestError as error:
            raise ValidationError({"file": [f"{file.name}: {error}"]}) from error
        return Response(ArticleSerializer(article).data, status=status.HTTP_201_CREATED)


class KnowledgeGapsViewSet(viewsets.ViewSet):
    """`GET /kb/gaps/?days=30`: the content-gap report, the period's tickets whose best knowledge-base match is
    below KB_GAP_SIMILARITY, by category. Scores up to KB_GAP_SCORE_BATCH unscored tickets first; `pending`
    says how many are left for the next request."""

    permission_classes = [KnowledgeReadPermission]
    schema = SingleObjectSchema()

    @extend_schema(parameters=[GapQuerySerializer], responses={200: GapReportSerializer})
    def list(self, request: Request) -> Response:
        query = GapQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = gaps.for_last_days(query.validated_data["days"])
        return Response(GapReportSerializer(found).data)
