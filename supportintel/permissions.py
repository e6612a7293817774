from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


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
