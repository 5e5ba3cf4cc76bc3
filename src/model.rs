//! The multilayer perceptron: weights, batch forward/backward over preallocated buffers, and
//! full-set evaluation.
//!
//! Layer l maps width `C = sizes[l]` to `OC = sizes[l+1]` with W_l stored (C, OC); hidden layers use
//! the configured activation, the last layer softmax. The only bias is the input's ones column.

use std::ops::Range;

use ndarray::Array2;
use rayon::prelude::*;

use crate::config::{FirstLayer, InitKind, CLASSES};
use crate::data::{Dataset, SparsePixels};
use crate::rng::RunRng;
use kernels::layers::{self, Activation, Math};
use kernels::{grouped, sparse, Scalar};

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

#[derive(Debug, Clone)]
pub struct Mlp<T> {
    /// Widths from input (bias included) to output, e.g. [785, 64, 10].
    pub sizes: Vec<usize>,
    /// W_l with shape `(sizes[l], sizes[l+1])`.
    pub weights: Vec<Array2<T>>,
    pub activation: Activation,
    /// How the first layer is computed in training and evaluation.
    pub first_layer: FirstLayer,
}

impl<T: Scalar> Mlp<T> {
    /// Draws every layer's weights in layer order, each in row-major order: uniform(-1, 1) or
    /// normal(0, 1/sqrt(fan_in)), drawn in f64 and rounded to T.
    pub fn init(sizes: &[usize], activation: Activation, init: InitKind, rng: &mut dyn RunRng) -> Self {
        let weights = sizes
            .windows(2)
            .map(|w| {
                let (fan_in, fan_out) = (w[0], w[1]);
                let mut draws = vec![0.0f64; fan_in * fan_out];
                match init {
                    InitKind::Uniform => rng.fill_uniform(&mut draws, -1.0, 1.0),
                    InitKind::Normal => rng.fill_normal(&mut draws, 1.0 / (fan_in as f64).sqrt()),
                }
                Array2::from_shape_vec((fan_in, fan_out), draws.into_iter().map(T::from_f64).collect())
                    .expect("shape matches the number of draws")
            })
            .collect();
        Self { sizes: sizes.to_vec(), weights, activation, first_layer: FirstLayer::Dense }
    }

    /// The activations' e^x: libm on the reference (dense) path, the vectorised polynomial otherwise.
    fn math(&self) -> Math {
        self.first_layer.math()
    }

    pub fn layers(&self) -> usize {
        self.weights.len()
    }

    fn w(&self, l: usize) -> &[T] {
        self.weights[l].as_slice().expect("weights are contiguous")
    }

