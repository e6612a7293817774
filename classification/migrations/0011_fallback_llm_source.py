from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("classification", "0010_breaker_windows"),
    ]

    operations = [
        migrations.AlterField(
            model_name="classification",
            name="source",
            field=models.CharField(
                choices=[
                    ("llm", "LLM"),
                    ("llm_backup", "Fallback LLM"),
                    ("learned", "Learned model"),
                    ("keyword", "Keyword rules"),
                    ("human", "Human"),
                ],
                max_length=10,
            ),
        ),
    ]
