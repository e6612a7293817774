from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from knowledge import services
from knowledge.models import Article

TAGS_MAX = 30


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(tag, str) and 0 < len(tag) <= 50 for tag in value):
        raise serializers.ValidationError("A list of tags, each 1 to 50 characters.")
    if len(value) > TAGS_MAX:
        raise serializers.ValidationError(f"At most {TAGS_MAX} tags.")
    return list(dict.fromkeys(value))


class ArticleSerializer(serializers.ModelSerializer):
    chunk_count = serializers.SerializerMethodField()

    class Meta:
        model = Article
        fields = [
            "id",
            "title",
            "body",
            "category",
            "tags",
            "published",
            "source_url",
            "source_name",
            "source_kind",
            "chunk_count",
            "created",
            "updated",
        ]
        read_only_fields = ["source_name", "source_kind", "created", "updated"]

    def get_chunk_count(self, article: Article) -> int:
        return article.chunks.count()

    def validate_tags(self, value: Any) -> list[str]:
        return _tags(value)

    def create(self, validated_data: dict[str, Any]) -> Article:
        return services.save_article(Article(**validated_data))

    def update(self, instance: Article, validated_data: dict[str, Any]) -> Article:
        for field, value in validated_data.items():
            setattr(instance, field, value)
        return services.save_article(instance)


class ArticleRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Article
        fields = ["id", "title", "category", "source_url", "source_name"]


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=1000)
    k = serializers.IntegerField(min_value=1, max_value=50, required=False)


class HitSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    similarity = serializers.FloatField(
        allow_null=True, help_text="Cosine of question and chunk; compares across searches."
    )
    chunk = serializers.IntegerField(source="chunk.pk")
    position = serializers.IntegerField(source="chunk.position")
    heading = serializers.CharField(source="chunk.heading")
    text = serializers.CharField(source="chunk.text")
    page = serializers.IntegerField(source="chunk.page", allow_null=True)
    article = ArticleRefSerializer(source="chunk.article")


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Markdown, plain text, HTML, PDF or DOCX; 10 MB at most.")
    title = serializers.CharField(max_length=300, required=False, help_text="Instead of the file's own title.")
    category = serializers.SlugField(max_length=50, required=False)
    tags = serializers.CharField(max_length=1000, required=False, help_text="Comma-separated.")
    published = serializers.BooleanField(default=True)
    source_url = serializers.URLField(max_length=500, required=False)

    def validate_file(self, value: Any) -> Any:
        if value.size > settings.KB_MAX_FILE_BYTES:
            raise serializers.ValidationError(f"The file is larger than {settings.KB_MAX_FILE_BYTES // 2**20} MB.")
        return value

    def validate_tags(self, value: str) -> list[str]:
        return _tags([tag.strip() for tag in value.split(",") if tag.strip()])


GAP_DAYS_MAX = 365


class GapQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=GAP_DAYS_MAX, default=30)


class GapTicketSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subject = serializers.CharField()
    similarity = serializers.FloatField()
    article_id = serializers.IntegerField(allow_null=True, help_text="The nearest article, however far.")
    article_title = serializers.CharField()


class CategoryGapsSerializer(serializers.Serializer):
    category = serializers.CharField(help_text="The tickets' category; empty for unclassified tickets.")
    gaps = serializers.IntegerField()
    scored = serializers.IntegerField()
    share = serializers.FloatField()
    tickets = GapTicketSerializer(many=True, help_text="The worst answered, at most 5.")


class GapReportSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    threshold = serializers.FloatField()
    scored = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Tickets of the period not scored yet: ask again.")
    gaps = serializers.IntegerField()
    categories = CategoryGapsSerializer(many=True)
