"""SQLite FTS5 for the embedded default: the knowledge base's chunks (heading and text) indexed by the same
external-content table and triggers as the tickets (search.fts5). Nothing here runs on PostgreSQL."""

from __future__ import annotations

from search.fts5 import ExternalContentIndex

CHUNKS = ExternalContentIndex("knowledge_chunk_fts", "knowledge_chunk", ("heading", "text"))
TABLE = CHUNKS.table
create, drop, ensure = CHUNKS.create, CHUNKS.drop, CHUNKS.ensure
