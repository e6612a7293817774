from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from classification import services as classification_services
from classification.models import Classification
from classification.taxonomy import category_choices
from supportintel.errors import Conflict
from supportintel.permissions import CanViewTickets, ChangePermissions
from supportintel.schema import SingleObjectSchema
from tickets import services, stats, workflow
from tickets.api.serializers import (
    RECEIVED_TICKET_SCHEMA,
    AssignSerializer,
    BulkResultSerializer,
    BulkTicketSerializer,
    CorrectionSerializer,
    ReclassifySerializer,
    StateSerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketReceiptSerializer,
    TicketSerializer,
)
from tickets.api.stats_serializers import StatsSerializer
from tickets.filters import TicketFilter
from tickets.forms import RANGES, RangeForm
from tickets.models import Status, Ticket

# The list leaves out the body (up to 20,000 characters each); the detail has it.
_LIST_DEFERRED = ("body",)


class TicketViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tickets: create (202, classified in the background), bulk create, list with filters, detail with
    classification history, reclassify, retry, and human correction."""

    filterset_class = TicketFilter
    queryset = Ticket.objects.all()

    def get_queryset(self) -> QuerySet[Ticket]:
        queryset = Ticket.objects.select_related("assignee", "state_changed_by")
        if self.action == "retrieve":
            history = Classification.objects.select_related("author").prefetch_related("citations")
            history = history.order_by("-created", "-id")
            return queryset.prefetch_related(Prefetch("classifications", queryset=history))
        if self.action == "list":
            return queryset.defer(*_LIST_DEFERRED)
        return queryset

    def get_serializer_class(self) -> type[BaseSerializer]:
        by_action: dict[str, type[BaseSerializer]] = {
            "create": TicketCreateSerializer,
            "retrieve": TicketDetailSerializer,
            "bulk": BulkTicketSerializer,
            "reclassify": ReclassifySerializer,
            "correct": CorrectionSerializer,
            "state": StateSerializer,
            "assign": AssignSerializer,
        }
        return by_action.get(self.action, TicketSerializer)

    def _ticket_response(self, ticket: Ticket, code: int) -> Response:
        data = TicketSerializer(ticket, context=self.get_serializer_context()).data
        return Response(data, status=code, headers={"Location": data["status_url"]})

    def _received_serializer(self) -> type[BaseSerializer]:
        """How a ticket already received is shown: in full to whoever may read tickets; otherwise only
        its id and status, so a token that may only create tickets cannot read stored ones by re-sending
        a known channel and external id."""
        if self.request.user.has_perm("tickets.view_ticket"):
            return TicketSerializer
        return TicketReceiptSerializer

    @extend_schema(
        request=TicketCreateSerializer,
        responses={
            202: OpenApiResponse(TicketSerializer, description="Accepted; classification is queued."),
            200: OpenApiResponse(
                RECEIVED_TICKET_SCHEMA,
                description="Already received (same channel and external_id): the stored ticket for callers "
                "with tickets.view_ticket, only its id and status for the others.",
            ),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = TicketCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket, created = services.create_ticket(serializer.validated_data)
        if created:
            return self._ticket_response(ticket, status.HTTP_202_ACCEPTED)
        data = self._received_serializer()(ticket, context=self.get_serializer_context()).data
        location = request.build_absolute_uri(reverse("ticket-detail", args=[ticket.pk]))
        return Response(data, status=status.HTTP_200_OK, headers={"Location": location})

    @extend_schema(request=BulkTicketSerializer, responses={202: BulkResultSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        serializer = BulkTicketSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created, duplicates = services.create_tickets_bulk(serializer.validated_data["tickets"])
        context = self.get_serializer_context()
        return Response(
            {
                "created": len(created),
                "duplicates": len(duplicates),
                "tickets": TicketSerializer(created, many=True, context=context).data,
                "duplicate_tickets": self._received_serializer()(duplicates, many=True, context=context).data,
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=ReclassifySerializer, responses={202: TicketSerializer})
    @action(detail=True, methods=["post"], permission_classes=[ChangePermissions])
    def reclassify(self, request: Request, pk: str) -> Response:
        ticket = self.get_object()
        serializer = ReclassifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.requeue_tickets([ticket.pk], force=serializer.validated_data["force"], actor=cast(User, request.user))
        ticket.refresh_from_db()
        return self._ticket_response(ticket, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: TicketSerializer, 409: OpenApiResponse(description="The ticket has not failed.")},
    )
    @action(detail=True, methods=["post"], permission_classes=[ChangePermissions])
    def retry(self, request: Request, pk: str) -> Response:
        ticket = self.get_object()
        if ticket.status != Status.FAILED:
            raise Conflict(f"Only failed tickets can be retried; this one is {ticket.status}.", code="not_failed")
        services.requeue_tickets([ticket.pk], only_failed=True, actor=cast(User, request.user))
        ticket.refresh_from_db()
        return self._ticket_response(ticket, status.HTTP_202_ACCEPTED)

    @extend_schema(request=CorrectionSerializer, responses={200: TicketSerializer})
    @action(detail=True, methods=["post"], permission_classes=[ChangePermissions])
    def correct(self, request: Request, pk: str) -> Response:
        ticket = self.get_object()
        serializer = CorrectionSerializer(data=request.data, context={"ticket": ticket})
        serializer.is_valid(raise_exception=True)
        author = cast(User, request.user)  # ChangePermissions lets no anonymous request through
        classification_services.record_correction(ticket, author, serializer.validated_data)
        return Response(TicketSerializer(ticket, context=self.get_serializer_context()).data)

    @extend_schema(
        request=StateSerializer,
        responses={200: TicketSerializer, 409: OpenApiResponse(description="The ticket cannot move to that state.")},
    )
    @action(detail=True, methods=["post"], permission_classes=[ChangePermissions])
    def state(self, request: Request, pk: str) -> Response:
        """Set the working state (open, pending, resolved; a resolved ticket is reopened to open)."""
        ticket = self.get_object()
        serializer = StateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        target = serializer.validated_data["state"]
        if ticket.state != target and not workflow.change_state([ticket.pk], target, actor=cast(User, request.user)):
            raise Conflict(f"A {ticket.state} ticket cannot become {target}.", code="invalid_transition")
        ticket = self.get_queryset().get(pk=ticket.pk)
        return Response(TicketSerializer(ticket, context=self.get_serializer_context()).data)

    @extend_schema(request=AssignSerializer, responses={200: TicketSerializer})
    @action(detail=True, methods=["post"], permission_classes=[ChangePermissions])
    def assign(self, request: Request, pk: str) -> Response:
        """Assign the ticket to an agent, or unassign it with `"assignee": null`."""
        ticket = self.get_object()
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        workflow.assign([ticket.pk], serializer.validated_data["assignee"], actor=cast(User, request.user))
        ticket = self.get_queryset().get(pk=ticket.pk)
        return Response(TicketSerializer(ticket, context=self.get_serializer_context()).data)


class StatsViewSet(viewsets.ViewSet):
    """The dashboard's numbers: now (tickets by status, queue depth, workers, open, unassigned and overdue
    work) and over a period (`range`: today, 7d, 30d, or custom with `start` and `end` dates): received,
    LLM/keyword share, confidence, high risk, time to classify, and every chart the overview draws (volume
    per hour and per day, per category, team, priority, sentiment, source and channel, average risk and
    confidence, corrections)."""

    permission_classes = [CanViewTickets]
    schema = SingleObjectSchema()

    @extend_schema(
        parameters=[
            OpenApiParameter("range", str, enum=list(RANGES), description="The period (default 7d)."),
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day of a custom range."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day of a custom range (inclusive)."),
        ],
        responses={200: StatsSerializer},
    )
    def list(self, request: Request) -> Response:
        form = RangeForm(request.query_params)
        if not form.is_valid():
            raise ValidationError({field: [str(error) for error in errors] for field, errors in form.errors.items()})
        period = stats.Period(*form.period())
        charts = stats.charts(period, category_choices())
        return Response(StatsSerializer({**stats.overview(period), "charts": charts}).data)
