# kernel_gateway developer commands. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
EXAMPLE ?= etc/api_examples/hello.ipynb
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test lint format typecheck bench image image-test clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed ## create .venv and install the gateway with its test tools

run: install ## start the gateway on the bundled example notebook (ARGS=... to add options)
	$(VENV)/bin/jupyter-kernelgateway --api=notebook-http --seed_uri=$(EXAMPLE) $(ARGS)

test: install ## run the whole test suite with real kernels
	$(PY) -m pytest $(ARGS)

lint: install ## ruff check and format check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install ## ruff format and autofix
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

typecheck: install ## mypy on the package
	$(VENV)/bin/mypy

bench: install ## side-by-side benchmark against jupyter-kernel-gateway 3.0.1
	$(PY) benchmarks/run.py $(ARGS)

image: ## build the container image with podman (BASE=... IMAGE=... to change them)
	etc/container/image.sh

image-test: ## (root, podman, debootstrap; minutes) build on a local Debian base, run, probe, stop
	etc/container/image-test.sh

clean: ## remove the virtualenv, caches and benchmark installs
	rm -rf $(VENV) .bench .pytest_cache .ruff_cache .mypy_cache *.egg-info
