"""Support Intel settings: the only settings module. Every value comes from an environment variable.

`.env.example` lists every variable read here with its default.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent

# A local `.env` file (`make run` writes one once, with DEBUG=1 and a generated SECRET_KEY) gives every
# command — `manage.py seed`, `changepassword`, the worker — the same settings without prefixes. Variables
# already in the environment win over it. ENV_FILE names another file, or none when set empty (`make test`
# does, so the suite never depends on a developer's file). Without it and without SECRET_KEY, a process
# with DEBUG off refuses to start (below).
ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    load_dotenv(ENV_FILE, override=False)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_prices(name: str, default: str) -> dict[str, tuple[float, float]]:
    """USD per million tokens by model, given as JSON: {"model": [input, output], ...}."""
    raw = os.environ.get(name) or default
    try:
        parsed = json.loads(raw)
        if isinstance(parsed, dict) and all(isinstance(pair, list) and len(pair) == 2 for pair in parsed.values()):
            return {str(model): (float(pair[0]), float(pair[1])) for model, pair in parsed.items()}
    except (ValueError, TypeError):
        pass
    raise ImproperlyConfigured(
        f'{name} must be JSON like {{"model": [input, output]}} (USD per 1M tokens), got {raw!r}'
    )


PRIORITY_NAMES = ("low", "medium", "high", "critical")


def env_floors(name: str, default: list[str]) -> dict[str, str]:
    """`plan:priority` pairs, comma-separated (`enterprise:high,pro:medium`): plan names in lower case."""
    floors = {}
    for pair in env_list(name, default):
        plan, _, floor = pair.partition(":")
        plan, floor = plan.strip().lower(), floor.strip().lower()
        if not plan or floor not in PRIORITY_NAMES:
            raise ImproperlyConfigured(
                f"{name} must be plan:priority pairs (priority one of {PRIORITY_NAMES}), got {pair!r}"
            )
        floors[plan] = floor
    return floors


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-debug-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / ".data")))
# `manage.py seed` keeps the demo password it generates here when DEBUG is on, so that `make run` can
# print the login again once the server answers.
DEMO_PASSWORD_FILE = DATA_DIR / "demo-password"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "tickets",
    "classification",
    "workers",
    "audit",
    "analysis",
    "search",
    "incidents",
    "customers",
    "events",
    "knowledge",
    "resolutions",
]

MIDDLEWARE = [
    "supportintel.middleware.RequestIdMiddleware",
    # Before anything reads the body: a body over MAX_REQUEST_BYTES gets its 413 from the Content-Length.
    "supportintel.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a login refused by the lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "supportintel.urls"
WSGI_APPLICATION = "supportintel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "classification.context_processors.breaker",
                "classification.context_processors.taxonomy",
                "incidents.context_processors.open_incidents",
            ],
        },
    },
]

# Database: PostgreSQL through psycopg 3 when DATABASE_URL is set, SQLite otherwise.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(DATA_DIR / "db.sqlite3")),
            # The web server and the worker write at the same time: WAL lets readers go on,
            # IMMEDIATE transactions wait for the write lock instead of failing at commit.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not memory: end-to-end tests run a worker process against the test database.
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache reusing its client objects (supportintel.cache).
            "BACKEND": "supportintel.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "supportintel",
            # Only the API throttle uses the cache, and it fails open: short timeouts and no retries, so a
            # frozen Redis costs a request a fraction of a second at most (supportintel.throttling).
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2, "retry": Retry(NoBackoff(), 0)},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Login throttle (django-axes), for the dashboard's and the admin's login alike: after
# LOGIN_FAILURE_LIMIT failed logins within LOGIN_COOLOFF_MINUTES, that username (from any address) and
# that address (for any username) are refused, the right password too, until the cool-off has passed
# since the last counted failure. Tries during a lockout are refused without being counted, so the
# cool-off is fixed and the attempt rows stay small. A success does not wipe the count (otherwise an
# attacker with an account of their own could reset their address's count between guesses).
# Only logins through Django's authenticate() are counted: API tokens and sessions are not logins.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend reading a user's permissions in one query instead of two.
    "supportintel.auth.OneQueryModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("LOGIN_COOLOFF_MINUTES", 15.0))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "supportintel.client_ip.client_ip"
AXES_VERBOSE = False  # no banner on every process start; failures are still logged
# Proxies in front of the app that append the client's address to X-Forwarded-For (a TLS proxy: 1).
# 0 trusts no header and uses the connection's address, which a client cannot forge.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT must be at least 1")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tickets:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Uploaded and generated files (the learned classifier's model artifacts), through Django's storage API.
# Every process that classifies reads them: in production a volume shared by web, workers and beat.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files need `collectstatic` first (the Docker image runs it).
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Request bodies: the bulk endpoint takes 1,000 tickets of up to 20,000 characters each.
# A larger body is refused with 413, never truncated.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 25 * 1024 * 1024)

# Security (manage.py check --deploy is clean when DEBUG is off).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes and the Prometheus scrape come over plain http from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# check --deploy warns (security.W021) while preload is off. Preload is the operator's decision for the
# whole registrable domain, not this app's: browsers then refuse plain http on every subdomain, it needs
# a year's max-age and a submission to the preload list, and takes months to undo. So it stays off by
# default and its warning is silenced on purpose; SECURE_HSTS_SECONDS=31536000 SECURE_HSTS_PRELOAD=1 opts in.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's token authentication: the token, its user and their permissions in one statement (supportintel.auth).
        "supportintel.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["supportintel.permissions.ModelPermissions"],
    "DEFAULT_PARSER_CLASSES": [
        "supportintel.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "supportintel.pagination.TicketCursorPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 25),
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "supportintel.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["supportintel.throttling.FailOpenUserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_THROTTLE_USER", "1200/min"),
        # The synchronous workflow endpoints (/api/v1/workflow/…): each may hold an LLM call, so their own
        # budget per user, apart from ticket creation's.
        "workflow": env_str("API_THROTTLE_WORKFLOW", "120/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Support Intel API",
    "DESCRIPTION": "Tickets in, enriched in the background: category, priority, sentiment, risk and more.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "supportintel.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PriorityEnum": "tickets.models.Priority",
        "SentimentEnum": "tickets.models.Sentiment",
        "SourceEnum": "tickets.models.Source",
        "WorkStateEnum": "tickets.models.WorkState",
        "ReplyToneEnum": "classification.models.ReplyTone",
        "StateFilterEnum": "tickets.filters.STATE_CHOICES",
        "BreakerStateEnum": "classification.api.serializers.BREAKER_STATES",
        "TripReasonEnum": "classification.models.TripReason",
        "StatusEnum": "tickets.models.Status",
        "AnalysisRunStatusEnum": "analysis.models.RunStatus",
        "AnalysisRunTriggerEnum": "analysis.models.Trigger",
        "IncidentStatusEnum": "incidents.models.IncidentStatus",
        "DeliveryStatusEnum": "events.models.DeliveryStatus",
        "EventTypeEnum": "events.models.EventType",
    },
}

# Celery. The embedded default uses `atomicfs://`: kombu's filesystem transport with atomic file hand-offs
# (supportintel/embedded_broker.py), a real broker with no server that is safe across processes.
# kombu's own `filesystem://` is not (a consumer can read a message while it is being written).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "atomicfs://")
CELERY_BROKER_DIR = Path(env_str("CELERY_BROKER_DIR", str(DATA_DIR / "broker")))
if CELERY_BROKER_URL.startswith(("atomicfs://", "filesystem://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        # Each worker process takes one message per poll (late acks, prefetch 1): poll often.
        "polling_interval": 0.1,
    }
else:
    # Without socket timeouts a publish to a hung Redis blocks the request for minutes.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 1800,
        "socket_connect_timeout": 3,
        "socket_timeout": 5,
        "retry_on_timeout": True,
        "health_check_interval": 25,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
# A lost worker's task comes back through the stale-claim sweep, not a redelivery loop.
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 90)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 120)
# Every broker call from a request, a sweep or a probe (supportintel.publishing) waits at most this long,
# whatever state the broker is in; after a failure, calls do not wait on it for BROKER_RETRY_AFTER_SECONDS.
BROKER_CALL_TIMEOUT_SECONDS = env_float("BROKER_CALL_TIMEOUT_SECONDS", 1.0)
BROKER_RETRY_AFTER_SECONDS = env_float("BROKER_RETRY_AFTER_SECONDS", 5.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 10
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through LOGGING above (one format for web and workers, with the request and task context),
# not through Celery's own root-logger setup.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "classification.classify_tickets": {"queue": "classification"},
    "classification.classify_ticket": {"queue": "classification"},
    # Similar tickets, duplicates and incidents (issue 16): a queue of their own, so the classification drain
    # never waits on them (docs/SIMILARITY.md); the compose file's `similarity` worker consumes it.
    "incidents.process_classified": {"queue": "similarity"},
    "resolutions.draft_resolutions": {"queue": "classification"},
    # Webhook deliveries wait on other systems: their own queue and workers, never the classification ones.
    "events.deliver": {"queue": "events"},
    # Analysis runs (plan, map, reduce, sweep, the weekly run): CPU-bound and long (a reduce clusters for
    # minutes), on their own queue and workers so a run never holds up classification (docs/ANALYSIS.md).
    "analysis.*": {"queue": "analysis"},
}
# Celery's Django fixup closes the database connection before and after every task unless this is set,
# so each ticket paid for a new PostgreSQL connection (a server process forked, the session set up). The
# worker keeps its connections instead, as the web process does: supportintel.celery_app closes them
# around each task only when broken or older than DB_CONN_MAX_AGE (and the fixup every 1,000 tasks).
CELERY_DB_REUSE_MAX = 1000
# How often beat relays the outbox to webhook deliveries (events.tasks.relay_events_task): the floor of their lag.
EVENTS_RELAY_INTERVAL_SECONDS = env_float("EVENTS_RELAY_INTERVAL_SECONDS", 2.0)
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-tickets": {
        "task": "classification.sweep_stuck_tickets",
        "schedule": env_int("SWEEP_INTERVAL_SECONDS", 30),
    },
    "recover-llm-outage-tickets": {
        "task": "classification.recover_outage_tickets",
        "schedule": env_int("LLM_RECOVERY_INTERVAL_SECONDS", 120),
    },
    "relay-events": {"task": "events.relay", "schedule": EVENTS_RELAY_INTERVAL_SECONDS},
    "prune-events": {"task": "events.prune", "schedule": 3600},
    "retrain-learned-classifier": {
        "task": "classification.retrain_learned",
        "schedule": env_int("LEARNED_RETRAIN_CHECK_SECONDS", 300),
    },
    "sweep-analysis-runs": {
        "task": "analysis.sweep_runs",
        "schedule": env_int("ANALYSIS_SWEEP_SECONDS", 60),
    },
}
# The weekly analysis run (the seven days before it): on ANALYSIS_WEEKLY_DAY (0 = Sunday … 6 = Saturday,
# cron's numbering) at ANALYSIS_WEEKLY_HOUR, server time. ANALYSIS_WEEKLY=0 switches it off.
if env_bool("ANALYSIS_WEEKLY", True):
    CELERY_BEAT_SCHEDULE["weekly-analysis"] = {
        "task": "analysis.weekly_run",
        "schedule": crontab(
            minute=0, hour=env_int("ANALYSIS_WEEKLY_HOUR", 6), day_of_week=env_int("ANALYSIS_WEEKLY_DAY", 1)
        ),
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# Analysis runs (analysis/): tickets per map chunk (memory per chunk task is bounded by it), the texts
# the themes are found in (a run over more tickets clusters an even sample of this many, and half as many
# from the previous period), the longest period, the reduce's time limit, and when the sweep publishes
# again a chunk or a reduce whose message or worker was lost.
ANALYSIS_CHUNK_SIZE = env_int("ANALYSIS_CHUNK_SIZE", 1000)
ANALYSIS_THEME_SAMPLE = env_int("ANALYSIS_THEME_SAMPLE", 20_000)
ANALYSIS_MAX_DAYS = env_int("ANALYSIS_MAX_DAYS", 366)
ANALYSIS_REDUCE_SOFT_TIME_LIMIT = env_int("ANALYSIS_REDUCE_SOFT_TIME_LIMIT", 900)
ANALYSIS_CHUNK_STALE_SECONDS = env_int("ANALYSIS_CHUNK_STALE_SECONDS", 300)
ANALYSIS_REDUCE_STALE_SECONDS = env_int("ANALYSIS_REDUCE_STALE_SECONDS", 1200)
if not 10 <= ANALYSIS_CHUNK_SIZE <= 50_000:
    raise ImproperlyConfigured("ANALYSIS_CHUNK_SIZE must be between 10 and 50000")

# Pipeline.
# Tickets per classification message: a chunk is claimed in one UPDATE and written in one transaction.
CLASSIFY_CHUNK_SIZE = env_int("CLASSIFY_CHUNK_SIZE", 100)
if not 1 <= CLASSIFY_CHUNK_SIZE <= 1000:
    raise ImproperlyConfigured("CLASSIFY_CHUNK_SIZE must be between 1 and 1000")
# A ticket still queued after this long was probably never published (broker down): the sweep re-enqueues it.
QUEUED_STALE_SECONDS = env_int("QUEUED_STALE_SECONDS", 300)
# Database errors while classifying are retried, at most CLASSIFY_RETRY_MAX_DELAY_SECONDS apart, this many
# times (about five minutes of outage with the defaults) before the ticket is marked failed.
CLASSIFY_MAX_RETRIES = env_int("CLASSIFY_MAX_RETRIES", 32)
CLASSIFY_RETRY_MAX_DELAY_SECONDS = env_float("CLASSIFY_RETRY_MAX_DELAY_SECONDS", 10.0)
# /metrics answers a staff session, or `Authorization: Bearer <METRICS_TOKEN>` when a token is set
# (Prometheus' `authorization: {credentials: …}`). METRICS_PUBLIC=1 opens it to anyone: the operator's
# explicit choice (a scrape network no one else reaches). It is open by default only with DEBUG on, the
# embedded default `make run` serves on loopback, where it holds counts, never ticket text.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_PUBLIC = env_bool("METRICS_PUBLIC", DEBUG and not METRICS_TOKEN)
if METRICS_PUBLIC and METRICS_TOKEN:
    raise ImproperlyConfigured("Set METRICS_TOKEN or METRICS_PUBLIC=1, not both: a public /metrics needs no token")
# Each worker writes a heartbeat this often; one not seen for three intervals counts as gone.
WORKER_HEARTBEAT_SECONDS = env_float("WORKER_HEARTBEAT_SECONDS", 10.0)
ESCALATION_TEAM = env_str("ESCALATION_TEAM", "escalation")
# The needs-review view lists automatic classifications below this confidence (and all keyword ones).
REVIEW_CONFIDENCE_BELOW = env_float("REVIEW_CONFIDENCE_BELOW", 0.6)
# Switches for the deployment (cost, policy): without them no reply is drafted, or no entity extracted, for
# any ticket; a request can switch either off for itself, never back on.
REPLY_GENERATION = env_bool("REPLY_GENERATION", True)
ENTITY_EXTRACTION = env_bool("ENTITY_EXTRACTION", True)
# The synchronous workflow endpoints answer within this bound: past it the keyword rules answer, reason `timeout`.
WORKFLOW_TIMEOUT_SECONDS = env_float("WORKFLOW_TIMEOUT_SECONDS", 10.0)
if not 0 < WORKFLOW_TIMEOUT_SECONDS <= 120:
    raise ImproperlyConfigured("WORKFLOW_TIMEOUT_SECONDS must be above 0 and at most 120")
# The learned classifier (classification/learned). It answers after the LLM and before the keyword rules, for
# the categories where its confidence clears the threshold set when it was trained.
LEARNED_CLASSIFIER_ENABLED = env_bool("LEARNED_CLASSIFIER_ENABLED", True)
# The beat task trains a new version once this many human classifications (corrections, confirmations,
# labeled imports) arrived since the last one.
LEARNED_RETRAIN_AFTER = env_int("LEARNED_RETRAIN_AFTER", 200)
# No version is trained from fewer labels than this.
LEARNED_MIN_LABELS = env_int("LEARNED_MIN_LABELS", 100)
# Training reads at most this many labels, the newest.
LEARNED_MAX_LABELS = env_int("LEARNED_MAX_LABELS", 100_000)
# The newest share of the labels is held back to measure a version and compare it with the active one.
LEARNED_HOLDOUT_FRACTION = env_float("LEARNED_HOLDOUT_FRACTION", 0.2)
# Per category, the model answers only above the confidence at which its answers for that category were
# at least this precise on the held-back tickets (and never below LEARNED_MIN_CONFIDENCE).
LEARNED_TARGET_PRECISION = env_float("LEARNED_TARGET_PRECISION", 0.9)
LEARNED_MIN_CONFIDENCE = env_float("LEARNED_MIN_CONFIDENCE", 0.5)
# The dashboard's CSV export streams at most this many tickets; a filter matching more is refused.
EXPORT_MAX_ROWS = env_int("EXPORT_MAX_ROWS", 50_000)

# Similar tickets, duplicates and incidents (issue 16): worked out by the worker after classification.
SIMILARITY_ENABLED = env_bool("SIMILARITY_ENABLED", True)
# Similarity yields to classification (incidents/gate.py): while more than SIMILARITY_YIELD_BACKLOG tickets are
# queued or being classified (a burst, an import), each worker that consumes the similarity queue stops
# consuming it (looking every SIMILARITY_YIELD_STEP_SECONDS), for at most SIMILARITY_YIELD_MAX_SECONDS at a
# time; the messages wait in the broker. On shared cores the drain keeps its pace (docs/SIMILARITY.md); 0: off.
SIMILARITY_YIELD_BACKLOG = env_int("SIMILARITY_YIELD_BACKLOG", 200)
SIMILARITY_YIELD_STEP_SECONDS = env_float("SIMILARITY_YIELD_STEP_SECONDS", 0.25)
SIMILARITY_YIELD_MAX_SECONDS = env_float("SIMILARITY_YIELD_MAX_SECONDS", 60.0)
# The knowledge base (knowledge/): chunks returned per search, and the largest file an upload or import takes.
KB_TOP_K = env_int("KB_TOP_K", 5)
KB_MAX_FILE_BYTES = env_int("KB_MAX_FILE_BYTES", 10 * 1024 * 1024)
# Specialist resolution drafts (resolutions/): drafted by the worker after classification; off: none made.
RESOLUTION_ENABLED = env_bool("RESOLUTION_ENABLED", True)
# Knowledge-base retrieval (issue 17): the weight of meaning (word vectors) against full text when re-ranking
# candidates, 0 to 1 (0: full text alone; README gives the recall of each), and the cosine below which a
# ticket's best article counts as a content gap.
KB_SEMANTIC_WEIGHT = env_float("KB_SEMANTIC_WEIGHT", 0.9)
# Chunks nearest by meaning alone added to the full-text candidates (0: none; README gives the figures).
KB_VECTOR_CANDIDATES = env_int("KB_VECTOR_CANDIDATES", 0)
KB_GAP_SIMILARITY = env_float("KB_GAP_SIMILARITY", 0.25)
# The content-gap report scores at most this many unscored (or stale) tickets per request; the rest wait for
# the next request or `manage.py kb_gaps`.
KB_GAP_SCORE_BATCH = env_int("KB_GAP_SCORE_BATCH", 200)
# Similar tickets kept per ticket, and the text-search candidates re-ranked to find them.
SIMILAR_TICKETS_STORED = env_int("SIMILAR_TICKETS_STORED", 10)
SIMILAR_CANDIDATES = env_int("SIMILAR_CANDIDATES", 50)
# Likely duplicate: an earlier ticket from the same customer within this window and at least this similar,
# or any earlier ticket at least DUPLICATE_SIMILARITY similar. (Similarity: incidents/similarity.py's fused score;
# these thresholds are where it is at least as precise on BANKING77 as the character cosine was at 0.3 / 0.9 / 0.5.)
DUPLICATE_WINDOW_HOURS = env_int("DUPLICATE_WINDOW_HOURS", 72)
DUPLICATE_SAME_CUSTOMER_SIMILARITY = env_float("DUPLICATE_SAME_CUSTOMER_SIMILARITY", 0.5)
DUPLICATE_SIMILARITY = env_float("DUPLICATE_SIMILARITY", 0.95)
# An incident opens when at least INCIDENT_MIN_TICKETS tickets this similar (INCIDENT_SIMILARITY) from at least
# INCIDENT_MIN_CUSTOMERS customers arrive within INCIDENT_WINDOW_MINUTES; tickets in it get this priority at least.
INCIDENT_MIN_TICKETS = env_int("INCIDENT_MIN_TICKETS", 5)
INCIDENT_MIN_CUSTOMERS = env_int("INCIDENT_MIN_CUSTOMERS", 3)
INCIDENT_WINDOW_MINUTES = env_int("INCIDENT_WINDOW_MINUTES", 30)
INCIDENT_SIMILARITY = env_float("INCIDENT_SIMILARITY", 0.6)
INCIDENT_PRIORITY_FLOOR = env_str("INCIDENT_PRIORITY_FLOOR", "high")
if INCIDENT_PRIORITY_FLOOR not in ("critical", "high", "medium", "low", ""):
    raise ImproperlyConfigured("INCIDENT_PRIORITY_FLOOR must be critical, high, medium, low or empty (none)")
# Customer rules (customers/rules.py; shown to admins on the customers page). A VIP's ticket, and a ticket from
# a customer on a listed plan ("plan:priority,…"), is at least that priority; a customer's Nth ticket on the
# same category within 30 days raises its risk by the boost. Empty floors or 0 turn a rule off.
CUSTOMER_VIP_PRIORITY_FLOOR = env_str("CUSTOMER_VIP_PRIORITY_FLOOR", "high")
if CUSTOMER_VIP_PRIORITY_FLOOR not in ("", *PRIORITY_NAMES):
    raise ImproperlyConfigured(f"CUSTOMER_VIP_PRIORITY_FLOOR must be one of {', '.join(PRIORITY_NAMES)} or empty")
CUSTOMER_PLAN_PRIORITY_FLOORS = env_floors("CUSTOMER_PLAN_PRIORITY_FLOORS", ["enterprise:high"])
CUSTOMER_REPEAT_CONTACTS = env_int("CUSTOMER_REPEAT_CONTACTS", 3)
CUSTOMER_REPEAT_RISK_BOOST = env_float("CUSTOMER_REPEAT_RISK_BOOST", 0.2)
# The LLM's prompt carries a short customer context (plan, VIP, counts, recent categories and sentiments).
CUSTOMER_CONTEXT_IN_PROMPT = env_bool("CUSTOMER_CONTEXT_IN_PROMPT", True)

# Events out (events/): signed webhooks from the outbox. Each attempt waits this long at most for a receiver.
EVENTS_DELIVERY_TIMEOUT_SECONDS = env_float("EVENTS_DELIVERY_TIMEOUT_SECONDS", 5.0)
# Retries: the wait doubles from the base up to the cap; a delivery is given up this long after its event.
EVENTS_RETRY_BASE_SECONDS = env_float("EVENTS_RETRY_BASE_SECONDS", 10.0)
EVENTS_RETRY_MAX_DELAY_SECONDS = env_float("EVENTS_RETRY_MAX_DELAY_SECONDS", 3600.0)
EVENTS_RETRY_FOR_SECONDS = env_int("EVENTS_RETRY_FOR_SECONDS", 86400)
# A delivery claimed (or published) longer ago than this belonged to a worker (or message) that was lost:
# the relay publishes it again. Must exceed the delivery timeout.
EVENTS_CLAIM_STALE_SECONDS = env_int("EVENTS_CLAIM_STALE_SECONDS", 60)
if EVENTS_CLAIM_STALE_SECONDS <= EVENTS_DELIVERY_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("EVENTS_CLAIM_STALE_SECONDS must exceed EVENTS_DELIVERY_TIMEOUT_SECONDS")
# A subscription is disabled after this many failed attempts in a row, failing for at least this long.
EVENTS_DISABLE_AFTER_FAILURES = env_int("EVENTS_DISABLE_AFTER_FAILURES", 20)
EVENTS_DISABLE_AFTER_SECONDS = env_int("EVENTS_DISABLE_AFTER_SECONDS", 43200)
# Outbox rows and their delivery logs are kept this long.
EVENTS_RETENTION_DAYS = env_int("EVENTS_RETENTION_DAYS", 14)

# LLM (the official openai client; OpenAI or any OpenAI-compatible server). Configured when either the
# key or the base URL is set; otherwise the keyword classifier answers with reason `not_configured`.
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
LLM_MODEL = env_str("LLM_MODEL", "gpt-4o-mini")
# Below the Celery soft time limit, so a hung LLM never costs the task itself.
LLM_TIMEOUT_SECONDS = env_float("LLM_TIMEOUT_SECONDS", 30.0)
# A task starts no LLM call later than the call could take before the soft time limit (which a threads pool
# does not enforce: the task keeps that deadline itself, classification.tasks), so the limit must leave room.
if LLM_TIMEOUT_SECONDS + 5 >= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("LLM_TIMEOUT_SECONDS must be at least 5 s below CELERY_TASK_SOFT_TIME_LIMIT")
LLM_RESPONSE_FORMAT = env_str("LLM_RESPONSE_FORMAT", "json_schema")  # json_schema | json_object
LLM_MASK_PII = env_bool("LLM_MASK_PII", True)
LLM_MAX_PROMPT_CHARS = env_int("LLM_MAX_PROMPT_CHARS", 6000)
LLM_DAILY_TOKEN_BUDGET = env_int("LLM_DAILY_TOKEN_BUDGET", 0)  # 0: no budget
# USD per million tokens, {"model": [input, output]}; models not listed get no cost estimate.
LLM_PRICES = env_prices("LLM_PRICES", '{"gpt-4o-mini": [0.15, 0.6], "gpt-4.1-mini": [0.4, 1.6], "gpt-4o": [2.5, 10]}')
# LLM calls in flight at most per worker process: a chunk's calls run together on this many threads,
# shared by every task the process runs (classification.services).
LLM_CONCURRENCY = env_int("LLM_CONCURRENCY", 64)
if not 1 <= LLM_CONCURRENCY <= 1000:
    raise ImproperlyConfigured("LLM_CONCURRENCY must be between 1 and 1000")
LLM_BREAKER_FAIL_MAX = env_int("LLM_BREAKER_FAIL_MAX", 5)
LLM_BREAKER_RESET_SECONDS = env_float("LLM_BREAKER_RESET_SECONDS", 60.0)
# The breaker also trips on rates over a sliding window of the last LLM_BREAKER_WINDOW_SECONDS (resilience4j's
# time-based window): the share of calls that failed, or that took longer than LLM_BREAKER_SLOW_CALL_SECONDS
# (even when they succeeded), over its threshold in percent (0: that condition is off), once the window
# holds LLM_BREAKER_MIN_CALLS calls.
LLM_BREAKER_WINDOW_SECONDS = env_int("LLM_BREAKER_WINDOW_SECONDS", 60)
LLM_BREAKER_MIN_CALLS = env_int("LLM_BREAKER_MIN_CALLS", 20)
LLM_BREAKER_FAILURE_RATE = env_float("LLM_BREAKER_FAILURE_RATE", 10.0)
LLM_BREAKER_SLOW_CALL_SECONDS = env_float("LLM_BREAKER_SLOW_CALL_SECONDS", 5.0)
LLM_BREAKER_SLOW_CALL_RATE = env_float("LLM_BREAKER_SLOW_CALL_RATE", 50.0)
if not 1 <= LLM_BREAKER_WINDOW_SECONDS <= 3600:
    raise ImproperlyConfigured("LLM_BREAKER_WINDOW_SECONDS must be between 1 and 3600")
if LLM_BREAKER_MIN_CALLS < 1:
    raise ImproperlyConfigured("LLM_BREAKER_MIN_CALLS must be at least 1")
if not (0 <= LLM_BREAKER_FAILURE_RATE < 100 and 0 <= LLM_BREAKER_SLOW_CALL_RATE < 100):
    raise ImproperlyConfigured("LLM_BREAKER_FAILURE_RATE and LLM_BREAKER_SLOW_CALL_RATE are percentages: 0 (off) to 99")
if LLM_BREAKER_SLOW_CALL_SECONDS <= 0:
    raise ImproperlyConfigured("LLM_BREAKER_SLOW_CALL_SECONDS must be above 0")
# A second model tried before the keyword classifier when the first cannot answer (down, slow, its breaker
# open, over budget, an answer off the schema), behind its own breaker (same thresholds, own state) and with
# its own daily budget. Empty base URL, key or timeout (0): the first model's.
LLM_FALLBACK_MODEL = env_str("LLM_FALLBACK_MODEL")
LLM_FALLBACK_BASE_URL = env_str("LLM_FALLBACK_BASE_URL")
LLM_FALLBACK_API_KEY = env_str("LLM_FALLBACK_API_KEY")
LLM_FALLBACK_TIMEOUT_SECONDS = env_float("LLM_FALLBACK_TIMEOUT_SECONDS", 0.0)
# A ticket may wait on both models in turn: both calls together must end before the soft time limit.
if LLM_FALLBACK_MODEL and (
    LLM_TIMEOUT_SECONDS + (LLM_FALLBACK_TIMEOUT_SECONDS or LLM_TIMEOUT_SECONDS) + 5 >= CELERY_TASK_SOFT_TIME_LIMIT
):
    raise ImproperlyConfigured(
        "LLM_TIMEOUT_SECONDS and LLM_FALLBACK_TIMEOUT_SECONDS together must be at least 5 s below "
        "CELERY_TASK_SOFT_TIME_LIMIT"
    )
LLM_FALLBACK_DAILY_TOKEN_BUDGET = env_int("LLM_FALLBACK_DAILY_TOKEN_BUDGET", 0)  # 0: no budget
# Where every process shares the breaker's state: Redis when REDIS_URL is set, else the database.
LLM_BREAKER_STORAGE = env_str("LLM_BREAKER_STORAGE") or ("redis" if REDIS_URL else "database")
if LLM_BREAKER_STORAGE not in ("redis", "database"):
    raise ImproperlyConfigured("LLM_BREAKER_STORAGE must be redis or database")
if LLM_BREAKER_STORAGE == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("LLM_BREAKER_STORAGE=redis needs REDIS_URL")
LLM_RECOVERY_BATCH_SIZE = env_int("LLM_RECOVERY_BATCH_SIZE", 50)
if LLM_RESPONSE_FORMAT not in ("json_schema", "json_object"):
    raise ImproperlyConfigured("LLM_RESPONSE_FORMAT must be json_schema or json_object")

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# plain: one readable line per record; json: one JSON object per line (for a log pipeline). Either way each
# record carries the request id, ticket id, Celery task id and user it belongs to (supportintel.logcontext).
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "supportintel.logcontext.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(processName)s %(name)s %(message)s%(context)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(processName)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "processName": "process"},
            "static_fields": {"service": "supportintel"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One INFO line per HTTP request to the LLM is noise; our own log says what happened.
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
    },
}
