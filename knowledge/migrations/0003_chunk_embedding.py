from __future__ import annotations

from typing import Any

from django.db import migrations, models

BATCH = 500


def embed_existing(apps: Any, schema_editor: Any) -> None:
    """Vectors for the chunks written before (none without the embedding wheel: retrieval computes them then)."""
    from knowledge import embedding

    Chunk = apps.get_model("knowledge", "Chunk")
    alias = schema_editor.connection.alias
    pending = Chunk.objects.using(alias).filter(embedding__isnull=True).select_related("article").order_by("pk")
    while batch := list(pending[:BATCH]):
        vectors = embedding.embed([embedding.chunk_text(c.article.title, c.heading, c.text) for c in batch])
        if vectors is None:  # no wheel: retrieval computes them when it needs them
            return
        for chunk, vector in zip(batch, vectors, strict=True):
            chunk.embedding = embedding.to_bytes(vector)
        Chunk.objects.using(alias).bulk_update(batch, ["embedding"])


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0002_chunk_text_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="chunk",
            name="embedding",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(embed_existing, migrations.RunPython.noop),
    ]
