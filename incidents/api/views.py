from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import services
from incidents.api.serializers import (
    DuplicateSerializer,
    IncidentDetailSerializer,
    IncidentSerializer,
    SimilarTicketSerializer,
)
from incidents.models import Incident, IncidentStatus
from supportintel.errors import Conflict
from supportintel.permissions import CanChangeTickets, CanViewTickets, ChangePermissions
from tickets.models import Ticket

# Similar tickets shown at most.
SIMILAR_SHOWN = 10


class SimilarTicketViewSet(viewsets.GenericViewSet[Ticket]):
    """A ticket's similar tickets, best first: found by the worker after classification (or now, if not yet)."""

    queryset = Ticket.objects.all()
    serializer_class = SimilarTicketSerializer
    pagination_class = None

    @extend_schema(responses={200: SimilarTicketSerializer(many=True)})
    def list(self, request: Request, ticket_pk: str) -> Response:
        ticket = get_object_or_404(Ticket.objects.all(), pk=ticket_pk)
        found = services.similar_tickets(ticket, SIMILAR_SHOWN)
        return Response(SimilarTicketSerializer(found, many=True, context={"request": request}).data)


class DuplicateViewSet(viewsets.GenericViewSet[Ticket]):
    """Confirm that a ticket duplicates another (`duplicate_of`: its id), or undo it (null). Both are kept."""

    queryset = Ticket.objects.all()
    serializer_class = DuplicateSerializer
    permission_classes = [ChangePermissions]

    @extend_schema(request=DuplicateSerializer, responses={200: DuplicateSerializer})
    def create(self, request: Request, ticket_pk: str) -> Response:
        ticket = get_object_or_404(Ticket.objects.all(), pk=ticket_pk)
        serializer = DuplicateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        original = serializer.validated_data["duplicate_of"]
        if original is None:
            services.clear_duplicate(ticket, actor=request.user, via="api", request=request)
            return Response({"duplicate_of": None})
        try:
            linked = services.confirm_duplicate(ticket, original, actor=request.user, via="api", request=request)
        except services.DuplicateRefused as exc:
            raise Conflict(str(exc), code="duplicate_refused") from exc
        return Response({"duplicate_of": linked.pk})


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Incident]):
    """Incidents: bursts of similar tickets from several customers. Open ones first; close or reopen them."""

    permission_classes = [CanViewTickets]
    # Open ones first: an order the tickets' cursor pagination (by arrival) cannot keep. Incidents are few.
    pagination_class = PageNumberPagination

    def get_queryset(self) -> QuerySet[Incident]:
        return Incident.objects.order_by("-status", "-last_seen", "-id")

    def get_serializer_class(self) -> Any:
        return IncidentDetailSerializer if self.action != "list" else IncidentSerializer

    @extend_schema(
        responses={
            200: IncidentSerializer(many=True),
            404: OpenApiResponse(description="No such page (past the last one)."),
        }
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _set_status(self, status: str) -> Response:
        incident = services.set_incident_status(
            self.get_object(), status, self.request.user, via="api", request=self.request
        )
        return Response(IncidentDetailSerializer(incident, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={200: IncidentDetailSerializer})
    @action(detail=True, methods=["post"], permission_classes=[CanChangeTickets])
    def close(self, request: Request, pk: str) -> Response:
        return self._set_status(IncidentStatus.CLOSED)

    @extend_schema(request=None, responses={200: IncidentDetailSerializer})
    @action(detail=True, methods=["post"], permission_classes=[CanChangeTickets])
    def reopen(self, request: Request, pk: str) -> Response:
        return self._set_status(IncidentStatus.OPEN)
