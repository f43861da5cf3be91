# forewarn: `make` (or `make help`) lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.SHELLFLAGS := -eu -o pipefail -c

VENV ?= .venv
FOREWARN := $(VENV)/bin/forewarn
PYTEST := $(VENV)/bin/pytest
PYTEST_ARGS ?=

.PHONY: help setup up down status logs lint format test test-unit demo drill bench bench-ingest bench-stream bench-chain bench-console bench-plan soak clean

help: ## Show this list of targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## Install Debian packages, the virtual environment and Maven artifacts (idempotent)
	@infra/setup.sh

up: setup ## Start the local stack (Mosquitto, Kafka, InfluxDB, MLflow) on loopback; harmless if up
	@$(FOREWARN) stack up

down: ## Stop the pipeline processes of demo runs and the local stack; leave no process behind
	@if [ -x $(FOREWARN) ]; then $(FOREWARN) demo stop && $(FOREWARN) stack down; fi

status: ## The stack's services and the running pipeline processes, with health and lag (exit 1 if unhealthy)
	@$(FOREWARN) status

logs: ## Last lines of every service's log (FOLLOW=1 to keep following)
	@$(FOREWARN) stack logs $(if $(FOLLOW),--follow,)

lint: ## Check style, types and the import rules (ruff, ruff format --check, mypy, lint-imports); changes nothing
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports --no-cache --no-logo

format: ## Fix what ruff can fix and format the code
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

test: setup ## The CI suite: lint, unit and integration tests against the real stack (started and stopped)
	@$(MAKE) --no-print-directory lint
	@$(PYTEST) $(PYTEST_ARGS)

test-unit: ## Only the tests that need no service
	@$(PYTEST) tests/unit $(PYTEST_ARGS)

demo: up ## The main job: train, start gateway/Spark job/alert engine/API, stream a fleet, print a summary
	@$(FOREWARN) demo $(DEMO_ARGS)

drill: up ## Kill -9 gateway, Kafka, Spark job, alert engine and InfluxDB in turn while a fleet streams; check nothing is lost
	@$(FOREWARN) drill $(DRILL_ARGS)

bench: up ## Every benchmark (ingest, stream + knob sweep, alerts, InfluxDB sink, end to end) into .state/bench/forewarn.json
	@$(VENV)/bin/python -m bench --out .state/bench/forewarn.json > /dev/null

bench-ingest: ## Ingest benchmark: MQTT→gateway→Kafka vs a direct producer (JSON in .state/bench/ingest.json)
	@$(VENV)/bin/python -m bench.ingest --out .state/bench/ingest.json

bench-stream: up ## Spark scoring job, C-MAPSS and pump shapes: capacity, latency, fixed cost, memory, state, ratio to offline; knob sweep (.state/bench/stream.json; BENCH_ARGS=...)
	@$(VENV)/bin/python -m bench.stream --sweep $(BENCH_ARGS) --out .state/bench/stream.json > /dev/null

bench-chain: up ## End to end MQTT → risk at a sustained rate (10,000 readings/s, 2,000 assets, 60 s): rate, latency, accounting (.state/bench/chain.json; BENCH_ARGS=...)
	@$(VENV)/bin/python -m bench.chain $(BENCH_ARGS) --out .state/bench/chain.json > /dev/null

bench-console: up ## Console pages with 500 open alerts / work orders: server render p50/p95 and chromium load times vs the 1 s goal (.state/bench/console.json; BENCH_ARGS=...)
	@$(VENV)/bin/python -m bench.console $(BENCH_ARGS) --out .state/bench/console.json > /dev/null

bench-plan: ## Planning: CP-SAT crew schedule vs greedy earliest-due-first (500 jobs, 50 technicians, 2 weeks, 10 s goal on 2 cores); parts reordering over a simulated year (.state/bench/plan.json; BENCH_ARGS=--seed N)
	@$(VENV)/bin/python -m bench.plan $(BENCH_ARGS) --out .state/bench/plan.json > /dev/null

soak: up ## The pipeline at a steady rate (200 readings/s, 15 min): RSS and open files per process over time, slope per hour, lag (.state/bench/soak.json; SOAK_ARGS="--seconds 180 --rate 200 --every-s 10")
	@$(VENV)/bin/python -m bench.soak $(SOAK_ARGS) --out .state/bench/soak.json

clean: down ## Stop the stack and delete its state (data, logs, jars) and caches; keeps .venv
	rm -rf .state .pytest_cache .mypy_cache .ruff_cache
