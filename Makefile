# Two commands set everything up on a fresh machine: `make bench` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export SANDWICH_DATA ?= $(abspath ../shared/data)
export WANDB_MODE ?= offline
export HF_HUB_OFFLINE := 1

.PHONY: help install test test-full fuzz bench speed train-speed train-time plot checkpoints-doc browser clean clean-runs

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: $(STAMP)  ## create .venv with torch==2.13.0 (CPU) and the package (editable)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	# cvvdp declares torchvision and a CUDA torch; install it alone and shim torchvision at import
	$(PY) -m pip install -q --no-deps cvvdp==0.5.7
	$(PY) -c "import torch, sys; v = torch.__version__; sys.exit(0 if v.startswith('2.13.0') and not torch.cuda.is_available() else 'unexpected torch ' + v)"
	touch $(STAMP)

test: $(STAMP) browser  ## fast tests (not slow); installs Chromium for the report's browser test when it can
	$(PY) -m pytest -m "not slow" -q

test-full: $(STAMP)  ## all tests, including slow ones and the notebook
	$(PY) -m pytest -q

FUZZ_MUTANTS ?= 5000
FUZZ_SEED ?= 1
fuzz: $(STAMP)  ## the CLI on thousands of mutated bitstreams (FUZZ_MUTANTS, FUZZ_SEED): one line, no hang, bounded memory
	SANDWICH_FUZZ_MUTANTS=$(FUZZ_MUTANTS) SANDWICH_FUZZ_SEED=$(FUZZ_SEED) $(PY) -m pytest -q -p no:cacheprovider tests/test_untrusted.py -k fuzzed

bench: $(STAMP)  ## every method in conf/bench.yaml on the shared test sets -> results/
	$(PY) -m sandwich.bench

speed: $(STAMP)  ## every sandwich method vs its reference codec (HDR: heic10, SR: heic_full) on 1024² images, as time ratios
	$(PY) -m sandwich.speed

train-speed: $(STAMP)  ## sandwich training crops/s in fp32 and bf16 autocast side by side, and the real-JPEG rate fit's share (ARGS=overrides)
	$(PY) -m sandwich.tools.train_speed $(ARGS)

train-time: $(STAMP)  ## each experiment's default training run, timed on this machine from a few real steps (ARGS=experiments)
	$(PY) -m sandwich.tools.train_time $(ARGS)

plot: $(STAMP)  ## redraw RD plots and BD tables from results/*.json
	$(PY) -m sandwich.bench plot_only=true

browser:  ## Debian's Chromium for the report's headless-browser test (root; ~1.5 min, ~115 packages, 113 MB)
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "make browser: could not install chromium; the report's browser test will be skipped" >&2

checkpoints-doc: $(STAMP)  ## regenerate the file table in docs/checkpoints.md from checkpoints/*.pt
	$(PY) scripts/checkpoints_doc.py

clean:  ## remove caches, scratch logs and the virtual environment; keeps trained runs (logs/train), eval and bench run folders (logs/eval, logs/hydra)
	rm -rf $(VENV) .pytest_cache outputs wandb logs/debug logs/csv
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-runs:  ## delete logs/ entirely: every trained run (checkpoints, W&B) and eval run folder
	rm -rf logs
