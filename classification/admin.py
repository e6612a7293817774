from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from audit import services as audit
from audit.models import Action
from classification import rules
from classification.keywords import KeywordError, parse_term
from classification.keywords.info import INFO_LABELS
from classification.learned import training as learned_training
from classification.models import Category, Citation, Classification, LearnedModel


def _format_keywords(entries: list[dict[str, Any]]) -> str:
    lines = []
    for entry in entries:
        weight = float(entry.get("weight", 1.0))
        lines.append(entry["term"] if weight == 1.0 else f"{entry['term']} = {weight:g}")
    return "\n".join(lines)


class KeywordsField(forms.CharField):
    """One keyword per line: `term`, `multi word phrase = 2.5`, or `re:<pattern> = 1`."""

    widget = forms.Textarea(attrs={"rows": 18, "cols": 70})

    def prepare_value(self, value: Any) -> str:
        return _format_keywords(value) if isinstance(value, list) else (value or "")

    def to_python(self, value: Any) -> list[dict[str, Any]]:  # type: ignore[override]  # text in, entries out
        text = super().to_python(value) or ""
        entries, errors = [], []
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            term, weight = line, 1.0
            if " = " in line:
                term, raw_weight = line.rsplit(" = ", 1)
                try:
                    weight = float(raw_weight)
                except ValueError:
                    errors.append(f"line {number}: weight {raw_weight!r} is not a number")
                    continue
            try:
                parse_term(term)
            except KeywordError as exc:
                errors.append(f"line {number} ({term.strip()!r}): {exc}")
                continue
            entries.append({"term": term.strip(), "weight": weight})
        if errors:
            raise ValidationError(errors)
        return entries


class CategoryForm(forms.ModelForm):
    required_info = forms.MultipleChoiceField(
        choices=[(kind, label) for kind, label in INFO_LABELS.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What a ticket of this category must give; the suggested reply asks for what is missing and "
        "the list's 'waiting for information' filter finds those tickets.",
    )
    keywords = KeywordsField(
        required=False,
        help_text="One per line. Words match whole words in any case, with plurals and -ed/-ing forms; "
        "phrases match those words in order; `re:<pattern>` is a case-insensitive regular expression. "
        "Add ` = weight` to weigh a term (default 1, negative weights count against).",
    )

    class Meta:
        model = Category
        fields = (
            "slug",
            "name",
            "description",
            "team",
            "keywords",
            "reply_template",
            "required_info",
            "reply_tone",
            "active",
            "position",
        )


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = ("name", "slug", "team", "keyword_count", "active", "position", "updated")
    list_editable = ("active", "position")
    list_filter = ("active", "team")
    search_fields = ("slug", "name", "description")

    @admin.display(description="keywords")
    def keyword_count(self, category: Category) -> int:
        return len(category.keywords)

    def save_model(self, request: HttpRequest, obj: Category, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        rules.invalidate()
        action = Action.CATEGORY_CHANGED if change else Action.CATEGORY_CREATED
        audit.record(
            action,
            actor=request.user,
            target=f"category:{obj.slug}",
            detail={"fields": form.changed_data},
            request=request,
        )

    def delete_model(self, request: HttpRequest, obj: Category) -> None:
        slug = obj.slug
        super().delete_model(request, obj)
        rules.invalidate()
        audit.record(Action.CATEGORY_DELETED, actor=request.user, target=f"category:{slug}", request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Category]) -> None:
        slugs = list(queryset.values_list("slug", flat=True))
        super().delete_queryset(request, queryset)
        rules.invalidate()
        for slug in slugs:
            audit.record(Action.CATEGORY_DELETED, actor=request.user, target=f"category:{slug}", request=request)


class CitationInline(admin.TabularInline):
    """The knowledge-base sources the suggested reply cites, as stored (read-only, like the history)."""

    model = Citation
    fields = ("rank", "title", "heading", "page", "score", "article", "chunk", "excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Classification)
class ClassificationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "ticket_id",
        "source",
        "category",
        "priority",
        "sentiment",
        "confidence",
        "fallback_reason",
        "model_name",
        "author",
        "created",
    )
    list_filter = ("source", "fallback_reason", "category", "priority", "sentiment")
    search_fields = ("ticket__subject", "ticket__id")
    list_select_related = ("author",)
    raw_id_fields = ("ticket", "author")
    show_full_result_count = False
    inlines = [CitationInline]

    def has_change_permission(self, request: HttpRequest, obj: Classification | None = None) -> bool:
        return False  # history is append-only; corrections are new rows


@admin.register(LearnedModel)
class LearnedModelAdmin(admin.ModelAdmin):
    """The learned classifier's versions: their figures on the held-back tickets beside what they were
    compared with, which one is active, and any error a process met loading one. Versions are made by
    training (the beat task, `manage.py train_classifier`), never here; here one is activated (a roll back,
    when it is an older one) or the active one turned off."""

    list_display = (
        "__str__",
        "created",
        "is_active",
        "decision",
        "n_labels",
        "accuracy",
        "macro_f1",
        "compared_with",
        "fit_seconds",
        "trigger",
        "problem",
    )
    list_filter = ("is_active", "decision", "trigger")
    actions = ["activate_version", "deactivate_all"]
    fields = (
        "created",
        "trigger",
        "source",
        "n_labels",
        "n_train",
        "n_holdout",
        "labels_until",
        "classes",
        "thresholds",
        "figures",
        "baseline",
        "fit_seconds",
        "artifact",
        "sha256",
        "decision",
        "is_active",
        "activated",
        "load_error",
    )
    readonly_fields = fields

    @admin.display(description="accuracy")
    def accuracy(self, version: LearnedModel) -> Any:
        return version.figures.get("accuracy", "—")

    @admin.display(description="macro-F1")
    def macro_f1(self, version: LearnedModel) -> Any:
        return version.figures.get("macro_f1", "—")

    @admin.display(description="compared with (macro-F1)")
    def compared_with(self, version: LearnedModel) -> str:
        if not version.baseline:
            return "—"
        return f"{version.baseline.get('name')}: {version.baseline.get('macro_f1')}"

    @admin.display(description="error")
    def problem(self, version: LearnedModel) -> str:
        return version.load_error[:120]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LearnedModel | None = None) -> bool:
        return False  # figures are what training measured; activation is an action

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("classification.change_learnedmodel")

    @admin.action(description="Activate the selected version (roll back to it)", permissions=["activate"])
    def activate_version(self, request: HttpRequest, queryset: QuerySet[LearnedModel]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = queryset.get()
        if version.load_error:
            self.message_user(request, f"{version} cannot be loaded: {version.load_error}", messages.ERROR)
            return
        learned_training.activate(version)
        self.log_change(request, version, "Activated")
        self.message_user(request, f"{version} is active: workers use it from their next chunk.")

    @admin.action(description="Deactivate (the keyword rules answer after the LLM)", permissions=["activate"])
    def deactivate_all(self, request: HttpRequest, queryset: QuerySet[LearnedModel]) -> None:
        for version in LearnedModel.objects.filter(is_active=True):
            self.log_change(request, version, "Deactivated")
        learned_training.deactivate()
        self.message_user(request, "No learned model is active.")
