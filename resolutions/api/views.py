from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from resolutions import services
from resolutions.api.serializers import AcceptSerializer, DraftSerializer, RejectSerializer
from resolutions.models import Draft
from supportintel.errors import Conflict
from supportintel.permissions import CanChangeTickets, CanViewTickets
from tickets.models import Ticket


class ResolutionViewSet(viewsets.GenericViewSet[Draft]):
    """A ticket's latest specialist resolution draft; accept it (as written, or with edits) or reject it."""

    queryset = Draft.objects.all()
    serializer_class = DraftSerializer
    permission_classes = [CanViewTickets]
    pagination_class = None

    def _draft(self, ticket_pk: str) -> Draft:
        ticket = get_object_or_404(Ticket.objects.only("pk"), pk=ticket_pk)
        draft = services.latest_draft(ticket)
        if draft is None:
            raise NotFound("This ticket has no resolution draft.")
        return draft

    def _decided(self, draft: Draft) -> Response:
        return Response(DraftSerializer(draft, context=self.get_serializer_context()).data)

    @extend_schema(responses={200: DraftSerializer, 404: OpenApiResponse(description="No draft (yet).")})
    def list(self, request: Request, ticket_pk: str) -> Response:
        return self._decided(self._draft(ticket_pk))

    @extend_schema(
        request=AcceptSerializer,
        responses={200: DraftSerializer, 409: OpenApiResponse(description="The draft is not proposed.")},
    )
    @action(detail=False, methods=["post"], permission_classes=[CanChangeTickets])
    def accept(self, request: Request, ticket_pk: str) -> Response:
        """Accept the draft and resolve the ticket: by the specialist if accepted as written, by a person if
        edited."""
        draft = self._draft(ticket_pk)
        serializer = AcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            decided = services.accept(draft, cast(User, request.user), serializer.validated_data)
        except services.DecisionRefused as exc:
            raise Conflict(str(exc), code="draft_decided") from exc
        return self._decided(decided)

    @extend_schema(
        request=RejectSerializer,
        responses={200: DraftSerializer, 409: OpenApiResponse(description="The draft is not proposed.")},
    )
    @action(detail=False, methods=["post"], permission_classes=[CanChangeTickets])
    def reject(self, request: Request, ticket_pk: str) -> Response:
        draft = self._draft(ticket_pk)
        serializer = RejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            decided = services.reject(draft, cast(User, request.user), serializer.validated_data["note"])
        except services.DecisionRefused as exc:
            raise Conflict(str(exc), code="draft_decided") from exc
        return self._decided(decided)
