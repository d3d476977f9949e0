# Crossdock: `make up` runs the product, `make test` runs the suite. Both build .venv from the lock.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

.PHONY: up test test-fast lint bench browser wrk haproxy guide-tools oidc-provider compose-tool compose-check lock migration clean docs .venv
.DEFAULT_GOAL := help

help:
	@echo "make up     start receiver, Dagster and Streamlit with demo data"
	@echo "make test   run the gates (make lint) and the test suite"
	@echo "make test-fast  the quick tests only (no processes, no PostgreSQL/MariaDB)"
	@echo "make bench  run the benchmarks against their targets and baselines (BENCH=mapping for one)"
	@echo "make docs   regenerate the reference pages and build the documentation site (site/)"
	@echo "make compose-check  build the image and run docker-compose.yml for real (podman), send seed 000's curl"

# Python may cache compiled modules (__pycache__, ignored by git): a machine-wide PYTHONDONTWRITEBYTECODE
# made every test worker and every process compile the project from source again, seconds each time.
unexport PYTHONDONTWRITEBYTECODE

.venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set, nothing is cached at run time,
	# and every process (each test worker, each Dagster run, the CLI) would compile Dagster from source.
	$(BIN)/uv pip sync -q --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

# Debian's Chromium drives the end-to-end browser tests; Playwright never downloads a browser here.
browser:
	@test -x /usr/bin/chromium || { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "chromium could not be installed: browser tests will skip (fail under CROSSDOCK_REQUIRE_SERVICES=1)"; }

# wrk generates the receiver benchmark's load (Debian's package; never a download of our own).
wrk:
	@command -v wrk >/dev/null || { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
		|| echo "wrk could not be installed: the receiver benchmarks will fail to run"; }

# Node.js, PHP and poppler run the integration guide's code samples and look at its PDF in the tests
# (Debian's packages; the samples themselves need nothing beyond each language's standard library).
guide-tools:
	@{ command -v node && command -v php && command -v pdftoppm; } >/dev/null || { (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs php-cli poppler-utils >/dev/null) \
		|| echo "nodejs/php-cli/poppler-utils could not be installed: the guide sample tests will skip (fail under CROSSDOCK_REQUIRE_SERVICES=1)"; }

# node-oidc-provider (a certified OpenID provider, pinned with its dependencies in tests/oidc/package-lock.json)
# is the identity provider of the single sign-on browser tests; npm installs it into tests/oidc/node_modules.
OIDC_STAMP := tests/oidc/node_modules/.installed
oidc-provider: guide-tools
	@$(MAKE) -s $(OIDC_STAMP) || echo "oidc-provider could not be installed: the single sign-on tests will skip (fail under CROSSDOCK_REQUIRE_SERVICES=1)"

$(OIDC_STAMP): tests/oidc/package.json tests/oidc/package-lock.json
	@command -v npm >/dev/null || { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null); }
	cd tests/oidc && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# Debian's docker-compose (the seed's own command) validates docker-compose.yml in the tests.
compose-tool:
	@command -v docker-compose >/dev/null || { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null) \
		|| echo "docker-compose could not be installed: its validation of docker-compose.yml will skip (fail under CROSSDOCK_REQUIRE_SERVICES=1)"; }

# The on-premise install for real: Debian's podman serves the Docker API, docker-compose starts the stack
# from images built here (base images by debootstrap), waits for every health check, sends seed 000's curl.
compose-check: compose-tool
	@command -v podman >/dev/null && command -v debootstrap >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null; }
	deploy/compose_check.sh

# HAProxy balances several receivers in the scale-out test and the receiver benchmark (Debian's package).
haproxy:
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null) \
		|| echo "haproxy could not be installed: the load-balancer tests will skip (fail under CROSSDOCK_REQUIRE_SERVICES=1)"; }

up: .venv
	$(BIN)/crossdock up

test: .venv browser haproxy guide-tools oidc-provider compose-tool lint
	$(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

# The quick loop: pure tests and the SQLite store; no processes, no servers, no app pages (under a minute).
test-fast: .venv
	$(BIN)/python -m pytest -n 2 -q -m "(unit or db) and not postgres and not mariadb" $(PYTEST_ARGS)

# The gates CI runs before the tests: style and bugs (ruff), types of the domain (mypy), the layer rule.
lint: .venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pipelines
	$(BIN)/lint-imports

bench: .venv wrk haproxy
	$(BIN)/python -m bench $(BENCH)

# The documentation site: regenerate the reference pages from the code, then build site/ offline
# (strict: a broken link or anchor fails the build).
docs: .venv
	$(BIN)/python docs/generate.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Re-pin requirements.lock after editing pyproject.toml's dependencies (keeps existing pins where it can).
# requirements-runtime.lock is the image's: the runtime dependencies only (no `dev` extra), constrained
# to requirements.lock's pins, so the image runs exactly the versions the tests ran.
lock: .venv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --no-header -q -c requirements.lock -o requirements-runtime.lock

# Rewrite the initial migration from pipelines/store/schema.py (see pipelines/store/autogenerate.py).
migration: .venv
	$(BIN)/python -m pipelines.store.autogenerate

clean:
	rm -rf $(VENV) .crossdock tests/oidc/node_modules
