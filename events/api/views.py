from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from audit import services as audit
from audit.models import Action
from events import schemas, services
from events.api.serializers import DeliverySerializer, RedeliverSerializer, WebhookSubscriptionSerializer
from events.models import Delivery, WebhookSubscription
from supportintel.permissions import ChangePermissions


def _detail(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "name": subscription.name,
        "url": subscription.url,
        "events": subscription.events,
        "active": subscription.active,
    }


class WebhookViewSet(viewsets.ModelViewSet):
    """Webhook subscriptions: a URL that receives a signed POST for each event it wants. Needs the
    `events.*_webhooksubscription` permissions (admins). `schemas/` publishes the events' JSON Schemas;
    `{id}/deliveries/` is the delivery log; `{id}/deliveries/{delivery_id}/redeliver/` sends one again."""

    serializer_class = WebhookSubscriptionSerializer
    queryset = WebhookSubscription.objects.all()
    permission_classes = [ChangePermissions]

    def perform_create(self, serializer: Any) -> None:
        with transaction.atomic():
            subscription = serializer.save(created_by=self.request.user)
            audit.record(
                Action.WEBHOOK_CREATED,
                actor=self.request.user,
                target=f"webhook:{subscription.pk}",
                detail=_detail(subscription),
                request=self.request,
            )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().create(request, *args, **kwargs)
        # The secret is shown once, to whoever made the subscription (and in admin).
        subscription = WebhookSubscription.objects.get(pk=response.data["id"])
        response.data["secret"] = subscription.secret
        return response

    def perform_update(self, serializer: Any) -> None:
        with transaction.atomic():
            was_active = serializer.instance.active
            subscription = serializer.save()
            if subscription.active and not was_active:
                services.reactivate(subscription)
            audit.record(
                Action.WEBHOOK_CHANGED,
                actor=self.request.user,
                target=f"webhook:{subscription.pk}",
                detail=_detail(subscription),
                request=self.request,
            )

    def perform_destroy(self, instance: WebhookSubscription) -> None:
        with transaction.atomic():
            detail, pk = _detail(instance), instance.pk
            instance.delete()
            audit.record(
                Action.WEBHOOK_DELETED,
                actor=self.request.user,
                target=f"webhook:{pk}",
                detail=detail,
                request=self.request,
            )

    @extend_schema(responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=DeliverySerializer)
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        subscription = self.get_object()
        rows: QuerySet[Delivery] = Delivery.objects.filter(subscription=subscription).select_related("event")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses=RedeliverSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_id>[0-9]+)/redeliver",
        serializer_class=RedeliverSerializer,
    )
    def redeliver(self, request: Request, pk: str | None = None, delivery_id: str = "") -> Response:
        subscription = self.get_object()
        delivery = get_object_or_404(Delivery, pk=int(delivery_id), subscription=subscription)
        count = services.redeliver([delivery.pk], actor=request.user)  # type: ignore[arg-type]
        return Response({"redelivered": count}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["get"], pagination_class=None)
    def schemas(self, request: Request) -> Response:
        """The JSON Schema of each event type, keyed by type (the contract of `schema_version`)."""
        return Response(schemas.all_schemas())
