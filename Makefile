# The two commands (see README): `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# checkov pins packaging<24 and an old boto3, which pytest and our runtime cannot use: the template
# scanners live in a venv of their own, and the infra tests call them from there.
SCAN       := .venv-scan
SCAN_STAMP := $(SCAN)/.installed
# The redactors ours is compared with (bench/redactors.py) bring spaCy and numpy: a venv of their
# own, since numpy in .venv would slow the `import pyarrow` the cold-start benchmarks measure.
COMPARE       := .venv-compare
COMPARE_STAMP := $(COMPARE)/.installed
UV := uv==0.13.9

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION = 20

.PHONY: demo test lint typecheck unit lock smoke bench bench-redactors guarantees clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Exactly what requirements.lock names, hash-checked; then the three local packages (contract/,
# agent/, the server) as editable installs over it, built with the locked setuptools.
$(STAMP): requirements.lock pyproject.toml contract/pyproject.toml agent/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation \
		-e ./contract -e ./agent -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# Refresh requirements.lock after changing a pin in any of the three pyproject.toml files.
# ilake-contract and ilake-agent are this repository's own directories, never an index's.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(UV)
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
		--no-emit-package ilake-contract --no-emit-package ilake-agent \
		--no-emit-package interaction-lake --custom-compile-command "make lock" \
		--output-file requirements.lock requirements.in

$(SCAN_STAMP):
	$(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN)/bin/python -m pip install --quiet checkov==3.3.30 cfn-lint==1.58.0
	touch $(SCAN_STAMP)

$(COMPARE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(COMPARE)
	$(COMPARE)/bin/python -m pip install --quiet --upgrade pip
	$(COMPARE)/bin/python -m pip install --quiet presidio-analyzer==2.2.366 scrubadub==2.0.1 -e ./contract -e .
	touch $(COMPARE_STAMP)

demo: $(STAMP)
	$(BIN)/ilake demo

# The Python the Lambdas run on, read from the CDK app (infra/function_runtime.py), e.g. 3.14.
# The tests run on this machine's Python, so the code the functions load (lambdas/, the contract)
# is also checked as that version: syntax by ruff, the standard library's API by mypy.
LAMBDA_PYTHON = $(shell JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(BIN)/python -c \
	"from infra.function_runtime import RUNTIME; print(RUNTIME.name.removeprefix('python'))")
LAMBDA_CODE   := lambdas contract/ilake_contract

# B912 asks for map(strict=), new in 3.14: the same code also runs on 3.11 (tests, agents).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/ruff check --target-version py$(subst .,,$(LAMBDA_PYTHON)) --extend-ignore B912 \
		$(LAMBDA_CODE)

typecheck: $(STAMP)
	$(BIN)/mypy lambdas ilake infra app.py contract/ilake_contract agent/ilake_agent
	$(BIN)/mypy --python-version $(LAMBDA_PYTHON) $(LAMBDA_CODE)

# The fast tests only: the pure core and the CLI, sockets off (tests/unit).
unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# Everything: lint, types, and the whole suite (handlers on moto, the synthesized app, scanners).
test: lint typecheck $(SCAN_STAMP)
	bash scripts/desktop-deps.sh
	$(BIN)/pytest -q

# The smoke test of a stack (docs/deploying.md#the-smoke-test), e.g.
# make smoke ARGS="--aws -p menu-navigation"; without --aws, on the running local mode.
smoke: $(STAMP)
	$(BIN)/ilake smoke $(ARGS)

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/local_api.py
	$(BIN)/python bench/governance.py
	$(BIN)/python bench/agent.py
	$(BIN)/python bench/compaction.py

bench-redactors: $(COMPARE_STAMP)
	$(COMPARE)/bin/python bench/redactors.py --markdown --by-format

guarantees: $(STAMP)
	$(BIN)/python scripts/guarantees.py

clean:
	rm -rf $(VENV) $(SCAN) $(COMPARE) cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
