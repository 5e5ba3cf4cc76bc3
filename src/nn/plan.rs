//! The execution plan: which kernel every part of a network runs, decided once per run from the
//! configuration, the precision and the layer shapes, and recorded in `config.json`.

use serde::Serialize;

use crate::config::{FirstLayer, Kernels, OptimizerKind, Precision, TrainConfig};
use kernels::layers::Math;

/// How a training step computes the first layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FirstLayerTrain {
    /// Dense GEMM on the normalised batch, gradient then update.
    Dense,
    /// Sparse raw pixels; the weight gradient formed, then the optimiser's update.
    Sparse,
    /// Sparse raw pixels with plain SGD: the optimiser applies the gradient in the same pass that
    /// forms it, and leaves the next forward's offset ready.
    SparseFusedSgd,
}

impl FirstLayerTrain {
    pub fn is_sparse(self) -> bool {
        self != FirstLayerTrain::Dense
    }
}

/// How evaluation computes the first layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FirstLayerEval {
    /// Dense GEMM on the normalised images.
    Dense,
    /// Sparse raw pixels of groups of similar images.
    Grouped,
}

/// The e^x of the activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpFn {
    /// The C library's, one call per element.
    Libm,
    /// The vectorised polynomial of `kernels::fastmath` (within 2 ulp of libm).
    Polynomial,
}

/// How a hidden layer's input gradient dout @ W^T is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputGradient {
    /// GEMM with the transpose flag.
    TransposeFlag,
    /// Plain GEMM on a transposed copy of W (faster in OpenBLAS at these shapes).
    TransposedCopy,
}

/// Every kernel decision of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub kernels: Kernels,
    pub first_layer_train: FirstLayerTrain,
    pub first_layer_eval: FirstLayerEval,
    pub exp: ExpFn,
    pub hidden_input_gradient: InputGradient,
}

/// Whether `auto` trains a first layer of `units` at `batch` images a step sparse: where it
/// measured faster than dense GEMM on cold batches of the shuffled 60k set, on this project's
/// 2-core machine (results/bench/BENCHMARKS.md, "Figures behind the code"). Sparse work grows with
/// the non-zero pixels, dense with all of them but at GEMM speed, which in f32 catches up once the
/// layer is wide and the batch large; in f64 sparse stayed ahead on the whole grid.
const fn sparse_training_pays(precision: Precision, units: usize, batch: usize) -> bool {
    const SMALLEST: usize = 32;
    match precision {
        Precision::F32 => units >= SMALLEST && !(units >= 1024 && batch >= 128),
        Precision::F64 => units >= SMALLEST,
    }
}

/// Whether the hidden layers' input gradients run on a transposed copy of W: it pays where
/// OpenBLAS's transpose flag is slow, on small matrices; copying a large W every step costs more
/// than the flag (measured at [1024, 1024], batch 32). `sizes` are the layer widths, input first.
fn transposed_copy_pays(sizes: &[usize]) -> bool {
    const LARGEST_COPIED: usize = 256 * 256;
    sizes[1..].windows(2).all(|w| w[0] * w[1] <= LARGEST_COPIED)
}

impl Plan {
    /// The dense, libm, gradient-then-update path that reproduces the 2021 numbers bit for bit.
    pub const REFERENCE: Plan = Plan {
        kernels: Kernels::Reference,
        first_layer_train: FirstLayerTrain::Dense,
        first_layer_eval: FirstLayerEval::Dense,
        exp: ExpFn::Libm,
        hidden_input_gradient: InputGradient::TransposeFlag,
    };

