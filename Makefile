# NodeSpace Lab: the developer front door. `make help` lists every target.
# Targets are documented with a trailing `## ` comment; variables with a `##v ` line.

.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:

VENV := .venv
BIN := $(VENV)/bin
# Lives inside the venv so that `make clean` or a deleted venv forces a reinstall.
STAMP := $(VENV)/.installed

##v PYTHON       interpreter used to create .venv (default: python3)
PYTHON ?= python3
##v KB           knowledge base opened by `make lab` (default: ./sample-kb)
KB ?= $(CURDIR)/sample-kb
##v LAB_ARGS     extra flags for `jupyter lab`, e.g. LAB_ARGS="--no-browser --port 8899"
LAB_ARGS ?=
##v PYTEST_ARGS  arguments for pytest (default: the tests plus the notebooks under nbval)
# nbval only collects .ipynb files, so one invocation runs both the tests and the
# tutorials. Notebooks under tests/ are data (fixtures), not tutorials: never execute them.
PYTEST_ARGS ?= --nbval-lax --ignore-glob='tests/*.ipynb' tests notebooks
##v KUZU_TESTS   storage tests run a second time against Kùzu (its own process: the two
##v              engines cannot be loaded in one Python process)
KUZU_TESTS ?= tests/graph tests/nodes tests/live tests/jupyter tests/search/test_search_api.py tests/test_kb.py tests/test_cli.py \
	tests/widgets/test_rows.py tests/service tests/entities tests/security/test_cypher_corpus.py tests/security/test_cypher_fuzz.py
##v SERVICE_TESTS the API tests run a third time with `kb` a client of the service
##v              (NODESPACE_TEST_TRANSPORT=service): one API, two transports
SERVICE_TESTS ?= tests/kb tests/nodes tests/test_kb.py tests/live tests/search/test_search_api.py \
	tests/search/test_semantic_search.py tests/ai/test_ask.py tests/ai/test_drafts.py \
	tests/widgets/test_rows.py tests/widgets/test_table_browser.py tests/entities
##v BENCH_ARGS   arguments for the benchmark runner (default: --sizes 100000,1000000)
BENCH_ARGS ?= --sizes 100000,1000000

# llama-cpp-python compiles llama.cpp on install (~7 min on 2 cores, cached by pip after).
# Its default -march=native build crashes on some x86 CPUs (an AMX code path segfaults on
# the first decode): build portably instead. Set LLAMA_CMAKE_ARGS to override.
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DLLAVA_BUILD=OFF
else ifeq ($(shell uname -s),Linux)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
endif

# Recursive (=) so that `id -u` only runs for `make lab`.
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help venv install lab test check format bench docs clean

help: ## Show this help (the default target)
	@awk 'BEGIN { FS = ":.*## "; print "Usage: make <target> [VAR=value ...]\n\nTargets:" } \
	     /^[a-zA-Z_ -]+:.*## / { printf "  %-14s %s\n", $$1, $$2 } \
	     /^##v / { sub(/^##v /, ""); vars = vars "  " $$0 "\n" } \
	     END { printf "\nVariables:\n%s", vars }' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The JupyterLab extension's sources: a change rebuilds it (the install builds it with jlpm).
LABEXTENSION := $(wildcard labextension/package.json labextension/yarn.lock \
	labextension/tsconfig.json labextension/src/* labextension/src/sidebar/* labextension/style/* \
	labextension/schema/*)

# Order-only on the interpreter: only a change to pyproject.toml or to the JupyterLab
# extension's sources triggers a reinstall.
$(STAMP): pyproject.toml $(LABEXTENSION) | $(BIN)/python
	$(BIN)/python -m pip install --upgrade --disable-pip-version-check pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --disable-pip-version-check -e ".[dev]"
	touch $@

venv install: $(STAMP) ## Create .venv and install the package with all extras and the JupyterLab extension (needs Node.js)

lab: $(STAMP) ## Create the sample knowledge base (if missing) and open JupyterLab on notebooks/
	$(BIN)/nodespace init --sample "$(KB)"
	NODESPACE_KB="$(KB)" $(BIN)/jupyter lab notebooks/ $(ROOT_FLAG) $(LAB_ARGS)

test: $(STAMP) ## Run the tests on LadybugDB, on Kùzu and through the service; run the notebooks (nbval)
	@# pytest exits 5 when it collects nothing; that is a failure here, never a pass.
	$(BIN)/python -m pytest $(PYTEST_ARGS) || { rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc; }
	NODESPACE_TEST_ENGINE=kuzu $(BIN)/python -m pytest $(KUZU_TESTS)
	NODESPACE_TEST_TRANSPORT=service $(BIN)/python -m pytest -m "not embedded" $(SERVICE_TESTS)

check: $(STAMP) ## Lint and type-check: ruff check, ruff format --check, mypy, lint-imports (layers)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

format: $(STAMP) ## Apply ruff's safe fixes and formatting
	@# Fixes first: they can leave code that needs reformatting. Unfixable findings are
	@# reported here and fail `make check`.
	$(BIN)/ruff check --fix --exit-zero .
	$(BIN)/ruff format .

bench: $(STAMP) ## Run the benchmarks (slow: 100k and 1M nodes and vectors, the local models)
	mkdir -p bench-results
	$(BIN)/python -m tests.benchmarks.run $(BENCH_ARGS)
	$(BIN)/python -m tests.benchmarks.vectors --sizes 100000,1000000 --out bench-results/vectors.json
	$(BIN)/python -m tests.benchmarks.calc --out bench-results/calc.json
	$(BIN)/python -m tests.benchmarks.entities --size 100000
	$(BIN)/python -m tests.benchmarks.ai_llm --runs 10 --tokens 64 --out bench-results/ai-llm.json
	$(BIN)/python -m tests.benchmarks.ai_mlx --runs 5 --tokens 32 --out bench-results/ai-mlx.json
	$(BIN)/python -m tests.benchmarks.ask --notes 10000 --questions 10 --out bench-results/ask.json

docs: $(STAMP) ## Build the HTML documentation into docs/_build/html (warnings are errors)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean: ## Remove .venv, built docs, the built JupyterLab extension and caches (keeps knowledge bases)
	rm -rf $(VENV) docs/_build build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache bench-results
	rm -rf labextension/node_modules labextension/lib labextension/.yarn nodespace_lab/labextension
	find . -path ./.git -prune -o \
	  \( -name __pycache__ -o -name '*.egg-info' -o -name .ipynb_checkpoints \) -type d \
	  -prune -exec rm -rf {} +
