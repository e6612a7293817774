FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements/ requirements/
RUN pip install -r requirements/production.txt

COPY . .
# collectstatic needs a key to import settings; it is not used for anything else at build time.
RUN SECRET_KEY=build-only DATA_DIR=/tmp python manage.py collectstatic --noinput

RUN useradd --create-home app && mkdir -p /app/.data/media && chown -R app /app/.data
USER app
EXPOSE 8000
CMD ["gunicorn", "supportintel.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