    /// Resolves the plan of a network of layer widths `sizes` (input first) trained in
    /// `precision` on batches of `batch` images; the first layer's update is fused into its
    /// gradient pass only for `plain_sgd` (no momentum, no weight decay, not Adam).
    pub fn resolve(
        kernels: Kernels,
        first_layer: FirstLayer,
        precision: Precision,
        sizes: &[usize],
        batch: usize,
        plain_sgd: bool,
    ) -> Plan {
        let fast = kernels == Kernels::Fast;
        let sparse = match first_layer {
            FirstLayer::Dense => false,
            FirstLayer::Sparse => true,
            FirstLayer::Auto => fast && sparse_training_pays(precision, sizes[1], batch),
        };
        let first_layer_train = match (sparse, fast && plain_sgd) {
            (false, _) => FirstLayerTrain::Dense,
            (true, false) => FirstLayerTrain::Sparse,
            (true, true) => FirstLayerTrain::SparseFusedSgd,
        };
        let grouped = match first_layer {
            FirstLayer::Dense => false,
            FirstLayer::Sparse => true,
            FirstLayer::Auto => fast,
        };
        Plan {
            kernels,
            first_layer_train,
            first_layer_eval: if grouped { FirstLayerEval::Grouped } else { FirstLayerEval::Dense },
            exp: if fast { ExpFn::Polynomial } else { ExpFn::Libm },
            hidden_input_gradient: if fast && transposed_copy_pays(sizes) {
                InputGradient::TransposedCopy
            } else {
                InputGradient::TransposeFlag
            },
        }
    }

    /// The plan of `cfg` for inputs of `inputs` values (the bias column included).
    pub fn for_config(cfg: &TrainConfig, inputs: usize) -> Plan {
        let sizes = cfg.layer_sizes(inputs);
        let plain_sgd = cfg.optimizer == OptimizerKind::Sgd && cfg.momentum == 0.0 && cfg.weight_decay == 0.0;
        Plan::resolve(cfg.kernels, cfg.first_layer, cfg.precision, &sizes, cfg.batch_size, plain_sgd)
    }

    /// The activation kernels' e^x.
    pub fn math(&self) -> Math {
        match self.exp {
            ExpFn::Libm => Math::Libm,
            ExpFn::Polynomial => Math::Fast,
        }
    }
}

/// Where a step's threads pay, operation by operation: how many blocks each is split into over
/// the rayon pool the step runs in (a run's `--threads`). Kept apart from [`Plan`]: no kernel's
/// result depends on the number of blocks (the kernels split outputs, never a sum), so the
/// thread count stays out of the fingerprint. Small operations stay on the calling thread, where
/// waking a second one costs more than it saves (the study's W1 shape splits nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads(usize);

/// Smallest GEMM (multiply-adds) split in two; `gemm_par` itself keeps every block above the size
/// where OpenBLAS would switch kernels.
const GEMM_SPLIT_FROM: usize = 2 * kernels::blas::PAR_MIN_MACS;
/// Fewest values per block of an elementwise pass (activations, optimiser updates).
const ELEMENTWISE_BLOCK: usize = 1 << 15;
/// Fewest outputs per block of the sparse first layer (each a sum over an image's non-zeros).
const SPARSE_BLOCK: usize = 1 << 13;

impl Threads {
    /// One thread: nothing is split.
    pub const ONE: Threads = Threads(1);

    /// `n` threads (at least one).
    pub fn new(n: usize) -> Threads {
        Threads(n.max(1))
    }

    /// The threads of the rayon pool the caller runs in.
    pub fn current() -> Threads {
        Threads::new(rayon::current_num_threads())
    }

    /// Blocks of a GEMM of `m x n x k` multiply-adds.
    pub fn gemm(self, m: usize, n: usize, k: usize) -> usize {
        if m.saturating_mul(n).saturating_mul(k) >= GEMM_SPLIT_FROM {
            self.0
        } else {
            1
        }
    }

    /// Blocks of an elementwise pass over `values` values.
    pub fn elementwise(self, values: usize) -> usize {
        (values / ELEMENTWISE_BLOCK).clamp(1, self.0)
    }

