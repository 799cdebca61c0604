# The course in two commands:
#   make lab    set up the course and open it in JupyterLab
#   make test   set up the tools and run the whole test suite
#
# Needs only Python 3.11+ and make (on Debian/Ubuntu also python3-venv). Two
# environments, both from requirements/lock.txt, so a library release cannot
# break the course:
#   .venv      the learner's: the course's runtime and JupyterLab, nothing else
#              (no nbgrader, so its server extensions never load in a student's Lab)
#   .venv-dev  the tests and the instructor's tools (pytest, playwright, ruff,
#              nbgrader, sphinx ...), used by every target but lab and workspace

PYTHON     ?= python3
VENV       ?= .venv
DEV_VENV   ?= .venv-dev
BIN        := $(VENV)/bin
DEV_BIN    := $(DEV_VENV)/bin
STAMP      := $(VENV)/.installed-stamp
DEV_STAMP  := $(DEV_VENV)/.installed-stamp
LOCK       := requirements/lock.txt
EXTRAS     ?= lab
DEV_EXTRAS ?= dev,instructor
PYTEST_WORKERS ?= 2
NPM_STAMP := node_modules/.package-lock.json

# Notebooks are executed and validated with widgets drawn as static figures,
# so the stored outputs are what a student sees on first open.
export COURSEKIT_STATIC_WIDGETS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help install install-dev lab workspace test lint unit nbval mutation notebooks student links slides site html serve-site bench gpu lock clean

help:
	@echo "make lab        install, build your workspace/ and open the course in JupyterLab"
	@echo "make test       install and run the whole test suite (lint, unit tests, notebooks)"
	@echo "make notebooks  re-execute notebooks/ in order and store their outputs"
	@echo "make student    build the student edition into student/"
	@echo "make links      Colab cells, README links and student/ from pyproject's [project.urls]"
	@echo "make slides     lecture decks (reveal.js, offline) into slides/; INSTRUCTOR=1: solution decks into slides-instructor/"
	@echo "make site       the course website (offline) into site/; INSTRUCTOR=1: with solutions, into site-instructor/"
	@echo "make html       notebooks as offline HTML pages into html/ (NB=notebooks/06_conv_arithmetic.ipynb for one)"
	@echo "make bench      run the benchmarks"
	@echo "make mutation   mutation testing of the core modules (slow; MODULES=\"losses optimizers\" for some)"
	@echo "make gpu        on a CUDA machine: the GPU tests and the GPU benchmark (full sizes)"

# $(call new_venv,FOLDER,EXTRAS): a fresh environment with coursekit and those extras.
define new_venv
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else "Python 3.11 or newer is needed, this is " + sys.version.split()[0] + ": run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(1) || { echo "python3 -m venv failed: on Debian/Ubuntu, apt-get install python3-venv"; exit 1; }
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet -c $(LOCK) -e ".[$(2)]"
	$(1)/bin/python scripts/install_data_files.py
	@touch $(1)/.installed-stamp
endef

$(STAMP): pyproject.toml $(LOCK)
	$(call new_venv,$(VENV),$(EXTRAS))

$(DEV_STAMP): pyproject.toml $(LOCK)
	$(call new_venv,$(DEV_VENV),$(DEV_EXTRAS))

install: $(STAMP)

install-dev: $(DEV_STAMP)

workspace: install
	$(BIN)/coursekit workspace --source notebooks --dest workspace

# Jupyter refuses to start as root unless told (containers, cloud shells often run as root).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: workspace
	env -u COURSEKIT_STATIC_WIDGETS $(BIN)/jupyter lab --notebook-dir=workspace $(ALLOW_ROOT)

lint: install-dev
	$(DEV_BIN)/ruff check coursekit tests benchmarks scripts notebooks
	$(DEV_BIN)/ruff format --check coursekit tests benchmarks scripts

# Tests run PYTEST_WORKERS processes side by side: one maths thread each keeps
# them from fighting over the cores (torch's default of one thread per core made
# a LeNet step 20x slower when two kernels shared two cores).
# The browser assets come from npm when it is installed; without npm the deck and
# site tests skip (and fail under CI=true, where .ci/run installs npm).
NPM_DEPS := $(if $(shell command -v npm),$(NPM_STAMP))

# --dist loadscope: one worker per test module, so a module's fixture (a grading run,
# a Lab server) is built once.
unit: install-dev $(NPM_DEPS)
	OMP_NUM_THREADS=1 $(DEV_BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope tests

nbval: install-dev
	OMP_NUM_THREADS=1 $(DEV_BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg -p no:cacheprovider notebooks

test: lint unit nbval

# Mutation testing (mutmut), one module at a time against its own tests; slow (minutes
# per module), so not part of `make test`. Results: benchmarks/results/mutation/,
# the last run and the equivalent survivors: docs/mutation.md.
MODULES ?=
mutation: install-dev
	$(DEV_BIN)/python scripts/mutation.py $(if $(MODULES),$(MODULES),--all)

notebooks: install-dev
	$(DEV_BIN)/python scripts/run_notebooks.py notebooks

student: install-dev
	$(DEV_BIN)/coursekit release notebooks student

# The Colab cell of every notebook and the README's Colab links, from [project.urls]
# in pyproject.toml, then the student edition into student/ (committed: Colab opens it).
links: install-dev
	$(DEV_BIN)/python scripts/course_links.py

# Browser assets (reveal.js, MathJax, axe-core) from npm, exactly as package-lock.json pins them.
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

# Decks, site and HTML pages are built from the stored outputs (nothing is executed);
# see scripts/course_web.py. INSTRUCTOR=1 builds the editions with solutions.
WEB_FLAGS := $(if $(INSTRUCTOR),--instructor)

slides: install-dev $(NPM_STAMP)
	$(DEV_BIN)/python scripts/course_web.py slides $(WEB_FLAGS)

site: install-dev $(NPM_STAMP)
	$(DEV_BIN)/python scripts/course_web.py site $(WEB_FLAGS)

NB ?= notebooks/*.ipynb
html: install-dev $(NPM_STAMP)
	$(DEV_BIN)/python scripts/course_web.py html $(WEB_FLAGS) $(NB)

# The built site on http://127.0.0.1:8000/ (any static file server will do).
PORT ?= 8000
serve-site:
	$(PYTHON) -m http.server --bind 127.0.0.1 --directory $(if $(INSTRUCTOR),site-instructor,site) $(PORT)

bench: install-dev
	$(DEV_BIN)/python benchmarks/bench_numpy.py
	$(DEV_BIN)/python benchmarks/bench_conv_parts.py
	$(DEV_BIN)/python benchmarks/bench_course.py
	$(DEV_BIN)/python benchmarks/bench_gpu.py

# The GPU code paths (skipped by `make test` where no CUDA GPU is visible) and the
# throughput benchmark at full sizes; record a run with
#   make gpu GPU_OUT=benchmarks/results/<gpu>.md
GPU_OUT ?=
gpu: install-dev
	$(DEV_BIN)/python -m pytest tests/test_gpu.py -rs -p no:cacheprovider
	$(DEV_BIN)/python benchmarks/bench_gpu.py --workers 2 8 $(if $(GPU_OUT),--out $(GPU_OUT))

lock: install-dev
	$(DEV_BIN)/python -m pip freeze --exclude-editable | grep -v '^coursekit' > $(LOCK)

clean:
	rm -rf $(VENV) $(DEV_VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis slides
	rm -rf slides-instructor site site-instructor html node_modules
