# Build, run and check the support agent. Every target uses the project venv directly (no activation).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
PORT ?= 8501
API_PORT ?= 8000
BENCH_DIR ?= ../shared/benchmarks
TORCH := torch==2.13.0

VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
RETRIEVAL_SET := $(BENCH_DIR)/retrieval/dstc11

.PHONY: help venv install migrate seed run api test eval prompts-push lint bench lock clean

help:
	@echo "make run    install, migrate, seed the demo KB, serve the chat on http://127.0.0.1:$(PORT)"
	@echo "make api    the same, serving the HTTP API on http://127.0.0.1:$(API_PORT) (OpenAPI at /docs)"
	@echo "make test   install (and PostgreSQL with apt when root), then run the test suite"
	@echo "make eval   the golden eval suite, gated on evals/baseline.json (report in var/eval/)"
	@echo "make lint | bench | prompts-push | lock | migrate | seed | clean"

# torch first and alone: asking for exactly this version takes the CPU build instead of several GB of CUDA.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || { \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
	    || { echo "error: the project needs Python 3.11; set PYTHON=/path/to/python3.11" >&2; exit 1; }; \
	  $(PYTHON) -m venv $(VENV); }
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	$(PY) -m knowledge.embeddings
	@touch $@

venv install: $(STAMP)

migrate: $(STAMP)
	$(PY) -m core.migrate upgrade

seed: migrate
	$(PY) -m knowledge.seed
	$(PY) -m core.users seed-demo --skip-in-prod

run: seed
	@echo "Serving the chat on http://127.0.0.1:$(PORT)  (Ctrl-C stops it)"
	$(VENV)/bin/streamlit run app/ui/main.py --server.address 127.0.0.1 --server.port $(PORT) \
	  --server.headless true --browser.gatherUsageStats false

# The HTTP API alone (the embedded Chroma is one process's: with both UI and API, use a Chroma server, or
# docker-compose). Replicas: point DATABASE_URL, CHECKPOINT_URL and CHROMA_URL at shared servers.
api: seed
	$(VENV)/bin/uvicorn app.api.main:app --host 127.0.0.1 --port $(API_PORT)

# The integration tests start a throwaway PostgreSQL, the browser tests drive chromium, docker-compose
# (v1, no engine needed) validates docker-compose.yml, and iptables makes a database host vanish (a test that
# needs root and NET_ADMIN); install what is missing when we can (root with apt).
test: $(STAMP)
	@missing=""; \
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing="$$missing postgresql"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	[ "$$(id -u)" != 0 ] || command -v iptables >/dev/null || missing="$$missing iptables"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing$$missing with apt-get for the integration and browser tests"; \
	  log=$$(mktemp); \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } >"$$log" 2>&1 \
	    || { cat "$$log" >&2; rm -f "$$log"; exit 1; }; \
	  rm -f "$$log"; \
	fi
	$(PY) -m pytest -q
	@$(MAKE) --no-print-directory eval

# Every golden case in Minimal mode and with scripted models (deterministic), gated on the committed baseline:
# exit 1 on a regression beyond the tolerance, with the evidence in var/eval/report.md and report.html.
# EVAL_ARGS adds options, e.g. EVAL_ARGS="--llm openai:gpt-4o-mini --trials 5" or "--update-baseline".
eval: $(STAMP)
	$(PY) -m evals.run --out var/eval $(EVAL_ARGS)

# The prompt change gate, then the push to Langfuse prompt management: the cases that used a changed prompt
# are played again, and nothing is pushed when one newly fails or a wording changed without a VERSION bump.
prompts-push: $(STAMP)
	$(PY) -m evals.changes prompts
	$(PY) -m agent.prompts.sync

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m evals.bench ladder --json var/bench/ladder.json
	@messages=""; [ -f "$(BENCH_DIR)/guard/attacks_and_benign.jsonl" ] && messages="--messages $(BENCH_DIR)/guard/attacks_and_benign.jsonl"; \
	set -x; $(PY) -m evals.bench rails $$messages --json var/bench/rails.json
	@if [ ! -f "$(BENCH_DIR)/guard/attacks_and_benign.jsonl" ]; then \
	  echo "The shared benchmarks are not there ($(BENCH_DIR)/guard); guard benchmark skipped."; exit 0; fi; \
	docs=""; [ -f "$(RETRIEVAL_SET)/kb.jsonl" ] && docs="--documents $(RETRIEVAL_SET)/kb.jsonl"; \
	set -x; $(PY) -m evals.bench guard --cases $(BENCH_DIR)/guard/attacks_and_benign.jsonl $$docs \
	  --json var/bench/guard.json
	@if [ ! -f "$(BENCH_DIR)/pii/cases.jsonl" ]; then \
	  echo "The shared benchmarks are not there ($(BENCH_DIR)/pii); PII benchmark skipped."; exit 0; fi; \
	set -x; $(PY) -m evals.bench pii --cases $(BENCH_DIR)/pii/cases.jsonl --json var/bench/pii.json
	@if [ ! -f "$(BENCH_DIR)/handoff/messages.jsonl" ]; then \
	  echo "The shared benchmarks are not there ($(BENCH_DIR)/handoff); handoff benchmark skipped."; exit 0; fi; \
	set -x; $(PY) -m evals.bench handoff --cases $(BENCH_DIR)/handoff/messages.jsonl --json var/bench/handoff.json
	@if [ ! -d "$(RETRIEVAL_SET)" ]; then \
	  echo "The shared benchmarks are not there ($(RETRIEVAL_SET)); retrieval benchmark skipped."; exit 0; fi; \
	set -x; $(PY) -m evals.bench retrieval --kb $(RETRIEVAL_SET)/kb.jsonl \
	  --queries $(RETRIEVAL_SET)/queries.jsonl --json var/bench/retrieval.json
	@if [ ! -f "$(RETRIEVAL_SET)/kb.jsonl" ]; then \
	  echo "The shared benchmarks are not there ($(RETRIEVAL_SET)); knowledge base benchmark skipped."; exit 0; fi; \
	set -x; $(PY) -m evals.bench kb --kb $(RETRIEVAL_SET)/kb.jsonl --json var/bench/kb.json
	@if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then \
	  echo "PostgreSQL server binaries are not installed (make test installs them); load and chaos runs skipped."; \
	else set -x; \
	  $(PY) -m evals.load --json var/bench/load.json; \
	  $(PY) -m evals.load --chaos --turns 3000 --think-s 4 --json var/bench/chaos.json; \
	fi
	$(PY) -m evals.bench report --data $(BENCH_DIR)

# Picks up what pyproject.toml asks for (without the old pins), then writes every installed version.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[dev]'
	@{ echo "# Exact versions of every dependency, transitive ones included, for a reproducible install."; \
	   echo "# Made by \`make lock\` (regenerate the same way): \`pip freeze --exclude-editable\` in the project venv,"; \
	   echo "# without the project itself and without torch, which is installed first and alone as $(TORCH)"; \
	   echo "# (the CPU build). Used as: pip install -c constraints.txt -e '.[dev]'"; \
	   $(PIP) freeze --exclude-editable | grep -viE '^(-e[[:space:]]|torch([=@ ]|$$)|support[-_]agent([=@ ]|$$))'; \
	 } > constraints.txt.new
	@mv constraints.txt.new constraints.txt
	@touch $(STAMP)
	@echo "constraints.txt: $$(grep -vc '^#' constraints.txt) pins"

clean:
	rm -rf var