    /// First layer: out (R, OC) from the input rows, dense GEMM or sparse pixels. `offset_ready`:
    /// `offset` already holds the sparse offset of the current weights.
    fn first_layer_forward(&self, out: &mut [T], offset: &mut [T], offset_ready: bool, input: &Input<T>, r: usize) {
        let (c, oc) = (self.sizes[0], self.sizes[1]);
        match input {
            Input::Dense(x) => layers::linear_forward(out, x, self.w(0), r, c, oc),
            Input::Sparse { pixels, rows } => {
                if !offset_ready {
                    sparse::first_layer_offset(offset, self.w(0), c, oc, pixels.shift);
                }
                let w = self.w(0);
                match rows {
                    Rows::Batch(ix) => {
                        let rows = ix.iter().map(|&i| i as usize);
                        sparse::sparse_linear_forward(out, &pixels.csr(), rows, w, offset, oc)
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

    /// Forward pass on one batch of B rows, labels (B). Stores what backward needs in `ws` and
    /// returns the SUM of the cross entropy over the rows.
    pub fn forward(&self, ws: &mut Workspace<T>, input: &Input<T>, labels: &[u8]) -> f64 {
        let b = ws.b;
        let last = self.layers() - 1;
        for l in 0..=last {
            let (c, oc) = (self.sizes[l], self.sizes[l + 1]);
            if l == 0 {
                let ready = std::mem::take(&mut ws.offset_ready);
                self.first_layer_forward(&mut ws.z[0], &mut ws.offset, ready, input, b);
            } else {
                layers::linear_forward(&mut ws.z[l], &ws.a[l - 1], self.w(l), b, c, oc);
            }
            if l < last {
                layers::activation_forward(self.activation, self.math(), &mut ws.a[l], &ws.z[l]);
            }
        }
        layers::softmax_crossentropy_forward(&mut ws.probs, &ws.z[last], labels, CLASSES)
    }

    /// Backward pass after [`Mlp::forward`] on the same batch: fills `ws.grads` with the batch-mean
    /// gradient of the cross entropy for every layer.
    pub fn backward(&self, ws: &mut Workspace<T>, input: &Input<T>, labels: &[u8]) {
        self.backward_above_first(ws, labels);
        let (c, oc) = (self.sizes[0], self.sizes[1]);
        match input {
            Input::Dense(x) => layers::linear_backward(None, &mut ws.grads[0], &ws.d[0], x, self.w(0), ws.b, c, oc),
            Input::Sparse { pixels, rows } => {
                ws.by_pixel.fill(&pixels.csr(), rows.iter());
                sparse::sparse_linear_backward_weights(&mut ws.grads[0], &ws.by_pixel, &ws.d[0], c, oc, pixels.shift);
            }
        }
    }

    /// The backward pass down to dL/dz of the first layer (`ws.d[0]`): the gradients of every
    /// layer but the first, which needs only its weight gradient.
    pub fn backward_above_first(&self, ws: &mut Workspace<T>, labels: &[u8]) {
        let last = self.layers() - 1;
        layers::softmax_crossentropy_backward(&mut ws.d[last], &ws.probs, labels, CLASSES);
        for l in (1..=last).rev() {
            let (c, oc) = (self.sizes[l], self.sizes[l + 1]);
            let (below, here) = ws.d.split_at_mut(l);
            let (dinp, dw, inp) = (&mut below[l - 1], &mut ws.grads[l], &ws.a[l - 1]);
            if self.first_layer == FirstLayer::Dense {
                layers::linear_backward(Some(dinp), dw, &here[0], inp, self.w(l), ws.b, c, oc);
            } else {
                layers::linear_backward_transposed(dinp, dw, &here[0], inp, self.w(l), &mut ws.wt, ws.b, c, oc);
            }
            layers::activation_backward(self.activation, self.math(), &mut ws.d[l - 1], &ws.z[l - 1], &ws.a[l - 1]);
        }
    }

    /// After [`Mlp::backward_above_first`] on sparse input: the first layer's weight gradient
    /// and SGD step fused into one pass ([`sparse::sparse_linear_sgd`]), which also prepares the
    /// next forward's offset.
    pub fn first_layer_sparse_sgd(&mut self, ws: &mut Workspace<T>, pixels: &SparsePixels<T>, rows: &Rows, lr: T) {
        let (c, oc) = (self.sizes[0], self.sizes[1]);
        ws.by_pixel.fill(&pixels.csr(), rows.iter());
        let w = self.weights[0].as_slice_mut().expect("weights are contiguous");
        let Workspace { by_pixel, d, offset, sgd_scratch, .. } = ws;
        sparse::sparse_linear_sgd(w, by_pixel, &d[0], c, oc, pixels.shift, lr, offset, sgd_scratch);
        ws.offset_ready = true;
    }

    /// Mean cross entropy and accuracy on a whole data set with the current weights, in chunks of
    /// [`EVAL_ROWS`] rows spread over the rayon pool. Chunk results are added in chunk order, so
    /// the result does not depend on the number of threads.
    pub fn evaluate(&self, data: &Dataset<T>) -> Metrics {
        let n = data.len();
        let parts: Vec<(f64, usize)> = (0..n.div_ceil(EVAL_ROWS))
            .into_par_iter()
            .map_init(
                || EvalWorkspace::new(&self.sizes, EVAL_ROWS),
                |ws, chunk| self.evaluate_rows(ws, data, chunk * EVAL_ROWS..n.min((chunk + 1) * EVAL_ROWS)),
            )
            .collect();
        let (loss, correct) = parts.iter().fold((0.0, 0), |(l, c), &(pl, pc)| (l + pl, c + pc));
        let n = n.max(1) as f64;
        Metrics { loss: loss / n, accuracy: correct as f64 / n, correct }
    }

    /// Forward on the rows `range` (at most `ws.rows`) without keeping intermediates:
    /// (loss sum, correct count).
    fn evaluate_rows(&self, ws: &mut EvalWorkspace<T>, data: &Dataset<T>, range: Range<usize>) -> (f64, usize) {
        let r = range.len();
        let labels = &data.labels[range.clone()];
        let EvalWorkspace { ping, pong, offset, scratch, .. } = ws;
        let input = if self.first_layer.sparse_evaluation() {
            Input::Sparse { pixels: &data.sparse, rows: Rows::Range(range) }
        } else {
            let x = data.x.as_slice().expect("data rows are contiguous");
            Input::Dense(&x[range.start * data.dim()..range.end * data.dim()])
        };
        for l in 0..self.layers() {
            let (c, oc) = (self.sizes[l], self.sizes[l + 1]);
            if l == 0 {
                self.first_layer_forward(&mut pong[..r * oc], offset, false, &input, r);
            } else {
                layers::linear_forward(&mut pong[..r * oc], &ping[..r * c], self.w(l), r, c, oc);
            }
            if l + 1 < self.layers() {
                layers::activation_forward_inplace(self.activation, self.math(), &mut pong[..r * oc]);
            }
            std::mem::swap(ping, pong);
        }
        layers::softmax_crossentropy_eval(&ping[..r * CLASSES], labels, CLASSES, scratch)
    }
}

/// Full-set metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Mean cross entropy.
    pub loss: f64,
    pub accuracy: f64,
    /// Images classified correctly.
    pub correct: usize,
}

/// Buffers for forward/backward on batches of `b` rows, allocated once per run.
pub struct Workspace<T> {
    b: usize,
    /// Per layer (B, OC): pre-activations; the last layer's are the logits.
    z: Vec<Vec<T>>,
    /// Per hidden layer (B, OC): activations.
    a: Vec<Vec<T>>,
    /// (B, K) softmax output.
    probs: Vec<T>,
    /// Per layer (B, OC): dL/dz (dL/da while it is being formed).
    d: Vec<Vec<T>>,
    /// Per layer, the shape of W_l: batch-mean gradient.
    pub grads: Vec<Vec<T>>,
    /// (OC of the first layer): the sparse first layer's constant term.
    offset: Vec<T>,
    /// Whether `offset` already holds the offset of the current weights (set by the fused
    /// sparse SGD step, consumed by the next forward).
    offset_ready: bool,
    /// (3 * OC of the first layer): scratch of the fused sparse SGD step.
    sgd_scratch: Vec<T>,
    /// The batch's non-zero pixels grouped by pixel, for the sparse weight gradient.
    by_pixel: sparse::ByPixel<T>,
    /// Transposed weights of one layer above the first (the fast path's input gradient).
    wt: Vec<T>,
}

impl<T: Scalar> Workspace<T> {
    pub fn new(sizes: &[usize], b: usize) -> Self {
        let per_layer =
            |rows: usize| -> Vec<Vec<T>> { sizes[1..].iter().map(|&oc| vec![T::ZERO; rows * oc]).collect() };
        let mut a = per_layer(b);
        a.pop();
        Self {
            b,
            z: per_layer(b),
            a,
            probs: vec![T::ZERO; b * CLASSES],
            d: per_layer(b),
            grads: sizes.windows(2).map(|w| vec![T::ZERO; w[0] * w[1]]).collect(),
            offset: vec![T::ZERO; sizes[1]],
            offset_ready: false,
            sgd_scratch: vec![T::ZERO; 3 * sizes[1]],
            by_pixel: sparse::ByPixel::new(b, sizes[0] - 1),
            wt: vec![T::ZERO; sizes.windows(2).skip(1).map(|w| w[0] * w[1]).max().unwrap_or(0)],
        }
    }
}

/// Rows per evaluation chunk: large enough for efficient GEMM, small enough to stay in cache.
pub const EVAL_ROWS: usize = 1000;
// Chunks of whole grouping windows run on the grouped first layer.
const _: () = assert!(EVAL_ROWS.is_multiple_of(crate::data::GROUP_WINDOW));

/// Buffers for evaluation in chunks of `rows` rows.
pub struct EvalWorkspace<T> {
    ping: Vec<T>,
    pong: Vec<T>,
    offset: Vec<T>,
    scratch: Vec<T>,
}

impl<T: Scalar> EvalWorkspace<T> {
    pub fn new(sizes: &[usize], rows: usize) -> Self {
        let widest = sizes[1..].iter().copied().max().unwrap_or(CLASSES);
        Self {
            ping: vec![T::ZERO; rows * widest],
            pong: vec![T::ZERO; rows * widest],
            offset: vec![T::ZERO; sizes[1]],
            scratch: vec![T::ZERO; CLASSES],
        }
    }
}
