# Two commands for a newcomer: `make run` and `make test`. Everything else is derived.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test stress deps venv lint bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,batch]'
	touch $(STAMP)

venv: $(STAMP)

# Migrate, load the demo data once, print the demo tokens and serve on 127.0.0.1:8000.
run: $(STAMP)
	mkdir -p var
	test -s var/secret-key || $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > var/secret-key
	chmod 600 var/secret-key
	test -s var/identity-key || $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > var/identity-key
	chmod 600 var/identity-key
	$(BIN)/credit db upgrade
	CREDIT_IDENTITY_KEY=$(CURDIR)/var/identity-key $(BIN)/credit demo-data
	@echo
	@echo "Demo tokens (var/demo-tokens.txt, development only):"
	@cat var/demo-tokens.txt
	@echo
	@echo "Try:"
	@echo "  curl -s http://$(HOST):$(PORT)/api/v1/health"
	@echo "  curl -s -H \"Authorization: Bearer \$$(grep '^evaluator' var/demo-tokens.txt | cut -f3)\" 'http://$(HOST):$(PORT)/api/v1/subjects/91330603MA2D4F6E84/score?sector=housing'"
	@echo "  curl -s -H \"Authorization: Bearer \$$(grep '^auditor' var/demo-tokens.txt | cut -f3)\" 'http://$(HOST):$(PORT)/api/v1/audit/verify'"
	@echo
	CREDIT_SECRET_KEY=$$(cat var/secret-key) CREDIT_IDENTITY_KEY=$(CURDIR)/var/identity-key \
	  $(BIN)/credit serve --host $(HOST) --port $(PORT)

# Every test; database suites on SQLite and, when it answers, on PostgreSQL.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

stress: $(STAMP)
	CREDIT_STRESS=1 $(BIN)/python -m pytest -q -m slow -p no:randomly

# System packages some tests need (Chromium for browser tests, wrk for load figures,
# pdftotext for printed pages). Where they cannot be installed the tests needing them
# skip visibly; in CI (CI=true) that is a failure instead, so CI never goes green with
# them skipped.
deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	[ -d /usr/share/fonts/opentype/noto ] || missing="$$missing fonts-noto-cjk"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
	      || echo "deps: apt-get could not install$$missing" >&2; \
	  else echo "deps: no apt-get to install$$missing" >&2; fi; \
	fi; \
	still=""; \
	for cmd in chromium chromedriver wrk pdftotext; do \
	  command -v $$cmd >/dev/null 2>&1 || still="$$still $$cmd"; \
	done; \
	if [ -n "$$still" ]; then \
	  if [ "$$CI" = "true" ]; then \
	    echo "deps: missing$$still; CI (CI=true) needs them: failing" >&2; exit 1; \
	  fi; \
	  echo "deps: missing$$still; the tests needing them will skip"; \
	fi

# A gate: any finding fails (.ci/run runs it before the tests).
lint: $(STAMP)
	$(BIN)/python -m ruff check .

clean:
	rm -rf $(VENV) var build *.egg-info
