//! The multilayer perceptron: its weights, their initialisation, and the first layer's forward,
//! which the training pass and evaluation share.
//!
//! Layer l maps width `C = sizes[l]` to `OC = sizes[l+1]` with W_l stored (C, OC) row-major;
//! hidden layers use the configured activation, the last layer softmax. The only bias is the
//! input's ones column.

use std::ops::Range;

use super::plan::{FirstLayerEval, Plan, Threads};
use crate::config::{weight_rows, ActivationKind, BiasKind, InitKind};
use crate::data::{Forms, SparsePixels, SplitForms};
use crate::rng::RunRng;
use kernels::layers::{self, Activation};
use kernels::par::{self, for_blocks};
use kernels::sparse::{self, grouped};
use kernels::Element;

/// The rows a forward pass reads.
#[derive(Clone)]
pub enum Input<'a, T> {
    /// Dense normalised rows (B, C), bias column included.
    Dense(&'a [T]),
    /// The rows `rows` of a data set's sparse raw pixels.
    Sparse { pixels: &'a SparsePixels<T>, rows: Rows<'a> },
}

/// Which rows of a data set.
#[derive(Clone)]
pub enum Rows<'a> {
    Batch(&'a [u32]),
    Range(Range<usize>),
}

impl Rows<'_> {
    pub fn iter(&self) -> impl Iterator<Item = usize> + Clone + '_ {
        let (batch, range) = match self {
            Rows::Batch(ix) => (Some(ix.iter().map(|&i| i as usize)), None),
            Rows::Range(r) => (None, Some(r.clone())),
        };
        batch.into_iter().flatten().chain(range.into_iter().flatten())
    }
}

impl Plan {
    /// The forms of a run's data sets that its kernels read: sparse rows for sparse training
    /// steps, stored dense rows or groups for evaluation. Dense training steps make their batch's
    /// rows from the raw pixels (faster than copying stored rows, measured).
    pub fn data_forms(&self) -> SplitForms {
        let dense_eval = self.first_layer_eval == FirstLayerEval::Dense;
        let eval = Forms { dense_rows: dense_eval, sparse_rows: false, groups: !dense_eval };
        let steps = Forms { sparse_rows: self.first_layer_train.is_sparse(), ..Forms::default() };
        SplitForms { train: steps.or(eval), eval }
    }
}

impl From<ActivationKind> for Activation {
    fn from(a: ActivationKind) -> Self {
        match a {
            ActivationKind::Sigmoid => Activation::Sigmoid,
            ActivationKind::Improved => Activation::ImprovedSigmoid,
            ActivationKind::Relu => Activation::Relu,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Mlp<T> {
    /// Widths from input (bias included) to output, e.g. [785, 64, 10].
    pub sizes: Vec<usize>,
    /// W_l, row-major ([`Mlp::rows`] l, sizes[l+1]): with `bias = all`, a hidden layer's input
    /// gets a bias row, last (the first layer's input carries its ones column already).
    pub weights: Vec<Vec<T>>,
    pub bias: BiasKind,
    pub activation: Activation,
    /// Which kernels run each part.
    pub plan: Plan,
}

impl<T: Element> Mlp<T> {
    /// Draws every layer's weights in layer order, each in row-major order: uniform(-1, 1),
    /// normal(0, 1/sqrt(fan_in)) or normal(0, sqrt(2/fan_in)), drawn in f64 and rounded to T.
    /// With `bias = all` the same draws are made and every bias starts at zero: the first
    /// layer's ones-column row is zeroed, the other layers get a zero row appended.
    pub fn init(
        sizes: &[usize],
        activation: Activation,
        init: InitKind,
        bias: BiasKind,
        plan: Plan,
        rng: &mut dyn RunRng,
    ) -> Self {
        let weights = sizes
            .windows(2)
            .enumerate()
            .map(|(l, w)| {
                let (fan_in, fan_out) = (w[0], w[1]);
                let mut draws = vec![0.0f64; fan_in * fan_out];
                match init {
                    InitKind::Uniform => rng.fill_uniform(&mut draws, -1.0, 1.0),
                    InitKind::Normal => rng.fill_normal(&mut draws, 1.0 / (fan_in as f64).sqrt()),
                    InitKind::He => rng.fill_normal(&mut draws, (2.0 / fan_in as f64).sqrt()),
                }
                if bias == BiasKind::All {
                    match l {
                        0 => draws[(fan_in - 1) * fan_out..].fill(0.0),
                        _ => draws.resize((fan_in + 1) * fan_out, 0.0),
                    }
                }
                draws.into_iter().map(T::from_f64).collect()
            })
            .collect();
        Self { sizes: sizes.to_vec(), weights, bias, activation, plan }
    }

    /// Rows of W_l (see [`weight_rows`]).
    pub fn rows(&self, l: usize) -> usize {
        weight_rows(&self.sizes, self.bias, l)
    }

    pub fn layers(&self) -> usize {
        self.weights.len()
    }

    /// W_l without a bias row of its own: (sizes[l], sizes[l+1]).
    pub(super) fn w(&self, l: usize) -> &[T] {
        &self.weights[l][..self.sizes[l] * self.sizes[l + 1]]
    }

    /// Layer l's bias (sizes[l+1]), added after the product: hidden-layer inputs with `bias = all`.
    pub(super) fn hidden_bias(&self, l: usize) -> Option<&[T]> {
        (self.rows(l) > self.sizes[l]).then(|| &self.weights[l][self.sizes[l] * self.sizes[l + 1]..])
    }

    /// First layer: out (R, OC) from the input rows, dense GEMM or sparse pixels. For sparse
    /// input the offset term is `precomputed` when given (it must belong to the current
    /// weights), else computed into `offset`.
    pub(super) fn first_layer_forward(
        &self,
        threads: Threads,
        out: &mut [T],
        offset: &mut [T],
        precomputed: Option<&[T]>,
        input: &Input<T>,
        r: usize,
    ) {
        let (c, oc) = (self.sizes[0], self.sizes[1]);
        let w = self.w(0);
        match input {
            Input::Dense(x) => layers::linear_forward(threads.gemm(r, oc, c), out, x, w, r, c, oc),
            Input::Sparse { pixels, rows } => {
                let offset: &[T] = match precomputed {
                    Some(ready) => ready,
                    None => {
                        sparse::first_layer_offset(offset, w, c, oc, pixels.shift);
                        offset
                    }
                };
                match rows {
                    Rows::Batch(ix) => {
                        let csr = pixels.csr();
                        // Rows are independent: blocks of them over the pool.
                        let ways = threads.sparse(r * oc);
                        for_blocks(par::Rows(out, oc), ix.len(), ways, 1, &|rows, par::Rows(out, _)| {
                            let ix = ix[rows].iter().map(|&i| i as usize);
                            sparse::sparse_linear_forward(out, &csr, ix, w, offset, oc)
                        });
                    }
                    Rows::Range(range) if pixels.groups_cover(range) => {
                        grouped::grouped_forward(out, &pixels.groups(), range.start, range.len(), w, offset, oc)
                    }
                    Rows::Range(range) => {
                        sparse::sparse_linear_forward(out, &pixels.csr(), range.clone(), w, offset, oc)
                    }
                }
            }
        }
    }
}
