"""The one DRF router: every app registers its viewsets here."""

from __future__ import annotations

from rest_framework.routers import APIRootView, DefaultRouter

from analysis.api.views import AnalysisRunViewSet
from audit.api.views import AuditEntryViewSet
from classification.api.views import BreakerViewSet, CategoryViewSet
from classification.api.workflow import WorkflowViewSet
from customers.api.views import CustomerViewSet
from events.api.views import WebhookViewSet
from incidents.api.views import DuplicateViewSet, IncidentViewSet, SimilarTicketViewSet
from knowledge.api.views import ArticleViewSet, KnowledgeGapsViewSet, KnowledgeSearchViewSet, KnowledgeUploadViewSet
from resolutions.api.views import ResolutionViewSet
from supportintel.permissions import CanViewTickets
from tickets.api.views import StatsViewSet, TicketViewSet


class RootView(APIRootView):
    """The API's index of endpoints: for users who may read tickets, like the endpoints it lists."""

    permission_classes = [CanViewTickets]


class Router(DefaultRouter):
    APIRootView = RootView


router = Router()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("categories", CategoryViewSet, basename="category")
router.register("breaker", BreakerViewSet, basename="breaker")
router.register("stats", StatsViewSet, basename="stats")
router.register("audit", AuditEntryViewSet, basename="audit")
router.register("workflow", WorkflowViewSet, basename="workflow")
router.register("analyses", AnalysisRunViewSet, basename="analysis")
router.register(r"tickets/(?P<ticket_pk>[0-9]+)/similar", SimilarTicketViewSet, basename="ticket-similar")
router.register(r"tickets/(?P<ticket_pk>[0-9]+)/duplicate", DuplicateViewSet, basename="ticket-duplicate")
router.register("incidents", IncidentViewSet, basename="incident")
router.register("customers", CustomerViewSet, basename="customer")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("kb/articles", ArticleViewSet, basename="kb-article")
router.register("kb/search", KnowledgeSearchViewSet, basename="kb-search")
router.register("kb/upload", KnowledgeUploadViewSet, basename="kb-upload")
router.register(r"tickets/(?P<ticket_pk>[0-9]+)/resolution", ResolutionViewSet, basename="ticket-resolution")
router.register("kb/gaps", KnowledgeGapsViewSet, basename="kb-gaps")
