# Speech2Video — common tasks. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export DVC_NO_ANALYTICS := 1
export HF_HUB_OFFLINE := 1

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets with a line each
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: ## Install everything into ./.venv (Debian packages if missing, CPU torch, project + dev extras)
	bash scripts/setup.sh

.PHONY: demo
demo: setup ## Set up, then run the main job on the embedded defaults (the demo speaker)
	$(PY) -m speech2video_cli.main demo

.PHONY: lint
lint: ## ruff, the import-layer contract, and generated gRPC code up to date with proto/
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) scripts/generate_proto.py --check
	$(PY) infra/k8s/sync_serve_config.py --check

.PHONY: proto
proto: ## Regenerate the Python gRPC API (src/speech2video_api) from proto/
	$(PY) scripts/generate_proto.py

.PHONY: test
test: lint ## Lint, then the whole test suite (what CI runs)
	$(PY) -m pytest -q

.PHONY: test-fast
test-fast: ## Unit tests only, no lint
	$(PY) -m pytest -q tests/unit -m "not slow"

.PHONY: repro
repro: ## Run the per-speaker pipeline (dvc repro) with the venv's python on PATH
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/dvc repro

.PHONY: bench
bench: ## Benchmarks: core pipeline figures as a table
	$(PY) -m benchmarks.core

.PHONY: format
format: ## Apply ruff formatting and import sorting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: clean
clean: ## Remove caches and build outputs (keeps .venv)
	rm -rf .pytest_cache .ruff_cache build dist src/*.egg-info
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
