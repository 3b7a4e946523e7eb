# Developer tasks for seatwise. Every target first makes sure .venv matches uv.lock.
#
#   make test PYTEST_ARGS="-x -k config"     other pytest arguments (default: -n auto -q)
#   make simulate SIMULATE_ARGS="--users 50"  arguments for `seatwise simulate`
#   make demo PORT=8090 DEMO_ARGS="--keep"    the web UI's port; other `seatwise demo` options
#   make bench BENCH_ARGS="sync"              run only some benchmarks

.DEFAULT_GOAL := help
.PHONY: help demo test lint bench reliability simulate clean distclean

PYTHON ?= python3
BIN := .venv/bin
PYTEST_ARGS ?= -n auto -q
SIMULATE_ARGS ?=
DEMO_ARGS ?=
PORT ?=
BENCH_ARGS ?=

# uv from PATH when there is one; otherwise a private copy that pip installs into .tools/.
# `pip install --target` needs neither root, a writable home, ~/.local/bin on PATH, nor an
# interpreter that allows user installs (Debian's python3 refuses them: PEP 668).
UV ?= $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)

help:
	@echo "make demo       simulated tenant + sync + web UI, in one command (PORT=..., DEMO_ARGS=...)"
	@echo "make test       the test suite (PYTEST_ARGS=... to change pytest's arguments)"
	@echo "make lint       ruff check, ruff format --check, mypy"
	@echo "make bench      every benchmark in bench/ (BENCH_ARGS=NAME... for some)"
	@echo "make reliability  faults, hostile inputs, security tests and a load test -> RELIABILITY.md"
	@echo "make simulate   serve a simulated tenant (SIMULATE_ARGS=... for its options)"
	@echo "make clean      remove caches and build output; distclean also .venv and .tools"

.tools/bin/uv:
	PIP_ROOT_USER_ACTION=ignore $(PYTHON) -m pip install --quiet --disable-pip-version-check \
		--target .tools uv
	@printf '*\n' > .tools/.gitignore

.venv/.ok: pyproject.toml uv.lock | $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen
	@touch $@

demo: .venv/.ok
	$(BIN)/seatwise demo $(if $(PORT),--port $(PORT)) $(DEMO_ARGS)

simulate: .venv/.ok
	$(BIN)/seatwise simulate $(SIMULATE_ARGS)

test: .venv/.ok
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: .venv/.ok
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: .venv/.ok
	$(BIN)/python -m bench $(BENCH_ARGS)

reliability: .venv/.ok
	$(BIN)/python -m bench.reliability

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist htmlcov .coverage
	find . -name .venv -prune -o -name .tools -prune -o -name __pycache__ -type d \
		-exec rm -rf {} +

distclean: clean
	rm -rf .venv .tools
