from __future__ import annotations

from django.apps import AppConfig


class ResolutionsConfig(AppConfig):
    """Specialists per category and their resolution drafts, accepted, edited or rejected by agents."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "resolutions"

    def ready(self) -> None:
        # The specialists' tokens count against the LLM's daily budget, beside the classifications'.
        from classification import services as classification
        from resolutions import services

        classification.register_llm_spender(services.tokens_spent_since)
