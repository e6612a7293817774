# Two commands do all the set-up: `make run` and `make test`. Both need only Python 3.11+.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# `make run`: where the web server listens (HOST, PORT), LLM=fake to start the fake LLM server too, and
# its port (FAKE_LLM_PORT), e.g. `make run PORT=8080 LLM=fake`.
HOST ?= 127.0.0.1
PORT ?= 8000
LLM ?=
FAKE_LLM_PORT ?= 8100
# `make bench-soak`: how long (minutes) and how many tickets per second.
SOAK_MINUTES ?= 30
SOAK_RATE ?= 2


.PHONY: run test lint format screenshots bench bench-webhooks bench-kb bench-grounding bench-similarity bench-learned bench-analysis bench-scale bench-soak bench-faults prod-smoke clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.base-installed: requirements/base.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/base.txt requirements/dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $@ $(VENV)/.base-installed

# The embedded default's settings, written once and never committed: settings.py reads this file, so
# every `.venv/bin/python manage.py …` command works without prefixes. Real environment variables win.
.env:
	@$(PYTHON) -c 'import secrets; print("# Written once by `make run` for the embedded default; not committed.\n# settings.py reads it (real environment variables win). Production: see .env.example.\nDEBUG=1\nSECRET_KEY=" + secrets.token_urlsafe(50))' > $@
	@echo "Wrote .env (DEBUG=1 and a generated SECRET_KEY) for manage.py commands."

# The embedded default: SQLite, the embedded broker (atomicfs), a real worker (with beat) and the web server,
# restarted if one of them dies. Ctrl-C stops them all.
run: export DEBUG ?= 1
run: $(VENV)/.base-installed | .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed --if-empty --count 60
	$(PY) -m supportintel.run_local --host $(HOST) --port $(PORT) --llm "$(LLM)" --fake-llm-port $(FAKE_LLM_PORT)

