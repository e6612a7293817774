from __future__ import annotations

from rest_framework import viewsets

from audit.api.serializers import AuditEntrySerializer
from audit.filters import AuditFilter
from audit.models import AuditEntry


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log, newest first: logins and failed logins, corrections, reclassify and retry, taxonomy
    and token changes. Append-only; reading needs `audit.view_auditentry`."""

    serializer_class = AuditEntrySerializer
    queryset = AuditEntry.objects.all()
    filterset_class = AuditFilter  # paginated by cursor on (-created, -id), like tickets
