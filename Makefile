# "Variational Autoencoders, hands on" -- every command sets itself up on first use.
#   make test      unit tests + every notebook under nbval in quick mode (what CI runs)
#   make book      HTML book from the stored notebook outputs into _build/html (warnings are errors)
#   make execute   re-run every notebook top to bottom in full mode and store the outputs
#   make bench     benchmarks (not part of make test; BENCH=tests/benchmarks/test_x.py runs one); results in book/benchmarks
#   make checkpoints  retrain every shipped checkpoint in data/checkpoints (seeded; about 45 min on 2 CPU cores)
#   make student   copies of the notebooks without solutions or outputs, in _build/student
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# torch first, pinned: a CPU wheel of 2.13.0 is on the build machines, and an unpinned torch
# pulls the newest release with several GB of CUDA packages. requirements.txt's ranges admit it.
TORCH := torch==2.13.0
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))

.PHONY: all install test unit notebooks book execute check-notebooks student bench checkpoints verify-checkpoints clean

all: test book

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(INSTALLED)

test: unit notebooks

unit: $(INSTALLED)
	$(PYTEST) tests

notebooks: $(INSTALLED)
	VAE_BOOK_MODE=quick $(PYTEST) --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-cell-timeout 600 book

book: $(INSTALLED)
	rm -rf _build/html
	$(BIN)/jupyter-book build . --warningiserror --keep-going

execute: $(INSTALLED)
	VAE_BOOK_MODE=full $(BIN)/python -m vae_lib.notebooks execute $(NOTEBOOKS)

check-notebooks: $(INSTALLED)
	$(BIN)/python -m vae_lib.notebooks check $(NOTEBOOKS)

student: $(INSTALLED)
	$(BIN)/python -m vae_lib.notebooks student $(NOTEBOOKS) --out _build/student

checkpoints: $(INSTALLED)
	$(BIN)/python -m vae_lib.pretrained build
	$(BIN)/python -m vae_lib.pretrained verify

verify-checkpoints: $(INSTALLED)
	$(BIN)/python -m vae_lib.pretrained verify

BENCH ?= tests/benchmarks
bench: $(INSTALLED)
	$(PYTEST) $(BENCH) -s

clean:
	rm -rf _build .pytest_cache
