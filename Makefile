# "Variational Autoencoders, hands on" -- every command sets itself up on first use.
#   make test      lint, chapters in sync with their text sources, unit tests, the wheel
#                  and README quick-start tests, every notebook under nbval and every student
#                  copy run with no answers (quick mode): CI
#   make book      HTML book from the stored notebook outputs into _build/html (warnings are errors)
#   make browser-test  the built book in headless Chromium (every page: offline, typeset, links,
#                  solutions, explorers, widths); screenshots in _build/screenshots
#   make lab       JupyterLab on the chapters (their .myst.md text sources open as notebooks)
#   make sync      copy each chapter's text source (book/*.myst.md) into its notebook, keeping outputs
#   make format    format the library, tests and chapters with ruff (and sync the text sources)
#   make execute   re-run every notebook top to bottom in full mode and store the outputs
#   make bench     benchmarks (not part of make test; BENCH=tests/benchmarks/test_x.py runs one); results in book/benchmarks
#   make robustness   every chapter's claims under book seeds 0, 1, 2 (CHAPTERS="01 02 03";
#                     RETRAIN=1 retrains Chapters 4-7's checkpoints per seed); book/benchmarks
#   make checkpoints  retrain every shipped checkpoint in data/checkpoints (seeded; about 1.5 h on 2 CPU cores)
#   make student   copies of the notebooks without solutions or outputs, in _build/student
#   make student-test  every student copy runs top to bottom with no answer written (quick mode)
#   make release   an nbgrader course from the chapters (grade IDs from the exercise labels,
#                  hidden tests, rubrics), in _build/release: source/, release/, gradebook.db
#   make gpu-wheels   download the notebook tools as wheels for the lent GPU machine, into .whl/
#   make gpu-check    on the lent GPU machine: the whole book and the GPU benchmarks in one call;
#                     DRY_RUN=1 tries the same script here, on the CPU in quick mode
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# torch first, pinned: a CPU wheel of 2.13.0 is on the build machines, and an unpinned torch
# pulls the newest release with several GB of CUDA packages. requirements.txt's ranges admit it.
TORCH := torch==2.13.0
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))

.PHONY: all install test lint format sync check-sync unit install-test notebooks book browser-test lab execute \
	check-notebooks student student-test release bench robustness checkpoints verify-checkpoints gpu-wheels gpu-check \
	clean

all: test book

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(INSTALLED)

test: lint check-sync unit install-test notebooks student-test

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# ruff formats the Python blocks of Markdown files (the exercises' solutions) and the
# notebooks' code cells. Sync first, so no unsynced edit of a text source is lost; format
# the text sources' Python blocks and sync them in; then format the code cells in the
# notebooks and write them back into the text sources.
format: sync
	$(BIN)/ruff format book/*.myst.md README.md
	$(BIN)/python -m vae_lib.notebooks sync $(NOTEBOOKS)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/python -m vae_lib.notebooks sync --from-notebook $(NOTEBOOKS)

sync: $(INSTALLED)
	$(BIN)/python -m vae_lib.notebooks sync $(NOTEBOOKS)

check-sync: $(INSTALLED)
	$(BIN)/python -m vae_lib.notebooks check-sync $(NOTEBOOKS)

unit: $(INSTALLED)
	$(PYTEST) -m "not install" tests

# A wheel of vae_lib in a fresh virtual environment, and the README's quick start in it.
install-test: $(INSTALLED)
	$(PYTEST) -m install tests

notebooks: $(INSTALLED)
	VAE_BOOK_MODE=quick $(PYTEST) --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-cell-timeout 600 book

book: $(INSTALLED)
	$(BIN)/python -m vae_lib.web_assets fetch
	rm -rf _build/html
	$(BIN)/jupyter-book build . --warningiserror --keep-going

# The built book as readers see it, in headless Chromium driven by selenium: no remote
# request, no console error, maths typeset, links resolve, solutions toggle, explorers
# move, nothing wider than the column; a screenshot of every page in _build/screenshots.
# Debian's chromium and chromium-driver are installed when missing.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser-test: book
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		  $(SUDO) apt-get install -y -qq chromium chromium-driver; }
	$(PYTEST) tests/browser

lab: $(INSTALLED)
	$(BIN)/jupyter lab book

execute: $(INSTALLED)
	VAE_BOOK_MODE=full $(BIN)/python -m vae_lib.notebooks execute $(NOTEBOOKS)

check-notebooks: $(INSTALLED)
	$(BIN)/python -m vae_lib.notebooks check $(NOTEBOOKS)

student: $(INSTALLED)
	$(BIN)/python -m vae_lib.notebooks student $(NOTEBOOKS) --out _build/student

# The chapters as an nbgrader course (vae_lib.release): nbgrader's generate_assignment
# writes release/ from source/; nothing is executed. Grade with
# `VAE_BOOK_MODE=quick nbgrader autograde chNN_name` in a copy of the folder.
# Each chapter's student copy, run in a fresh kernel with nothing answered: no error cell,
# and every exercise check says "Not yet".
student-test: $(INSTALLED)
	VAE_BOOK_MODE=quick $(PYTEST) tests/students

release: $(INSTALLED)
	$(BIN)/python -m vae_lib.release $(NOTEBOOKS) --out _build/release

checkpoints: $(INSTALLED)
	$(BIN)/python -m vae_lib.shipped build
	$(BIN)/python -m vae_lib.shipped verify

verify-checkpoints: $(INSTALLED)
	$(BIN)/python -m vae_lib.shipped verify

CHAPTERS ?= 01 02 03
robustness: $(INSTALLED)
	$(BIN)/python -m vae_lib.robustness --chapters $(CHAPTERS) $(if $(RETRAIN),--retrain)

BENCH ?= tests/benchmarks
bench: $(INSTALLED)
	$(PYTEST) $(BENCH) -s

gpu-wheels: $(INSTALLED)
	$(BIN)/python -m vae_lib.gpu_check wheels

# The lent GPU machine has no .venv and no network: there python3 is the one with PyTorch
# and CUDA, and the wheels in .whl/ (carried) supply the notebook tools. The archive and
# results.json go to $OUT there, to _build/gpu-check here.
GPU_CHECK_OUT ?= $(or $(OUT),_build/gpu-check)
gpu-check: $(if $(DRY_RUN),$(INSTALLED))
	$(if $(DRY_RUN),$(BIN)/python,python3) -m vae_lib.gpu_check run --out "$(GPU_CHECK_OUT)" \
		$(if $(DRY_RUN),--dry-run) $(GPU_CHECK_FLAGS)

clean:
	rm -rf _build .pytest_cache
