# vio_sbc — set-up and run targets. See README.md.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
CONFIG ?= config/vio.yaml
STAMP  := $(VENV)/.vio-installed

.PHONY: install run test lint bench clean

# Brings the Debian packages and .venv (vio-sbc, server pjsua2, test extras) up to date.
# Quick when nothing changed: apt checks dpkg only, the pjsua2 wheel is cached
# under ~/.cache/vio_sbc, and pip runs only when setup.cfg or the build script changed.
install: $(STAMP)
	@scripts/apt-deps.sh
	@$(PY) scripts/check_pjsua2.py

$(STAMP): setup.cfg pyproject.toml scripts/build-pjsua2.sh scripts/apt-deps.sh $(wildcard scripts/pjproject-patches/*.patch)
	@scripts/apt-deps.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install -U "pip>=24" setuptools wheel
	@wheel=$$(scripts/build-pjsua2.sh $(abspath $(PY)) | tail -1) && $(PIP) install --force-reinstall --no-deps "$$wheel"
	@$(PIP) install -e ".[test]"
	@touch $(STAMP)

run: install
	$(VENV)/bin/vio-sbc run -c $(CONFIG)

test: install lint
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check vio_sbc tests scripts $(wildcard bench)
	$(VENV)/bin/mypy

bench: install
	@$(PIP) install -e ".[test,bench]"
	$(PY) bench/capacity.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
