# Two commands set everything up on a fresh machine: `make bench` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export SANDWICH_DATA ?= $(abspath ../shared/data)
export WANDB_MODE ?= offline
export HF_HUB_OFFLINE := 1

.PHONY: help install test test-full bench speed plot checkpoints-doc clean

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

test: $(STAMP)  ## fast tests (not slow)
	$(PY) -m pytest -m "not slow" -q

test-full: $(STAMP)  ## all tests, including slow ones and the notebook
	$(PY) -m pytest -q

bench: $(STAMP)  ## every method in conf/bench.yaml on the shared test sets -> results/
	$(PY) -m sandwich.bench

speed: $(STAMP)  ## every sandwich method vs its reference codec (HDR: heic10, SR: heic_full) on 1024² images, as time ratios
	$(PY) -m sandwich.speed

plot: $(STAMP)  ## redraw RD plots and BD tables from results/*.json
	$(PY) -m sandwich.bench plot_only=true


checkpoints-doc: $(STAMP)  ## regenerate the file table in docs/checkpoints.md from checkpoints/*.pt
	$(PY) scripts/checkpoints_doc.py

clean:  ## remove caches, logs and the virtual environment
	rm -rf $(VENV) .pytest_cache logs outputs wandb **/__pycache__
