from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from knowledge import services
from knowledge.models import Article, Chunk


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ["position", "heading", "page", "text"]
    readonly_fields = ["position", "heading", "page", "text"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "published", "source_kind", "updated"]
    list_filter = ["published", "source_kind", "category"]
    search_fields = ["title", "source_name"]
    readonly_fields = ["source_name", "source_kind", "created", "updated"]
    inlines = [ChunkInline]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "source_url":
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Article, form: Any, change: bool) -> None:
        # Chunks are derived from the body: re-chunked with every save, in the same transaction.
        services.save_article(obj)
