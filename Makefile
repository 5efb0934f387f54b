# Two commands do everything on a fresh clone: `make figures` and `make test`.
# Both create .venv and install the project on first use, every package at the exact version in
# requirements.lock (torch's pin there makes pip take the CPU build instead of the CUDA one).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements.lock

# DEVICE=cuda (or cuda:1, mps) trains and evaluates on that torch device: `make figures DEVICE=cuda`.
DEVICE ?=
ifneq ($(DEVICE),)
export CCLIB_DEVICE := $(DEVICE)
endif

.PHONY: help setup figures notebooks figures-quick lab test unit store reproduce bench clean-cache sync

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed -E 's/:.*## /\t/' | expand -t 16

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$$(grep '^pip==' $(LOCK))"
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the project (every other target does it on first use)

# ONLY="fig06 fig12": those figures alone (`make figures ONLY=fig06`).
ONLY ?=
ONLY_FLAG := $(if $(strip $(ONLY)),--only $(ONLY))

figures: $(STAMP)  ## every figure at the paper's settings from the store's trained runs, into paper-code/output/ (ONLY=fig06: one; DEVICE=cuda: retrained on a GPU)
	$(PY) paper-code/make_figures.py --mode paper $(ONLY_FLAG)

notebooks: $(STAMP)  ## like figures, and write the executed notebooks back to notebooks/ (to commit)
	$(PY) paper-code/make_figures.py --mode paper --inplace

lab: $(STAMP)  ## open the notebooks in JupyterLab (LAB_ARGS="--no-browser --port 8890" for a server)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

figures-quick: $(STAMP)  ## a smoke run of every notebook at 300 steps (trains its own small runs: minutes, see README)
	$(PY) paper-code/make_figures.py --mode quick --out /tmp/cclib-quick $(ONLY_FLAG)

# What CI runs: a store that lacks a registry run under the current keys fails at once (naming the
# runs and `make store`); the unit tests on every core (pytest-xdist); a sampled reproduction
# (paper_runs.REPRODUCE_SAMPLE retrained cold and compared with the store); then nbval executes
# every figure notebook on the store's runs and compares its checked outputs, one notebook per
# pytest-xdist worker (--dist loadscope keeps a notebook's cells together, in order, in one
# kernel). Each kernel computes on one core, and with CCLIB_CACHE_ONLY a run that is not stored
# fails a figure notebook, so the registry is checked too. explore.ipynb, the notebook for one's
# own variations, trains its own run and is checked on its own.
NBVAL := $(PY) -m pytest --nbval-lax --nbval-cell-timeout=1800 -p no:cacheprovider
NBVAL_FIGURES := CCLIB_CACHE_ONLY=1 CCLIB_WORKERS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	$(NBVAL) -n auto --dist loadscope notebooks/fig*.ipynb
test: $(STAMP)  ## the store checked, unit tests, a sampled reproduction, then nbval over every notebook
	$(PY) paper-code/stages.py --out paper-code/output/test_timings.json \
		"store check=$(PY) paper-code/store.py check" \
		"unit tests=$(PY) -m pytest tests -n auto" \
		"sampled reproduction=$(PY) paper-code/store.py sample" \
		"nbval, figures=$(NBVAL_FIGURES)" \
		"nbval, explore=$(NBVAL) notebooks/explore.ipynb"

unit: $(STAMP)  ## the unit tests alone, on every core
	$(PY) -m pytest tests -n auto

store: $(STAMP)  ## train the registry runs the store (data/store/) lacks under the current keys, into it; then ship the notebooks' evaluations
	$(PY) paper-code/store.py fill

# The whole paper from scratch: every registry run retrained into an empty cache (the store
# hidden), every notebook executed on those models, then a report of what moved against the
# store (weights, final losses) and against the committed results (every claim's verdict and margin).
REPRO := paper-code/output/reproduce
reproduce: $(STAMP)  ## retrain every run from scratch, run every notebook on them, report against the store
	$(PY) -c 'from cclib import report; report.require_committed("make reproduce")'
	rm -rf $(REPRO) && mkdir -p $(REPRO)/cache $(REPRO)/no-store $(REPRO)/figures
	CCLIB_CACHE=$(CURDIR)/$(REPRO)/cache CCLIB_STORE=$(CURDIR)/$(REPRO)/no-store \
		$(PY) paper-code/make_figures.py --mode paper --out $(REPRO)/figures
	$(PY) paper-code/store.py report --cache $(REPRO)/cache --results $(REPRO)/figures --out $(REPRO)/report.md

bench: $(STAMP)  ## speed against the straightforward implementation; writes benchmarks/results.json
	$(PY) benchmarks/bench.py

sync: $(STAMP)  ## pair each notebook's .py and .ipynb
	$(VENV)/bin/jupytext --sync notebooks/*.py

clean-cache:  ## empty the local cache data/ (loss curves, fits, runs trained here); the store stays
	rm -rf data/*.npz data/*.json data/.*.tmp
