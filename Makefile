# vecs-sqlgen — make demo · make test · make sql · make bench
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/vecs-sqlgen
STAMP  := $(VENV)/.installed

.PHONY: demo test test-pg16 sql clean

# The virtualenv with the package (editable) and its test tools; rebuilt when pyproject changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

# Install into the embedded PostgreSQL 18 + pgvector server and run the demo from SQL with psql.
demo: $(STAMP)
	$(CLI) install
	$$($(PY) -c 'from vecs_sqlgen.dsn import embedded_bin; print(embedded_bin("psql"))') -X -q "$$($(CLI) dsn)" -f examples/demo.sql

# Every test layer (pure, SQL-level, Python API, compatibility) against a real server, then the
# SQL-level suite again on PostgreSQL 16 + pgvector 0.6.2 (what that pgvector lacks must fail clearly).
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider
	$(PY) scripts/matrix.py pg16-pgvector0.6.2

# The SQL-level suite on PostgreSQL 16 + pgvector 0.6.2 (pgserver 0.1.4), in its own environment.
test-pg16: $(STAMP)
	$(PY) scripts/matrix.py pg16-pgvector0.6.2

# The install SQL, rendered for the default target (pgvector 0.8.5 in schema public).
sql: $(STAMP)
	mkdir -p build
	$(CLI) render -o build/install.sql
	@echo "wrote build/install.sql ($$(wc -l < build/install.sql) lines)"

clean:
	rm -rf build dist .pytest_cache
