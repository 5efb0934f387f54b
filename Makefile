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

.PHONY: help figures notebooks figures-quick lab test unit bench clean-cache sync

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed -E 's/:.*## /\t/' | expand -t 16

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$$(grep '^pip==' $(LOCK))"
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

figures: $(STAMP)  ## one training sweep, then every notebook at the paper's settings, into paper-code/output/ (DEVICE=cuda: on a GPU)
	$(PY) paper-code/make_figures.py --mode paper

notebooks: $(STAMP)  ## like figures, and write the executed notebooks back to notebooks/ (to commit)
	$(PY) paper-code/make_figures.py --mode paper --inplace

lab: $(STAMP)  ## open the notebooks in JupyterLab (LAB_ARGS="--no-browser --port 8890" for a server)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

figures-quick: $(STAMP)  ## a small smoke run of every notebook
	$(PY) paper-code/make_figures.py --mode quick --out /tmp/cclib-quick

# The unit tests on every core (pytest-xdist); then the figures' training sweep at the paper's
# settings (every run in the registry, on every core); then nbval executes every notebook on
# those models and compares its checked outputs, one notebook per pytest-xdist worker
# (--dist loadscope keeps a notebook's cells together, in order, in one kernel). Each kernel
# computes on one core, and with CCLIB_CACHE_ONLY a run the sweep did not train fails a figure
# notebook, so the registry is checked too (as `make figures` does). explore.ipynb, the notebook
# for one's own variations, trains its own run and is checked on its own.
NBVAL := $(PY) -m pytest --nbval-lax --nbval-cell-timeout=1800 -p no:cacheprovider
test: $(STAMP)  ## unit tests, the training sweep at paper settings, then nbval over every notebook
	$(PY) -m pytest tests -n auto
	$(PY) paper-code/make_figures.py --mode paper --sweep-only
	CCLIB_CACHE_ONLY=1 CCLIB_WORKERS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(NBVAL) -n auto --dist loadscope notebooks/fig*.ipynb
	$(NBVAL) notebooks/explore.ipynb

unit: $(STAMP)  ## the unit tests alone, on every core
	$(PY) -m pytest tests -n auto

bench: $(STAMP)  ## speed against the straightforward implementation; writes benchmarks/results.json
	$(PY) benchmarks/bench.py

sync: $(STAMP)  ## pair each notebook's .py and .ipynb
	$(VENV)/bin/jupytext --sync notebooks/*.py

clean-cache:  ## empty data/ (trained models, loss curves, fits)
	rm -rf data/*.npz data/*.json data/.*.tmp
