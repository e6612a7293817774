from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from classification import services
from classification.api.serializers import BreakerSerializer, CategorySerializer
from classification.models import Category
from supportintel.permissions import CanViewTaxonomy, CanViewTickets
from supportintel.schema import SingleObjectSchema


class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    """The taxonomy (edited in Django admin)."""

    serializer_class = CategorySerializer
    queryset = Category.objects.order_by("position", "slug")
    lookup_field = "slug"
    pagination_class = None  # a handful of rows
    permission_classes = [CanViewTaxonomy]


class BreakerViewSet(viewsets.ViewSet):
    """The LLM circuit breaker: state, failures, when it opened and when the next trial call is due."""

    permission_classes = [CanViewTickets]
    schema = SingleObjectSchema()

    @extend_schema(responses=BreakerSerializer)
    def list(self, request: Request) -> Response:
        return Response(BreakerSerializer(services.breaker_status()).data)
