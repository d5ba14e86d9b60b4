# borne: two set-up commands on a fresh Debian 12 machine, as root.
#   make demo   installs what it needs, then runs the whole system locally
#   make test   installs what it needs (PostgreSQL, Chromium …), then runs every test
SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# Debian packages the tests drive for real: PostgreSQL and Redis servers, a browser, tools;
# for public PCs a print server, cron and at, Firefox (a real profile to wipe), chattr;
# for the portal nftables, dnsmasq, curl and openssl in network namespaces, and the voice and
# encoder of its pages read aloud (PORTAL_AUDIO_PACKAGES); for deployment an SSH server to
# bootstrap and run Ansible against, and nginx in front of two controllers; WeasyPrint (Debian's)
# for the managers' monthly PDF report.
PORTAL_AUDIO_PACKAGES := espeak-ng lame
TEST_PACKAGES := postgresql redis-server chromium fonts-dejavu-core iproute2 procps \
  cups cups-client cups-bsd cron at firefox-esr e2fsprogs \
  nftables dnsmasq-base curl openssl prometheus openssh-server nginx weasyprint \
  lightdm unattended-upgrades x11-xserver-utils python3-apt python3-pkg-resources \
  $(PORTAL_AUDIO_PACKAGES)
SYSTEM_PACKAGES := python3-venv python3-dev gcc

.PHONY: install install-system install-test-services portal-audio kiosk-audio demo test test-fast lint format vendor bench clean translations

install: $(VENV)/.installed ## build .venv with the controller, the agent and the dev tools

$(VENV)/.installed: pyproject.toml | install-system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[dev]'
	touch $@

install-system: ## Debian packages needed to build the venv (skipped when present)
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); }

install-test-services: ## Debian packages the tests start and drive (skipped when present)
	@dpkg -s $(TEST_PACKAGES) >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEST_PACKAGES); }
	@# Debian starts the servers it installs where systemd runs; the tests start their own.
	@-systemctl disable --now prometheus ssh nginx 2>/dev/null || true
	@# The tests start private PostgreSQL servers of their own (tests/postgres.py).

portal-audio: install ## record the portal's pages read aloud, every language (captive_portal/audio/)
	@dpkg -s $(PORTAL_AUDIO_PACKAGES) >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PORTAL_AUDIO_PACKAGES); }
	$(BIN)/borne portal audio

kiosk-audio: install ## record the kiosk's touch page read aloud, every language (agent/kiosk/audio/)
	@dpkg -s $(PORTAL_AUDIO_PACKAGES) >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PORTAL_AUDIO_PACKAGES); }
	$(BIN)/python -m agent.kiosk.audio

demo: install portal-audio kiosk-audio ## run a controller and six simulated devices on http://127.0.0.1:8000
	$(BIN)/borne demo

test: install install-test-services lint ## the whole suite: unit, PostgreSQL, end-to-end, browser
	@# First, one at a time, the tests that change the machine itself and those that drive
	@# Chromium; then the others, on two workers (they have their own ports and databases).
	$(BIN)/pytest -m "machine or browser"
	$(BIN)/pytest -n 2 -m "not machine and not browser"

test-fast: install ## unit and database tests only
	$(BIN)/pytest -m "not e2e and not browser"

lint: install ## ruff on everything, mypy strict on the domain modules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The staff pages' catalogues: the kernel's (its pages, its API and its modules) and one per
# domain that has messages (see controller/i18n.py).
KERNEL_SOURCES := controller/web controller/api $(wildcard controller/*.py)
DOMAIN_DIRS := $(patsubst %/__init__.py,%,$(wildcard controller/*/__init__.py))
PYBABEL := $(BIN)/pybabel

translations: install ## extract the staff pages' messages, update the French catalogues, compile them (ONLY=controller/fleet: one)
	@set -e; for dir in $(or $(ONLY),controller/web $(filter-out controller/web controller/api controller/migrations,$(DOMAIN_DIRS))); do \
	  sources=$$dir; [ $$dir = controller/web ] && sources="$(KERNEL_SOURCES)"; \
	  mkdir -p $$dir/translations; \
	  $(PYBABEL) extract -F controller/babel.cfg -k _l --no-location --omit-header --sort-output \
	    -o $$dir/translations/messages.pot $$sources; \
	  if grep -q '^msgid "[^"]' $$dir/translations/messages.pot; then \
	    if [ -f $$dir/translations/fr/LC_MESSAGES/messages.po ]; then \
	      $(PYBABEL) update --no-fuzzy-matching --ignore-obsolete -i $$dir/translations/messages.pot -d $$dir/translations; \
	    else $(PYBABEL) init -i $$dir/translations/messages.pot -d $$dir/translations -l fr; \
	      sed -i '0,/^#, fuzzy$$/{/^#, fuzzy$$/d}' $$dir/translations/fr/LC_MESSAGES/messages.po; fi; \
	    $(PYBABEL) compile -d $$dir/translations; \
	  else rm -rf $$dir/translations; fi; \
	done

vendor: ## refresh front-end assets from the npm registry into controller/web/static/vendor
	controller/web/vendor.sh

bench: install install-test-services ## benchmarks: print their figures (about 20 minutes)
	@dpkg -s prometheus-node-exporter >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-node-exporter; }
	$(BIN)/python bench/agent_footprint.py
	$(BIN)/python bench/heartbeats.py
	$(BIN)/python bench/commands.py
	$(BIN)/python bench/reset.py
	$(BIN)/python bench/portal.py
	$(BIN)/python bench/portal_refresh.py
	$(BIN)/python bench/password_storm.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/rollout.py

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .ruff_cache