# Installs the development requirements and runs the whole suite. With DATABASE_URL and REDIS_URL
# set it runs on PostgreSQL and Redis; otherwise on SQLite and the embedded broker.
test screenshots: export ENV_FILE =
test screenshots: export SECRET_KEY ?= insecure-test-only-key
test screenshots: export DATA_DIR ?= $(CURDIR)/.data/test
# Production settings, except what needs TLS or collectstatic: the test servers speak plain http.
test screenshots: export SECURE_SSL_REDIRECT ?= 0
test screenshots: export SESSION_COOKIE_SECURE ?= 0
test screenshots: export CSRF_COOKIE_SECURE ?= 0
test screenshots: export STATIC_MANIFEST ?= 0
# `make lint` first, then pytest; SKIP_LINT=1: pytest alone (.ci/run lints once, then runs two suites side by
# side: two mypy runs would share one cache).
test: $(VENV)/.dev-installed $(if $(SKIP_LINT),,lint)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Screenshots of every dashboard page at 1440x900 and 390x844, from the browser tests' demo data (headless
# Chromium, which `.ci/run` installs), into docs/screens/; the same settings as `make test`.
screenshots: $(VENV)/.dev-installed
	rm -rf artifacts/screens
	$(VENV)/bin/pytest -q tickets/tests/test_dashboard_pages.py
	mkdir -p docs/screens
	cp artifacts/screens/*-desktop.png artifacts/screens/*-phone.png docs/screens/

lint: export ENV_FILE =
lint: export SECRET_KEY ?= insecure-lint-only-key
lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Every benchmark: production settings but TLS and the static manifest, on a data folder of its own. BENCH_ENV
# runs a command on BENCH_DB and BENCH_REDIS when given, otherwise on the embedded default (no database, Redis or
# broker URL from the environment; every `-u` comes before any NAME=value, where env stops reading options).
BENCH_TARGETS := bench bench-webhooks bench-grounding bench-similarity bench-kb bench-learned bench-scale bench-analysis
$(BENCH_TARGETS): export ENV_FILE =
$(BENCH_TARGETS): export SECRET_KEY ?= insecure-bench-only-key
$(BENCH_TARGETS): export DATA_DIR ?= $(CURDIR)/.data/bench
$(BENCH_TARGETS): export SECURE_SSL_REDIRECT ?= 0
$(BENCH_TARGETS): export STATIC_MANIFEST ?= 0
BENCH_ENV = env -u CELERY_BROKER_URL $(if $(BENCH_DB),,-u DATABASE_URL) $(if $(BENCH_REDIS),,-u REDIS_URL) \
	$(if $(BENCH_DB),DATABASE_URL=$(BENCH_DB)) $(if $(BENCH_REDIS),REDIS_URL=$(BENCH_REDIS))

bench: $(VENV)/.dev-installed
	$(PY) -m bench

# Events out: 1,000 classified tickets' events delivered by a real worker to a real local receiver; throughput and
# lag in bench/results/webhooks-<database>.json. Embedded default, or BENCH_DB=postgresql://… BENCH_REDIS=redis://….
bench-webhooks: export SQLITE_PATH ?= $(CURDIR)/.data/bench/webhooks.sqlite3
bench-webhooks: $(VENV)/.dev-installed
	$(BENCH_ENV) $(PY) -m bench.webhooks

# Grounded replies' cost: chunks of demo tickets classified by the keyword chain with KB_TOP_K=5 and 0 side by
# side, and the retrieval alone: bench/results/grounding-<database>.json. Embedded default, or BENCH_DB=postgresql://….
bench-grounding: export SQLITE_PATH ?= $(CURDIR)/.data/bench/grounding.sqlite3
bench-grounding: $(VENV)/.dev-installed
	$(BENCH_ENV) $(PY) -m bench.grounding

# The classification drain with similar tickets off and on, side by side (issue 16): real workers (classification,
# and similarity on its own queue), realistic text over a background of classified tickets; the ratio and the
# similarity queue's own rate in bench/results/similarity-<database>.json. Embedded default, or
# BENCH_DB=postgresql://… BENCH_REDIS=redis://… (a database of its own: the bench deletes the tickets it adds).
bench-similarity: export SQLITE_PATH ?= $(CURDIR)/.data/bench/similarity.sqlite3
bench-similarity: $(VENV)/.dev-installed
	$(BENCH_ENV) $(PY) -m bench.similarity $(BENCH_SIMILARITY_ARGS)

# Knowledge-base search at 10,000 generated articles (p50/p95 of retrieval.search and the API, recall of the
# labeled set among them): bench/results/kb-<database>.json. Embedded default, or BENCH_DB=postgresql://….
bench-kb: export SQLITE_PATH = $(CURDIR)/.data/bench/kb.sqlite3
bench-kb: $(VENV)/.dev-installed
	$(BENCH_ENV) $(PY) -m bench.kb

# The learned classifier alone (training, accuracy on BANKING77, prediction time): bench/results/learned.json.
bench-learned: $(VENV)/.dev-installed
	$(PY) -m bench.learned

# Dashboard and API latency at a million tickets, on a SQLite file of its own (filled once, a few
# minutes), or on a dedicated PostgreSQL database: make bench-scale BENCH_DB=postgresql://…/supportintel_bench
# (filled by COPY with the indexes built once at the end: about 6 minutes for a million). BENCH_SCALE_ROWS=N for
# another size; BENCH_SCALE_SIMILAR_ONLY=1 for the similar-ticket lookups alone.
bench-scale: export SQLITE_PATH = $(CURDIR)/.data/bench/scale.sqlite3
bench-scale: $(VENV)/.dev-installed
	$(BENCH_ENV) $(PY) -m bench.scale

# Analysis runs: themes on BANKING77 (purity, coverage) and runs of 10,000 and 100,000 tickets on a real
# worker (-Q analysis, prefork, 2 processes), on a SQLite file of its own and the embedded broker, or on a
# dedicated PostgreSQL database (its tickets are emptied) and Redis: make bench-analysis
# BENCH_DB=postgresql://…/supportintel_bench BENCH_REDIS=redis://…/N. BENCH_ANALYSIS_SIZES=10000 (or empty:
# themes only). Figures in bench/results/analysis[-postgresql].json (docs/ANALYSIS.md).
bench-analysis: export DATA_DIR = $(CURDIR)/.data/bench-analysis
bench-analysis: export SQLITE_PATH = $(CURDIR)/.data/bench-analysis/analysis.sqlite3
bench-analysis: $(VENV)/.dev-installed
	mkdir -p $(DATA_DIR)
	$(BENCH_ENV) $(PY) -m bench.analysis

# Faults injected into the production stack (gunicorn, prefork worker, beat) on private PostgreSQL and Redis
# servers: frozen and killed Redis, a database outage, killed workers. Figures in bench/results/faults.json.
bench-faults: export SECRET_KEY ?= insecure-bench-only-key
bench-faults: export DATA_DIR ?= $(CURDIR)/.data/bench
bench-faults: $(VENV)/.dev-installed
	$(PY) -m bench.faults $(SCENARIOS)

# The pipeline's throughput and latency on the production stack (gunicorn, worker, beat) on private PostgreSQL
# and Redis servers: keyword and LLM drains, ingestion beside a bare DRF endpoint, POST to classified.
# OLD=path/to/a/checkout measures that code side by side (git worktree add ../old <commit>); PORT_BASE picks
# the ports (PORT_BASE … PORT_BASE+11); ONLY="keyword ingest" a subset; ROUNDS=2. Results in
# bench/results/pipeline.json; docs/BENCHMARKS.md quotes them.
PORT_BASE ?= 8700
ROUNDS ?= 2
bench-pipeline: export SECRET_KEY ?= insecure-bench-only-key
bench-pipeline: $(VENV)/.dev-installed
	$(PY) -m bench.pipeline --port-base $(PORT_BASE) --rounds $(ROUNDS) $(if $(OLD),--old $(OLD)) $(if $(ONLY),--only $(ONLY))

# The production install alone (what the Dockerfile runs: requirements/production.txt, nothing else) in a
# fresh virtualenv: gunicorn, a Celery worker and beat on PostgreSQL and Redis classify a ticket end to end.
# The database is dropped and created again, and the Redis database emptied: give dedicated ones.
PROD_VENV := .data/prod-venv
prod-smoke:
	@test -n "$(PROD_DATABASE_URL)" -a -n "$(PROD_REDIS_URL)" || { echo "set PROD_DATABASE_URL and PROD_REDIS_URL"; exit 2; }
	rm -rf $(PROD_VENV)
	$(PYTHON) -m venv $(PROD_VENV)
	$(PROD_VENV)/bin/python -m pip install --quiet -r requirements/production.txt
	psql "$(dir $(PROD_DATABASE_URL))postgres" -q -c "DROP DATABASE IF EXISTS $(notdir $(PROD_DATABASE_URL))" -c "CREATE DATABASE $(notdir $(PROD_DATABASE_URL))"
	redis-cli -u "$(PROD_REDIS_URL)" flushdb > /dev/null
	$(PROD_VENV)/bin/python .ci/production_smoke.py "$(PROD_DATABASE_URL)" "$(PROD_REDIS_URL)"

# A soak of `make run`'s stack (launcher, web, worker with beat, the fake LLM) on a DATA_DIR of its own:
# a steady stream of tickets, then what was sent, accepted, classified, lost, and how often a process died.
# Results in bench/results/soak-*.json. Ports: PORT and FAKE_LLM_PORT.
bench-soak: export ENV_FILE =
bench-soak: export SECRET_KEY ?= insecure-bench-only-key
bench-soak: $(VENV)/.dev-installed
	env -u REDIS_URL -u DATABASE_URL -u CELERY_BROKER_URL $(PY) -m bench.soak --minutes $(SOAK_MINUTES) \
		--rate $(SOAK_RATE) --host $(HOST) --port $(PORT) --fake-llm-port $(FAKE_LLM_PORT)

clean:
	rm -rf $(VENV) .data staticfiles
