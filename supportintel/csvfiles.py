"""Reading the CSV files people bring (helpdesk exports, labeled evaluation sets)."""

from __future__ import annotations

import csv
from typing import TextIO

# Python's csv refuses fields over 131,072 characters by default; real issue and email bodies run past
# 200,000. Reading them whole lets the caller say what is too long (the API's 20,000-character body
# limit) instead of failing the file with a `_csv.Error` traceback.
FIELD_SIZE_LIMIT = 64 * 1024 * 1024


def dict_reader(handle: TextIO) -> csv.DictReader[str]:
    csv.field_size_limit(FIELD_SIZE_LIMIT)
    return csv.DictReader(handle)
