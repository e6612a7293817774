"""A specialist for each default category that has default instructions (resolutions.defaults), left alone
where one exists (edited in admin)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from resolutions.defaults import INSTRUCTIONS


def install(apps: Any, schema_editor: Any) -> None:
    Category = apps.get_model("classification", "Category")
    Specialist = apps.get_model("resolutions", "Specialist")
    for category in Category.objects.filter(slug__in=list(INSTRUCTIONS)):
        Specialist.objects.get_or_create(category=category, defaults={"instructions": INSTRUCTIONS[category.slug]})


def remove(apps: Any, schema_editor: Any) -> None:
    apps.get_model("resolutions", "Specialist").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("resolutions", "0001_initial"), ("classification", "0002_default_taxonomy")]

    operations = [migrations.RunPython(install, remove)]
