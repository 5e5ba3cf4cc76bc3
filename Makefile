# One command per job; each installs what it needs (OpenBLAS from Debian's packages) first.
SHELL := /bin/bash
CARGO ?= cargo
BIN := target/release/mlp

# Tests run in-process, where OpenBLAS cannot be re-executed onto its fast kernels the way the
# `mlp` binary does it: hand them the best core this CPU really supports (never a forced one).
FAST_CORE = core=$$($(BIN) info | awk '/best_core_for_cpu/ {print $$2}'); \
	if [ -z "$$OPENBLAS_CORETYPE" ] && [ "$$core" != none ]; then export OPENBLAS_CORETYPE=$$core; fi

.PHONY: setup build test sweep layers-4e reproduce reproduce-check reference-check numpy-check bench compare compare-study bench-scaling venv lint clean

## setup: install what is missing (idempotent; apt-get as root or via sudo): the system OpenBLAS and
## pkg-config, and Fashion-MNIST (Debian's dataset-fashion-mnist, for --dataset fashion-mnist)
SETUP_PACKAGES = $$(pkg-config --exists openblas 2>/dev/null || echo libopenblas-dev pkg-config) \
	$$([ -d /usr/share/datasets/fashion-mnist ] || echo dataset-fashion-mnist)
setup:
	@missing="$(SETUP_PACKAGES)"; missing=$$(echo $$missing); \
	if [ -z "$$missing" ]; then \
		echo "setup: OpenBLAS and Fashion-MNIST present"; \
	else \
		echo "setup: installing $$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "setup: cargo not found; install Rust from rustup.rs"; exit 1; }

## build: release binary target/release/mlp
build: setup
	$(CARGO) build --release

## test: the whole test suite (unit, integration, gradient checks, CLI)
test: build
	@$(FAST_CORE); echo "test: OPENBLAS_CORETYPE=$${OPENBLAS_CORETYPE:-auto}"; \
		$(CARGO) test --release --workspace

## lint: formatting and clippy, as CI expects them
lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

## sweep: the main job; every run of the study (experiments/study.toml) into results/study/,
## in parallel on all cores; rerunning skips finished runs (SWEEP=file and SWEEP_FLAGS=... to change)
SWEEP ?= experiments/study.toml
SWEEP_FLAGS ?=
sweep: build
	$(BIN) sweep $(SWEEP) $(SWEEP_FLAGS)

## layers-4e: why the ten-layer 4e does worse (docs/4e.md): experiments/layers-4e.toml with per-layer
## diagnostics into results/layers-4e/ (14 runs, about 10 minutes on 2 busy cores; rerunning skips
## finished runs), then docs/4e-layers.png and the quoted figures on stdout (scripts/plot_layers.py)
layers-4e: build
	$(BIN) sweep experiments/layers-4e.toml --out results/layers-4e
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q -r scripts/requirements-plot.txt
	$(VENV)/bin/python scripts/plot_layers.py results/layers-4e --out docs/4e-layers.png --table -

## modern: today's recipe against the study's `all` model (docs/modern.md): experiments/modern.toml,
## each modern part swapped into `all` one at a time, a modern recipe and its ablations, on MNIST and
## Fashion-MNIST over 5 seeds with an honest test set, into results/modern/ (90 runs, about 22 minutes
## on 2 busy cores; rerunning skips finished runs; the comparisons end results/modern/summary.md)
.PHONY: modern
modern: build
	$(BIN) sweep experiments/modern.toml --out results/modern

## reproduce: the report's table (results/report/table.md) from the ten report runs
reproduce: build
	$(BIN) reproduce --out results/report

## reproduce-check: the ten report runs trained now into a fresh temporary directory; asserts the six
## task-3 rows match the report, and that the reference path is byte-identical: the sha256 of every
## steps.csv and checks.csv (elapsed_s aside) against tests/fixtures/reference-hashes.txt (made with
## scripts/reference_hashes.py; skipped on another OpenBLAS core, whose GEMM rounds differently)
reproduce-check: build
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
		$(BIN) reproduce --out "$$tmp" --quiet --checkpoint-every 0 && \
		python3 scripts/reference_hashes.py "$$tmp" --check tests/fixtures/reference-hashes.txt --binary $(BIN) && \
		$(FAST_CORE) && MLP_REPRODUCE_DIR="$$tmp" $(CARGO) test --release --test reproduce -- --ignored

reference-check: reproduce-check