    /// Blocks of the sparse first layer's `outputs` outputs.
    pub fn sparse(self, outputs: usize) -> usize {
        (outputs / SPARSE_BLOCK).clamp(1, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(kernels: Kernels, first: FirstLayer, p: Precision, units: usize, momentum: bool) -> Plan {
        Plan::resolve(kernels, first, p, &[785, units, 10], 32, !momentum)
    }

    #[test]
    fn reference_is_dense_libm_and_flagged_whatever_the_shape() {
        for units in [1, 32, 64, 1024] {
            for p in [Precision::F32, Precision::F64] {
                assert_eq!(plan(Kernels::Reference, FirstLayer::Auto, p, units, false), Plan::REFERENCE);
            }
        }
    }

    #[test]
    fn fast_trains_sparse_where_it_measured_faster() {
        let train = |p, units, m| plan(Kernels::Fast, FirstLayer::Auto, p, units, m).first_layer_train;
        assert_eq!(train(Precision::F32, 64, false), FirstLayerTrain::SparseFusedSgd);
        assert_eq!(train(Precision::F32, 64, true), FirstLayerTrain::Sparse);
        assert_eq!(train(Precision::F32, 32, false), FirstLayerTrain::SparseFusedSgd);
        assert_eq!(train(Precision::F32, 16, false), FirstLayerTrain::Dense);
        assert_eq!(train(Precision::F64, 32, false), FirstLayerTrain::SparseFusedSgd);
        assert_eq!(train(Precision::F64, 16, true), FirstLayerTrain::Dense);
        let p = plan(Kernels::Fast, FirstLayer::Auto, Precision::F32, 16, false);
        assert_eq!((p.first_layer_eval, p.exp), (FirstLayerEval::Grouped, ExpFn::Polynomial));
    }

    #[test]
    fn wide_f32_layers_at_large_batches_train_dense() {
        let train = |p, units, batch| {
            Plan::resolve(Kernels::Fast, FirstLayer::Auto, p, &[785, units, 10], batch, true).first_layer_train
        };
        assert_eq!(train(Precision::F32, 1024, 512), FirstLayerTrain::Dense);
        assert_eq!(train(Precision::F32, 1024, 128), FirstLayerTrain::Dense);
        assert_eq!(train(Precision::F32, 1024, 32), FirstLayerTrain::SparseFusedSgd);
        assert_eq!(train(Precision::F32, 256, 512), FirstLayerTrain::SparseFusedSgd);
        assert_eq!(train(Precision::F64, 1024, 512), FirstLayerTrain::SparseFusedSgd);
    }

    #[test]
    fn only_small_hidden_layers_get_a_transposed_copy() {
        let gradient = |sizes: &[usize]| {
            Plan::resolve(Kernels::Fast, FirstLayer::Auto, Precision::F32, sizes, 32, true).hidden_input_gradient
        };
        assert_eq!(gradient(&[785, 64, 64, 10]), InputGradient::TransposedCopy);
        assert_eq!(gradient(&[785, 1024, 10]), InputGradient::TransposedCopy);
        assert_eq!(gradient(&[785, 256, 256, 10]), InputGradient::TransposedCopy);
        assert_eq!(gradient(&[785, 1024, 1024, 10]), InputGradient::TransposeFlag);
    }

    #[test]
    fn the_study_shape_splits_nothing_and_wide_layers_split() {
        let two = Threads(2);
        // W1: [785, 64, 10] at batch 32.
        assert_eq!((two.gemm(32, 64, 785), two.gemm(785, 64, 32), two.gemm(32, 10, 64)), (1, 1, 1));
        assert_eq!((two.elementwise(32 * 64), two.elementwise(785 * 64), two.sparse(32 * 64)), (1, 1, 1));
        // [785, 1024, 10] at batch 512.
        assert_eq!((two.gemm(512, 1024, 785), two.gemm(785, 1024, 512)), (2, 2));
        assert_eq!((two.elementwise(512 * 1024), two.sparse(512 * 1024)), (2, 2));
        assert_eq!(Threads::ONE.gemm(512, 1024, 785), 1);
    }

    #[test]
    fn the_first_layer_override_changes_only_the_first_layer() {
        let dense = plan(Kernels::Fast, FirstLayer::Dense, Precision::F64, 64, false);
        assert_eq!((dense.first_layer_train, dense.first_layer_eval), (FirstLayerTrain::Dense, FirstLayerEval::Dense));
        assert_eq!((dense.exp, dense.hidden_input_gradient), (ExpFn::Polynomial, InputGradient::TransposedCopy));
        let sparse = plan(Kernels::Reference, FirstLayer::Sparse, Precision::F64, 8, false);
        assert_eq!(sparse.first_layer_train, FirstLayerTrain::Sparse, "reference keeps gradient then update");
        assert_eq!(sparse.first_layer_eval, FirstLayerEval::Grouped);
        assert_eq!((sparse.exp, sparse.hidden_input_gradient), (ExpFn::Libm, InputGradient::TransposeFlag));
    }
}
