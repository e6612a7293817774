from __future__ import annotations

from django.db import models


class SourceKind(models.TextChoices):
    MANUAL = "manual", "Written here"
    MARKDOWN = "markdown", "Markdown"
    TEXT = "text", "Plain text"
    HTML = "html", "HTML"
    PDF = "pdf", "PDF"
    DOCX = "docx", "DOCX"


class Article(models.Model):
    """A knowledge-base article. `body` is Markdown (files in other formats are converted on import; a PDF's
    pages are separated by form feeds so its chunks keep their page numbers). Its chunks are derived from it:
    `knowledge.services.save_article` re-chunks on every save."""

    title = models.CharField(max_length=300)
    body = models.TextField()
    category = models.SlugField(max_length=50, blank=True, help_text="A category slug, optional.")
    tags = models.JSONField(default=list, blank=True)
    published = models.BooleanField(default=True)
    source_url = models.URLField(max_length=500, blank=True)
    source_name = models.CharField(max_length=255, blank=True, help_text="The imported file's name.")
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices, default=SourceKind.MANUAL)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    """A retrievable passage of an article: the text under one heading, split further by length."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    heading = models.CharField(max_length=300, blank=True)
    text = models.TextField()
    page = models.PositiveIntegerField(null=True, blank=True, help_text="1-based page of a PDF.")
    # The chunk's vector for the semantic re-ranking (knowledge.embedding: float16 bytes), written with it;
    # null without the embedding wheel, and then computed when read.
    embedding = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["article_id", "position"]
        constraints = [models.UniqueConstraint(fields=["article", "position"], name="knowledge_chunk_position")]

    def __str__(self) -> str:
        return f"{self.article_id}#{self.position}"


class TicketMatch(models.Model):
    """How well the knowledge base answers a ticket: the best chunk retrieval found for its subject and body,
    and that chunk's similarity (0 when nothing matched). Written by knowledge.gaps (when it scores a period's
    tickets for the content-gap report);
    stale once an article is written after `computed`."""

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, primary_key=True, related_name="kb_match")
    similarity = models.FloatField()
    article = models.ForeignKey(Article, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    computed = models.DateTimeField()

    class Meta:
        indexes = [
            # The gap report: a period's tickets whose best match is below the threshold.
            models.Index(fields=["similarity"], name="knowledge_match_similarity"),
        ]

    def __str__(self) -> str:
        return f"ticket {self.ticket_id}: {self.similarity:.2f}"
