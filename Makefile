# The course in two commands:
#   make lab    set up everything and open the course in JupyterLab
#   make test   set up everything and run the whole test suite
#
# Needs only Python 3.11+ and make. Everything is installed into .venv from
# requirements/lock.txt, so a library release cannot break the course.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements/lock.txt
EXTRAS ?= dev,instructor
PYTEST_WORKERS ?= 2
NPM_STAMP := node_modules/.package-lock.json

# Notebooks are executed and validated with widgets drawn as static figures,
# so the stored outputs are what a student sees on first open.
export COURSEKIT_STATIC_WIDGETS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help install lab workspace test lint unit nbval mutation notebooks student slides site html serve-site bench gpu lock clean

help:
	@echo "make lab        install, build your workspace/ and open the course in JupyterLab"
	@echo "make test       install and run the whole test suite (lint, unit tests, notebooks)"
	@echo "make notebooks  re-execute notebooks/ in order and store their outputs"
	@echo "make student    build the student edition into student/"
	@echo "make slides     lecture decks (reveal.js, offline) into slides/; INSTRUCTOR=1: solution decks into slides-instructor/"
	@echo "make site       the course website (offline) into site/; INSTRUCTOR=1: with solutions, into site-instructor/"
	@echo "make html       notebooks as offline HTML pages into html/ (NB=notebooks/06_conv_arithmetic.ipynb for one)"
	@echo "make bench      run the benchmarks"
	@echo "make mutation   mutation testing of the core modules (slow; MODULES=\"losses optimizers\" for some)"
	@echo "make gpu        on a CUDA machine: the GPU tests and the GPU benchmark (full sizes)"

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else "Python 3.11 or newer is needed, this is " + sys.version.split()[0] + ": run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[$(EXTRAS)]"
	@touch $(STAMP)

install: $(STAMP)

workspace: install
	$(BIN)/coursekit workspace --source notebooks --dest workspace

# Jupyter refuses to start as root unless told (containers, cloud shells often run as root).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: workspace
	env -u COURSEKIT_STATIC_WIDGETS $(BIN)/jupyter lab --notebook-dir=workspace $(ALLOW_ROOT)

lint: install
	$(BIN)/ruff check coursekit tests benchmarks scripts notebooks
	$(BIN)/ruff format --check coursekit tests benchmarks scripts

# Tests run PYTEST_WORKERS processes side by side: one maths thread each keeps
# them from fighting over the cores (torch's default of one thread per core made
# a LeNet step 20x slower when two kernels shared two cores).
# The browser assets come from npm when it is installed; without npm the deck and
# site tests skip (and fail under CI=true, where .ci/run installs npm).
NPM_DEPS := $(if $(shell command -v npm),$(NPM_STAMP))

# --dist loadscope: one worker per test module, so a module's fixture (a grading run,
# a Lab server) is built once.
unit: install $(NPM_DEPS)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope tests

nbval: install
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg -p no:cacheprovider notebooks

test: lint unit nbval

# Mutation testing (mutmut), one module at a time against its own tests; slow (minutes
# per module), so not part of `make test`. Results: benchmarks/results/mutation/,
# the last run and the equivalent survivors: docs/mutation.md.
MODULES ?=
mutation: install
	$(BIN)/python scripts/mutation.py $(if $(MODULES),$(MODULES),--all)

notebooks: install
	$(BIN)/python scripts/run_notebooks.py notebooks

student: install
	$(BIN)/coursekit release notebooks student

# Browser assets (reveal.js, MathJax, axe-core) from npm, exactly as package-lock.json pins them.
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

# Decks, site and HTML pages are built from the stored outputs (nothing is executed);
# see scripts/course_web.py. INSTRUCTOR=1 builds the editions with solutions.
WEB_FLAGS := $(if $(INSTRUCTOR),--instructor)

slides: install $(NPM_STAMP)
	$(BIN)/python scripts/course_web.py slides $(WEB_FLAGS)

site: install $(NPM_STAMP)
	$(BIN)/python scripts/course_web.py site $(WEB_FLAGS)

NB ?= notebooks/*.ipynb
html: install $(NPM_STAMP)
	$(BIN)/python scripts/course_web.py html $(WEB_FLAGS) $(NB)

# The built site on http://127.0.0.1:8000/ (any static file server will do).
PORT ?= 8000
serve-site:
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory $(if $(INSTRUCTOR),site-instructor,site) $(PORT)

bench: install
	$(BIN)/python benchmarks/bench_numpy.py
	$(BIN)/python benchmarks/bench_course.py
	$(BIN)/python benchmarks/bench_gpu.py

# The GPU code paths (skipped by `make test` where no CUDA GPU is visible) and the
# throughput benchmark at full sizes; record a run with
#   make gpu GPU_OUT=benchmarks/results/<gpu>.md
GPU_OUT ?=
gpu: install
	$(BIN)/python -m pytest tests/test_gpu.py -rs -p no:cacheprovider
	$(BIN)/python benchmarks/bench_gpu.py --workers 2 8 $(if $(GPU_OUT),--out $(GPU_OUT))

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^coursekit' > $(LOCK)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis slides student
	rm -rf slides-instructor site site-instructor html node_modules
