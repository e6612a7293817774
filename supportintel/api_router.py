"""The one DRF router: every app registers its viewsets here."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from classification.api.views import BreakerViewSet, CategoryViewSet
from tickets.api.views import StatsViewSet, TicketViewSet

router = DefaultRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("categories", CategoryViewSet, basename="category")
router.register("breaker", BreakerViewSet, basename="breaker")
router.register("stats", StatsViewSet, basename="stats")
