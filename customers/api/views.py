from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from customers import services
from customers.api.serializers import (
    CustomerBulkResultSerializer,
    CustomerBulkSerializer,
    CustomerDetailSerializer,
    CustomerSerializer,
)
from customers.context import for_customer
from customers.models import Customer


class CustomerPermissions(BasePermission):
    """Reading: whoever reads tickets (an agent sees who the customer is) or may view customers; writing
    (PUT, bulk): `customers.change_customer` and `customers.add_customer`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return user.has_perm("tickets.view_ticket") or user.has_perm("customers.view_customer")
        return user.has_perm("customers.change_customer") and user.has_perm("customers.add_customer")


class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Customers, keyed the way tickets name them: the ticket's `customer_id`, or its email in lower case.
    `PUT /customers/{key}/` creates or replaces one; `POST /customers/bulk/` takes up to 1,000. The detail
    carries the context computed now (tickets in 30 and 90 days, open ones, escalations, recent tickets with
    their categories and sentiments, the sentiment trend)."""

    serializer_class = CustomerSerializer
    permission_classes = [CustomerPermissions]
    lookup_field = "key"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> QuerySet[Customer]:
        queryset = Customer.objects.all()
        search = self.request.query_params.get("search", "").strip()[:200] if self.request else ""
        if search:
            queryset = queryset.filter(
                Q(key__icontains=search) | Q(name__icontains=search) | Q(organisation__icontains=search)
            )
        if self.request and self.request.query_params.get("vip") in ("1", "true"):
            queryset = queryset.filter(vip=True)
        return queryset

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="Key, name or organisation contains this."),
            OpenApiParameter("vip", bool, description="Only VIP customers."),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=CustomerDetailSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        customer = self.get_object()
        serializer = CustomerDetailSerializer(customer, context={"customer_context": for_customer(customer)})
        return Response(serializer.data)

    @extend_schema(request=CustomerSerializer, responses={200: CustomerSerializer, 201: CustomerSerializer})
    def update(self, request: Request, key: str = "") -> Response:
        """Create or replace the customer `key` (fields not sent keep their values)."""
        serializer = CustomerSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        customer, created = services.upsert(key[:254], serializer.validated_data, actor=request.user)  # type: ignore[arg-type]
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(CustomerSerializer(customer).data, status=code)

    @extend_schema(request=CustomerBulkSerializer, responses=CustomerBulkResultSerializer)
    @action(detail=False, methods=["post"], serializer_class=CustomerBulkSerializer)
    def bulk(self, request: Request) -> Response:
        """Create or update up to 1,000 customers in one transaction (all or nothing)."""
        serializer = CustomerBulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created, updated = services.upsert_many(serializer.validated_data["customers"], actor=request.user)  # type: ignore[arg-type]
        return Response({"created": created, "updated": updated})
