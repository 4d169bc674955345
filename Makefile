# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every package's version, pinned for `make test`, `make run` and CI: `make constraints`.
CONSTRAINTS := constraints.txt

export WORKFORCE_ENV ?= development

.PHONY: run test lint install clean fuzz soak bench constraints i18n

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/workforce db upgrade
	$(BIN)/workforce demo
	exec $(BIN)/workforce serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	WORKFORCE_ENV=test $(BIN)/python -m pytest $(PYTEST_ARGS)

# The long fuzzing run: every operation as every role, many examples (about 15 minutes
# on SQLite; WORKFORCE_TEST_DATABASE_URL=... for PostgreSQL). FUZZ_EXAMPLES to change.
FUZZ_EXAMPLES ?= 25
fuzz: $(STAMP)
	WORKFORCE_ENV=test WORKFORCE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) WORKFORCE_FUZZ_EVERY_ROLE=1 \
		$(BIN)/python -m pytest -p no:cacheprovider -s tests/test_fuzz_openapi.py $(PYTEST_ARGS)

# Load and soak against gunicorn on PostgreSQL (loopback only; stops by itself). Needs
# SOAK_DATABASE_URL (a database whose name contains "soak" or "test"; it is wiped).
SOAK_SECONDS ?= 60
SOAK_TRAINERS ?= 16
soak: $(STAMP)
	WORKFORCE_ENV=test $(BIN)/python -m tests.load.soak --seconds $(SOAK_SECONDS) \
		--trainers $(SOAK_TRAINERS) $(SOAK_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# The newest versions pyproject.toml allows, for every Python it supports, written to
# constraints.txt; run after changing a dependency, then `make test`.
constraints: $(STAMP)
	$(BIN)/uv pip compile --quiet --universal --all-extras --upgrade \
		--custom-compile-command "make constraints" pyproject.toml -o $(CONSTRAINTS)

# Texts marked for translation, extracted from the source (babel.cfg) into every
# catalog of every domain (workforce/translations/*/LC_MESSAGES/*.po): new texts arrive
# untranslated (the catalog test fails until they are translated), gone ones leave.
i18n: $(STAMP)
	$(BIN)/python -m workforce.i18n update

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis

# The benchmarks at the small size (under 5 minutes, on PostgreSQL at 127.0.0.1:5432;
# the README's Benchmarks section says how to run the full size). Never part of `make test`.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[test,dev,bench]'
	$(BIN)/python -m bench run --size small
