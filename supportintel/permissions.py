from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission, DjangoModelPermissions

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions, with reading guarded too: an integration token that may only add
    tickets cannot list them. Agents get `view`, `add` and `change` on tickets (see the seed command)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


class ChangePermissions(ModelPermissions):
    """For actions that change existing rows (reclassify, retry, correct): POST needs `change`."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class CanViewTickets(BasePermission):
    """For endpoints without a queryset (the API root, stats, the breaker): the same boundary as
    reading tickets. A logged-in user without any ticket permission gets 403."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("tickets.view_ticket"))


class CanChangeTickets(BasePermission):
    """Acting on tickets beyond reading them (closing an incident, deciding on a specialist's draft): whoever may
    change tickets."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("tickets.change_ticket"))


class CanViewTaxonomy(BasePermission):
    """The taxonomy is what tickets are classified into: whoever reads tickets reads it too (an agent
    needs no permission on categories), and so does whoever may view categories in admin."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.has_perm("tickets.view_ticket") or user.has_perm("classification.view_category")
