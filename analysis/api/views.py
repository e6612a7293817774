from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from analysis import reports, services
from analysis.api.serializers import AnalysisRunCreateSerializer, AnalysisRunDetailSerializer, AnalysisRunSerializer
from analysis.forms import RunForm
from analysis.models import AnalysisRun, RunStatus, Trigger
from supportintel.errors import Conflict
from supportintel.permissions import CanViewTickets


class AnalysisRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Analysis runs over a period's tickets: start one (202, run by the workers), follow its progress,
    cancel it, read its figures, themes and summary, download its report (Markdown) and themes (CSV).
    Whoever may read tickets may analyse them."""

    permission_classes = [CanViewTickets]

    def get_queryset(self) -> QuerySet[AnalysisRun]:
        runs = AnalysisRun.objects.select_related("started_by")
        return runs.defer("results", "summary") if self.action == "list" else runs

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "create":
            return AnalysisRunCreateSerializer
        return AnalysisRunDetailSerializer if self.action == "retrieve" else AnalysisRunSerializer

    @extend_schema(request=AnalysisRunCreateSerializer, responses={202: AnalysisRunSerializer})
    def create(self, request: Request) -> Response:
        incoming = AnalysisRunCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        first, last = services.default_period(data.get("incident") or "")
        data.setdefault("first_day", first)
        data.setdefault("last_day", last)
        form = RunForm(data)
        if not form.is_valid():
            raise ValidationError({field: [str(e) for e in errors] for field, errors in form.errors.items()})
        filters = {**form.filters(), **({"incident": data["incident"]} if data.get("incident") else {})}
        try:
            run = services.start_run(
                form.cleaned_data["first_day"],
                form.cleaned_data["last_day"],
                filters,
                trigger=Trigger.API,
                user=request.user if isinstance(request.user, User) else None,
            )
        except services.InvalidRun as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
        body = AnalysisRunSerializer(run, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})

    @extend_schema(request=None, responses={200: AnalysisRunSerializer, 409: OpenApiResponse(description="Finished.")})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        if not services.cancel_run(run):
            raise Conflict(f"The run is {run.status}: only a pending or running run can be cancelled.")
        return Response(AnalysisRunSerializer(run, context=self.get_serializer_context()).data)

    def _finished(self) -> AnalysisRun:
        run = self.get_object()
        if run.status != RunStatus.COMPLETED:
            raise Conflict(f"The run is {run.status}: its report exists once it is completed.")
        return run

    @extend_schema(responses={(200, "text/markdown"): str})
    @action(detail=True, methods=["get"])
    def report(self, request: Request, pk: str | None = None) -> HttpResponse:
        run = self._finished()
        response = HttpResponse(reports.markdown(run), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="analysis-{run.pk}.md"'
        return response

    @extend_schema(responses={(200, "text/csv"): str})
    @action(detail=True, methods=["get"])
    def themes(self, request: Request, pk: str | None = None) -> HttpResponse:
        run = self._finished()
        response = HttpResponse(reports.themes_csv(run), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="analysis-{run.pk}-themes.csv"'
        return response