## numpy-check: numpy (with the safetensors package, installed into .venv) reads the model file of a
## fresh run and computes the run's validation accuracy: the study's `all` model and a ReLU + AdamW +
## dropout one with every layer's bias ([64, 32], --bias all)
numpy-check: build
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q -r scripts/requirements-model.txt
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
		$(BIN) train --preset all --epochs 3 --quiet --out "$$tmp/all" >/dev/null && \
		$(VENV)/bin/python scripts/check_model_numpy.py "$$tmp/all" && \
		$(BIN) train --activation relu --init he --optimizer adamw --lr 0.001 --weight-decay 0.01 \
			--dropout 0.2 --bias all --hidden 64,32 --epochs 2 --quiet --out "$$tmp/relu" >/dev/null && \
		$(VENV)/bin/python scripts/check_model_numpy.py "$$tmp/relu"

## torch-check: PyTorch (float64, one thread; installed into .venv on first use) replays seven fresh
## two-epoch runs of the modern recipe from the same initial weights and batches (SGD + momentum +
## L2, Adam with ReLU + He, Adam + L2 + step, AdamW + warm-up + cosine, AdamW [64, 32], and
## --bias all with AdamW and SGD): every step's loss and lr and the final weights and biases must
## agree within 1e-9 (not part of `make test` or CI)
.PHONY: torch-check
torch-check: build
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q -r scripts/requirements-torch.txt
	$(VENV)/bin/python scripts/check_torch.py

## bench: criterion benchmarks (GEMM shapes and peak, sparse kernels, training steps, W1-W4)
bench: build
	@mkdir -p target && touch target/bench-start
	@$(FAST_CORE); $(CARGO) bench --bench gemm --bench training
	python3 scripts/bench_table.py --since target/bench-start > results/bench/criterion.md
	@echo "bench: medians in results/bench/criterion.md"

## compare: W1-W4 in numpy (f64, f32) and PyTorch (1 and 2 threads) against mlp, interleaved;
## writes results/bench/compare.md (installs numpy and torch into .venv on first use)
VENV := .venv
venv:
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q -r scripts/requirements-compare.txt -r scripts/requirements-plot.txt

compare: build venv
	$(VENV)/bin/python scripts/compare.py

## compare-study: W5, the whole study sweep to early stop (f64), `mlp sweep` vs the same runs in
## numpy (scripts/reference_numpy.py, 2 processes at a time); writes results/bench/compare-study.md
## (takes 10+ minutes; COMPARE_STUDY_FLAGS=--quick for a truncated smoke test)
COMPARE_STUDY_FLAGS ?=
compare-study: build venv
	$(VENV)/bin/python scripts/compare_study.py $(COMPARE_STUDY_FLAGS)

## bench-scaling: mlp (f32, f64; 1 and 2 threads; the default plan and the reference kernels)
## against numpy f32 and PyTorch off the study's shape: hidden widths 32-1024, depth 1 and 2,
## batch 32-512, interleaved; plus the whole-process wall time and peak RSS of W1 and of the study
## sweep. Writes results/bench/scaling.md and scaling.png (about 25 minutes;
## BENCH_SCALING_FLAGS=--quick for a subset in about 2)
BENCH_SCALING_FLAGS ?=
bench-scaling: build venv
	$(VENV)/bin/python scripts/bench_scaling.py $(BENCH_SCALING_FLAGS)

## bench-modern: training time of today's recipe (issue 20: improved sigmoid, ReLU + He, momentum,
## Adam, AdamW, weight decay, dropout, cosine) against plain SGD at W1 (one 60k epoch, [64] / 32,
## f32, one thread) and at [256] / 128, paired rounds in rotated order; writes
## results/bench-modern/w1.md and .json (about 2.5 minutes; BENCH_MODERN_FLAGS=--reps 15 for more
## rounds; needs only numpy, installed into .venv)
BENCH_MODERN_FLAGS ?=
.PHONY: bench-modern
bench-modern: build
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q numpy
	$(VENV)/bin/python scripts/bench_modern.py $(BENCH_MODERN_FLAGS)

clean:
	$(CARGO) clean

## slurm-test: a live one-node Slurm cluster (installed and started under a temporary directory)
## runs a sweep as a job array of 3 shards through scripts/slurm/sweep-array.sh; the merged
## summary must equal an unsharded sweep's (see scripts/slurm/test-cluster.sh)
.PHONY: slurm-test
slurm-test: build
	bash scripts/slurm/test-cluster.sh
