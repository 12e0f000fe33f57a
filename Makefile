# vecs-sqlgen — make demo · make test · make sql · make bench · make bench-scale
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/vecs-sqlgen
STAMP  := $(VENV)/.installed

.PHONY: demo test lint test-pg16 test-matrix sql extension install-extension docker-image clean bench

# The server an extension bundle is for: PG_CONFIG=/path/to/pg_config (default: the embedded server's),
# and its pgvector version (default: the one that installation has; PGVECTOR=x.y.z to choose).
PG_CONFIG ?=
PGVECTOR  ?=
EXT_PG_CONFIG = $(or $(PG_CONFIG),$$($(PY) -c 'from vecs_sqlgen.bundle import embedded_pg_config; print(embedded_pg_config())'))
DOCKER_PGVECTOR = $(or $(PGVECTOR),0.8.1)

# The torch that the [text] extra (sentence-transformers, for the TextEmbedding tests) brings in,
# pinned in the same pip command: the CPU wheel; an unpinned torch pulls several GB of CUDA packages.
TORCH ?= torch==2.13.0

# The virtualenv with the package (editable), its test and lint tools, the [text] extra and the
# integrations (with their standard test suites); rebuilt when pyproject or this Makefile changes.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,lint,text,langchain,llama-index,integration-tests]" "$(TORCH)"
	touch $@

# Install into the embedded PostgreSQL 18 + pgvector server and run the demo from SQL with psql, then
# the demo on real data: 3,156 Debian packages (examples/debian/), searched from Python and SQL.
demo: $(STAMP)
	$(CLI) install
	$$($(PY) -c 'from vecs_sqlgen.dsn import embedded_bin; print(embedded_bin("psql"))') -X -q "$$($(CLI) dsn)" -f examples/demo.sql
	$(PY) examples/demo_debian.py --dsn "$$($(CLI) dsn)"

# ruff (lint + format) and mypy --strict on vecs_sqlgen/, as configured in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check vecs_sqlgen
	$(VENV)/bin/ruff format --check vecs_sqlgen
	$(VENV)/bin/mypy --strict vecs_sqlgen

# Every test layer (pure, SQL-level, Python API, compatibility) against a real server; the SQL-level
# suite again on CREATE EXTENSION vecs (the bundle installed into the embedded server); and on
# PostgreSQL 16 + pgvector 0.6.2 (what that pgvector lacks must fail clearly), beside the first two
# (scripts/run_tests.py says why that is safe).
test: $(STAMP)
	$(PY) scripts/run_tests.py

# The SQL-level suite on PostgreSQL 16 + pgvector 0.6.2 (pgserver 0.1.4), in its own environment.
test-pg16: $(STAMP)
	$(PY) scripts/matrix.py pg16-pgvector0.6.2

# The long safety run (issue 6): the concurrency soak (SOAK_SECONDS, default 600; on an embedded server
# in a temp dir unless VECS_DATABASE_URL is set), then tests/safety with 10,000 cases per property test.
.PHONY: soak
soak: $(STAMP)
	$(PY) scripts/soak.py --seconds $${SOAK_SECONDS:-600} --writers 4 --ids 5000
	VECS_SAFETY_EXAMPLES=$${VECS_SAFETY_EXAMPLES:-10000} VECS_SAFETY_SOAK_SECONDS=$${VECS_SAFETY_SOAK_SECONDS:-120} \
		$(PY) -m pytest tests/safety -q -p no:cacheprovider

# The SQL-level suite on every server of scripts/matrix.py, each in its own environment: one line per server.
test-matrix: $(STAMP)
	$(PY) scripts/matrix.py

# The extension bundle in extension/: vecs.control and vecs--VERSION.sql (built, git-ignored) next to
# the committed upgrade scripts vecs--A--B.sql; rendered for the target's pgvector: rebuild per version.
extension: $(STAMP)
	$(CLI) bundle -o extension $(if $(PG_CONFIG),--pg-config $(PG_CONFIG)) $(if $(PGVECTOR),--pgvector $(PGVECTOR))

# Copy the bundle into $(pg_config --sharedir)/extension; then, in a database: CREATE EXTENSION vecs CASCADE.
install-extension: extension
	dir="$$($(EXT_PG_CONFIG) --sharedir)/extension" && \
	install -d "$$dir" && \
	install -m 644 extension/vecs.control extension/vecs--*.sql "$$dir/" && \
	echo "installed into $$dir; in a database: CREATE EXTENSION vecs CASCADE"

# The Dockerfile.postgres image (pgvector/pgvector:$(DOCKER_PGVECTOR)-pg17 + vecs, created at first start).
docker-image:
	$(MAKE) extension PGVECTOR=$(DOCKER_PGVECTOR)
	docker build -f Dockerfile.postgres --build-arg PGVECTOR=$(DOCKER_PGVECTOR) -t vecs-sqlgen-postgres .

# The install SQL, rendered for the default target (pgvector 0.8.5 in schema public).
sql: $(STAMP)
	mkdir -p build
	$(CLI) render -o build/install.sql
	@echo "wrote build/install.sql ($$(wc -l < build/install.sql) lines)"

# The benchmark (issue 4): one run on a fresh embedded server, against raw SQL and vecs 0.4.5, writes
# bench/results.md, bench/results.json and bench/*.png. Its own virtualenv, as vecs 0.4.5 pins
# pgvector-python 0.3.*; uses ../shared/data when present, else synthetic data (bench/data.py).
BENCH_VENV  := bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed

# langchain-postgres (PGVectorStore, the most used peer) is measured by bench-scale only.
LANGCHAIN_POSTGRES ?= langchain-postgres==0.0.19

$(BENCH_STAMP): pyproject.toml Makefile
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e ".[bench]" "$(LANGCHAIN_POSTGRES)"
	touch $@

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m bench.run
	$(BENCH_VENV)/bin/python -m bench.hybrid
	$(BENCH_VENV)/bin/python -m bench.concurrency
	$(BENCH_VENV)/bin/python -m bench.vector_types

# The concurrency section (issue 14) alone: bench/concurrency.md and .json (≈ 8 min on the shared data).
.PHONY: bench-concurrency
bench-concurrency: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m bench.concurrency $(ARGS)

# Vector types (issue 13) alone: bench/vector_types.md and bench/vector_types.json — float32, halfvec
# and binary + rerank on the shared 384-d data and on synthetic 3,072-d vectors.
.PHONY: bench-vector-types
bench-vector-types: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m bench.vector_types $(ARGS)

# Hybrid search (issue 12) alone: bench/hybrid.md and bench/hybrid.json (≈ 5 min on the shared data).
.PHONY: bench-hybrid
bench-hybrid: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m bench.hybrid $(ARGS)

# The scale benchmark (issue 11, item 5): 250k and 1M rows, every filter shape at 0.1 % … 99 %
# selectivity, without/with metadata btrees and a filtered HNSW index, for vecs.query, Collection.query,
# vecs 0.4.5, langchain-postgres and raw pgvector statements; ingest and index builds. Writes
# bench/scale.md, bench/scale.json and bench/scale_*.png; datasets are cached in bench/.cache
# (git-ignored). Hours at 1M on 2 cores. ARGS: --rows 250000 | --quick | --phases ingest,index,raw,ours,peers
# | --reuse DIR (keep the loaded server for later runs; see bench/scale.py).
.PHONY: bench-scale
bench-scale: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m bench.scale $(ARGS)

clean:
	rm -rf build dist .pytest_cache
