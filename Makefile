# nas-pattern. The two commands: `make run` (a search) and `make test` (every test and linter).
# Each sets up what it needs first, on a fresh machine too: a virtual environment in .venv
# with the Python packages, and Debian's Fashion-MNIST package.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
ARGS ?=

.PHONY: run test setup data lint clean

run: setup
	$(PY) -m nas_pattern.run $(ARGS)

test: setup lint
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check python tests
	$(VENV)/bin/mypy

setup: $(INSTALLED) data

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

data: $(FASHION_MNIST)

$(FASHION_MNIST):
	@if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's dataset-fashion-mnist ..."; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist; \
	else \
		echo "Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist', then retry." >&2; \
		exit 1; \
	fi

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache python/*.egg-info
