from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from analysis.models import AnalysisRun


class AnalysisRunFactory(factory.django.DjangoModelFactory[AnalysisRun]):
    class Meta:
        model = AnalysisRun

    first_day = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=6))
    last_day = factory.LazyFunction(timezone.localdate)
