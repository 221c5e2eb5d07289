# MTZ-FEM: `make demo` and `make test` on a fresh clone, nothing else needed.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
MTZ   := $(VENV)/bin/mtz
MPIEXEC := $(VENV)/bin/mpiexec
NP    ?= 2
DEMO  ?= studies/demo.toml
# make study STUDY=<name in studies/ or a path> NP=<ranks>; RESUME=1 adds --resume
STUDY ?= energy_sweep_1550
STUDY_FILE = $(if $(wildcard $(STUDY)),$(STUDY),studies/$(STUDY).toml)
STUDY_NAME = $(basename $(notdir $(STUDY_FILE)))
# First Python >= 3.12 found (pyenv honours .python-version for `python3`).
PYTHON_CANDIDATES := python3 python3.13 python3.12 $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3)
FIND_PYTHON = for p in $(PYTHON_CANDIDATES); do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo $$p; break; fi; done

.PHONY: install demo test test-serial test-mpi bench bench-mesh bench-pipeline bench-mechanics clean clean-cache distclean help
.PHONY: study studies render
.PHONY: browser

help:
	@echo "make demo    - install into .venv and run $(DEMO) into results/demo/"
	@echo "make study STUDY=name NP=n - run studies/<name>.toml on n MPI ranks -> results/studies/<name>/"
	@echo "              (metrics.csv, plots, report.html; RESUME=1 skips finished cases)"
	@echo "make studies - run every study marked small = true in studies/ (NP ranks)"
	@echo "make render DIR=results/<case> - renders and report again from saved results"
	@echo "make test    - install into .venv and run the test suite, serial and on 2 MPI ranks"
	@echo "make bench   - transient heat solve against the DOLFINx tutorial pattern -> results/bench/bench.json"
	@echo "make bench-mesh - cells per region and mesh time against columns and patch size -> results/bench/mesh_scaling.json"
	@echo "make bench-pipeline - studies/patch_100.toml end to end on NP ranks: phases, peak memory -> results/bench/pipeline.json"
	@echo "make bench-mechanics - elasticity solver against the DOLFINx demo pattern (1.5 mm patch, NP ranks) -> results/bench/mechanics.json"
	@echo "make clean   - remove results and caches (keeps .venv); make distclean removes .venv"
	@echo "make install - create .venv and install the package with its test extras"
	@echo "make test-serial / make test-mpi - the serial half / the 2-rank half of make test"
	@echo "make clean-cache - empty the mesh cache (~/.cache/mtz-fem/meshes or \$$MTZ_MESH_CACHE)"
	@echo "make browser - install Debian chromium (root, apt) for tests/test_browser.py"

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@py=$$($(FIND_PYTHON)); \
	if [ -z "$$py" ]; then echo "error: MTZ-FEM needs Python 3.12 or newer (DOLFINx wheels); none found among: $(PYTHON_CANDIDATES)" >&2; exit 1; fi; \
	if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$py ($$($$py --version))"; $$py -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

demo: install
	$(MTZ) run $(DEMO) -o results/demo

test: install test-serial test-mpi

test-serial: install
	$(PY) -m pytest -q

test-mpi: install
	$(MPIEXEC) -n 2 $(PY) -m pytest -q -m "not serial and not slow" -p no:cacheprovider

bench: install
	$(PY) -m fem.bench --out results/bench

bench-mesh: install
	$(PY) -m fem.bench.mesh --out results/bench

bench-pipeline: install
	$(PY) -m fem.bench.pipeline --ranks $(NP) --out results/bench

bench-mechanics: install
	$(PY) -m fem.bench.mechanics --ranks $(NP) --out results/bench

study: install
	$(MPIEXEC) -n $(NP) $(MTZ) study $(STUDY_FILE) -o results/studies/$(STUDY_NAME)$(if $(RESUME), --resume)

studies: install
	@set -e; for s in $$(grep -l '^small *= *true' studies/*.toml); do \
	  n=$$(basename $$s .toml); echo "== study $$n on $(NP) rank(s) -> results/studies/$$n"; \
	  $(MPIEXEC) -n $(NP) $(MTZ) study $$s -o results/studies/$$n$(if $(RESUME), --resume); done

render: install
	@if [ -z "$(DIR)" ]; then echo "usage: make render DIR=results/<case>" >&2; exit 2; fi
	$(MTZ) render $(DIR)

clean:
	rm -rf results .pytest_cache build *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +

# Headless Chromium for tests/test_browser.py (the report opened in a real browser).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }
	@command -v chromium || command -v chromium-browser

clean-cache:
	rm -rf "$${MTZ_MESH_CACHE:-$$HOME/.cache/mtz-fem/meshes}"

distclean: clean
	rm -rf $(VENV)
