# emocli — `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
EMOCLI := $(VENV)/bin/emocli
TORCH_VERSION ?= 2.13.0

# Where the demo lives: generated data and its workspace.
DEMO_DATA ?= emocli-demo
DEMO_WORK ?= emocli-work
export EMOCLI_WORKDIR := $(abspath $(DEMO_WORK))

# The shared real datasets (absent on users' machines: real-data targets skip).
DATASETS ?= ../shared/datasets

STAMP := $(VENV)/.installed

.PHONY: help setup test test-robust lint format bench bench-real demo demo-data clean

help: ## Show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned to the local CPU build; the open range in pyproject is then satisfied
	$(PY) -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --quiet -e ".[dev,onnx]"
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install emocli with its dev tools

test: $(STAMP) ## Run the test suite (fast; no benchmarks, no long real-data runs)
	$(PY) -m pytest -q -m "not slow and not bench and not robust"

# Counts of faults injected / bad inputs tried / crashes, quoted in docs/robustness.md.
ROBUST_COUNTS ?= $(DEMO_WORK)/robust-counts.json

test-robust: $(STAMP) ## Fault injection: SIGKILL/SIGINT every stage, locks, ENOSPC, corrupt files, fuzzing, bad media
	mkdir -p $(dir $(ROBUST_COUNTS)) && rm -f $(ROBUST_COUNTS)
	EMOCLI_ROBUST_COUNTS=$(abspath $(ROBUST_COUNTS)) EMOCLI_FUZZ_EXAMPLES=200 $(PY) -m pytest -q tests/robust
	@cat $(ROBUST_COUNTS)

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check emocli stages tests
	$(VENV)/bin/ruff format --check emocli stages tests
	$(VENV)/bin/mypy emocli stages

format: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff format emocli stages tests
	$(VENV)/bin/ruff check --fix emocli stages tests

bench: $(STAMP) ## Throughput benchmarks; writes docs/benchmarks.md
	$(PY) -m tests.benchmarks.run --out docs/benchmarks.md

bench-real: $(STAMP) ## Real-data experiments on $(DATASETS); regenerates docs/results.md sections
	@if [ ! -d "$(DATASETS)" ]; then echo "bench-real: $(DATASETS) not found, skipping"; exit 0; fi
	$(PY) -m tests.benchmarks.run --real --datasets $(DATASETS) --out docs/results.md

# ---------------------------------------------------------------- the demo pipeline
# Every stage on the synthetic demo data, as the commands a user would type, written once in
# emocli/demo/chain.py (the stage benchmark and the robustness suite run the same chain). Each
# command skips itself when its outputs are up to date: a second `make demo` recomputes nothing.

export PATH := $(abspath $(VENV))/bin:$(PATH)
W := $(abspath $(DEMO_WORK))
DEMO_SEED ?= 0

$(DEMO_DATA)/.done: | $(STAMP)
	emocli demo-data $(DEMO_DATA) --seed $(DEMO_SEED)
	touch $@

demo-data: $(DEMO_DATA)/.done ## Generate the synthetic demo dataset

demo: $(DEMO_DATA)/.done ## Set up, generate the demo data and run every stage on it
	$(PY) -m emocli.demo.chain $(DEMO_DATA) --workdir $(W)
	@$(PY) -m emocli.demo.summary $(W)/reports/demo/metrics.json
	@echo "report: $(W)/reports/demo/report.md"

clean: ## Remove the demo data, the workspace and caches (keeps .venv)
	rm -rf $(DEMO_DATA) $(DEMO_WORK) .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

include mk/recipes.mk
include mk/zoo.mk

# ---------------------------------------------------------------- recipes: thesis fusion

# The thesis's own AFEW predictions (docs/results.md, section "fusion").
THESIS_PREDICTIONS ?= $(DATASETS)/afew_thesis_predictions
THESIS_WORK ?= bench-work/thesis-fusion
THESIS_CSVS := audio_vgg16_spectrogram_images video_vgg16_sfew_frames video_vgg16_afew_frames
THESIS_EMOCLI = $(EMOCLI) $(1) --workdir $(THESIS_WORK)
THESIS_PRED := $(THESIS_WORK)/predictions

.PHONY: thesis-fusion
thesis-fusion: $(STAMP) ## Reproduce the thesis's AFEW fusion figures from its own predictions
	@if [ ! -d "$(THESIS_PREDICTIONS)" ]; then echo "thesis-fusion: $(THESIS_PREDICTIONS) not found, skipping"; exit 0; fi
	for name in $(THESIS_CSVS); do \
	  $(call THESIS_EMOCLI,import-predictions $(THESIS_PREDICTIONS)/$$name.csv --labels $(THESIS_PREDICTIONS)/labels.csv); \
	done
	$(call THESIS_EMOCLI,evaluate $(foreach n,$(THESIS_CSVS),$(THESIS_PRED)/$(n).h5) --split val -o $(THESIS_WORK)/reports/single)
	for video in sfew afew; do for method in mean weighted svm mlp; do \
	  $(call THESIS_EMOCLI,fuse $(THESIS_PRED)/video_vgg16_$${video}_frames.h5 $(THESIS_PRED)/audio_vgg16_spectrogram_images.h5 \
	    --method $$method -o $(THESIS_PRED)/fused-$$video-$$method.h5 --model-output $(THESIS_WORK)/models/fuser-$$video-$$method.h5); \
	done; done
	$(call THESIS_EMOCLI,fuse $(THESIS_PRED)/video_vgg16_sfew_frames.h5 $(THESIS_PRED)/audio_vgg16_spectrogram_images.h5 \
	  --method svm --svm-c 1 --svm-gamma 0.1 -o $(THESIS_PRED)/fused-sfew-svm-thesis.h5 --model-output $(THESIS_WORK)/models/fuser-sfew-svm-thesis.h5)
	$(call THESIS_EMOCLI,evaluate $(foreach m,mean weighted svm mlp svm-thesis,$(THESIS_PRED)/fused-sfew-$(m).h5) \
	  $(foreach m,mean weighted svm mlp,$(THESIS_PRED)/fused-afew-$(m).h5) --split val -o $(THESIS_WORK)/reports/fused)
	@echo "reports: $(THESIS_WORK)/reports/single/report.md $(THESIS_WORK)/reports/fused/report.md"

bench-finetune: $(STAMP) ## finetune's real-data runs only (FER2013, CK+48, SFEW, RAVDESS); part of bench-real
	@if [ ! -d "$(DATASETS)" ]; then echo "bench-finetune: $(DATASETS) not found, skipping"; exit 0; fi
	$(PY) -m tests.benchmarks.run --real --only finetune --datasets $(DATASETS) --out docs/results.md

.PHONY: bench-finetune
