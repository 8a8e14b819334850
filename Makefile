# Two commands on a fresh Linux machine with Python 3.11+ (nothing else):
#   make local   creates .venv, starts the local cluster (2 workers) and runs the parallel demo
#   make test    creates .venv and runs every test (unit, Pulumi mocks, and the real local cluster)
#   make unit    the quick tests only (no local cluster, no Airflow start-ups), spread over the cores (pytest-xdist)
#   make docs    regenerates docs/cluster.md, the README's config reference and docker-compose.yaml
#   make schema  regenerates schema.json, the component's Pulumi package schema (provider/)
#   make pin-base-image  writes the registry's digest of image/Dockerfile's base tag into its FROM line
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: venv test unit lint local down docs schema pin-base-image

# Let Python keep the compiled bytecode of this repository (airflow_celery, the tests and pytest's rewritten test
# modules) in __pycache__: with PYTHONDONTWRITEBYTECODE set, as it is on this machine, every test process and every
# role of a local cluster compiles them again (pytest's collection: 8.7 CPU seconds, 5.8 with the cache; 2026-12-06).
unexport PYTHONDONTWRITEBYTECODE

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "uv==$(UV_VERSION)"

# --compile-bytecode: every module compiled once here (37 CPU seconds on 2 cores), not by the test processes that
# import it first, several at once: without it the venv and the tests without a cluster took 269 CPU seconds
# against 244 (2026-12-07; README, Tests).
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python --constraint constraints.txt -e ".[local,dev]"
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The tests that start no local cluster share nothing but read-only session builds. They run in 4 processes even on
# 2 cores, since some of them wait on real processes (marked `slow`, started first: tests/conftest.py), and
# `--dist worksteal` lets an idle process take another's tests: 94 s against 107 s with one process per core and
# xdist's default scheduling (2026-12-07, 2 cores). The integration tests then run in four processes, one per group
# of tests that share a local cluster (tests/local/cluster_support.py, CLUSTER_GROUPS), whose clusters start one
# after another. One session for both was slower: the cluster start-ups took 70-150 s beside the other tests, even
# at the lowest CPU priority, against about 40 s alone (2026-12-06).
UNIT_XDIST := -n 4 --dist worksteal

test: lint
	$(BIN)/pytest -m "not integration" $(UNIT_XDIST)
	$(BIN)/pytest -m integration -n 4 --dist loadgroup

# `make unit` does not even collect the test files named *_airflow.py (every test in them is marked `airflow`:
# tests/test_test_layout.py): importing them imports Airflow, 2.3 of the 5.2 CPU seconds each of the four processes
# spent collecting. 42-44 s and 79-82 CPU seconds against 46-53 s and 87-100, two runs each (2026-12-07, AMD EPYC).
UNIT_SKIPS := --ignore-glob='*_airflow.py'

unit: venv
	$(BIN)/pytest -m "not integration and not airflow" $(UNIT_SKIPS) $(UNIT_XDIST)

local: venv
	$(BIN)/airflow-celery local up --workers 2
	$(BIN)/airflow-celery local trigger celery_parallel_demo --wait

down: venv
	$(BIN)/airflow-celery local down

docs: venv
	$(BIN)/python -m airflow_celery.docs
	$(BIN)/python -m airflow_celery.compose

schema: venv
	$(BIN)/python -m airflow_celery.aws.provider

# Needs Docker with buildx and the network: asks the registry for the digest of the base image's tag.
pin-base-image:
	tag=$$(sed -nE 's/^FROM (apache\/airflow:[^@ ]+).*/\1/p' image/Dockerfile); \
	digest=$$(docker buildx imagetools inspect "$$tag" --format '{{json .Manifest.Digest}}' | tr -d '"'); \
	test -n "$$digest" && sed -i -E "s|^FROM apache/airflow:[^ ]+|FROM $$tag@$$digest|" image/Dockerfile
