# Two commands do everything on a fresh clone: `make figures` and `make test`.
# Both create .venv and install the project on first use, every package at the exact version in
# requirements.lock (torch's pin there makes pip take the CPU build instead of the CUDA one).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements.lock

.PHONY: figures notebooks figures-quick test unit bench clean-cache sync

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$$(grep '^pip==' $(LOCK))"
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

figures: $(STAMP)  ## every figure at the paper's settings, into paper-code/output/
	$(PY) paper-code/make_figures.py --mode paper

notebooks: $(STAMP)  ## like figures, and write the executed notebooks back to notebooks/ (to commit)
	$(PY) paper-code/make_figures.py --mode paper --inplace

figures-quick: $(STAMP)  ## a small smoke run of every notebook
	$(PY) paper-code/make_figures.py --mode quick --out /tmp/cclib-quick

test: $(STAMP)  ## unit tests, then nbval over every notebook (paper settings)
	$(PY) -m pytest tests
	$(PY) -m pytest --nbval-lax --nbval-cell-timeout=1800 notebooks -p no:cacheprovider

unit: $(STAMP)
	$(PY) -m pytest tests

bench: $(STAMP)  ## speed against the straightforward implementation; writes benchmarks/results.json
	$(PY) benchmarks/bench.py

sync: $(STAMP)  ## pair each notebook's .py and .ipynb
	$(VENV)/bin/jupytext --sync notebooks/*.py

clean-cache:
	rm -rf data/*.npz data/*.json data/.*.tmp
