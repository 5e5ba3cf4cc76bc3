//! The multilayer perceptron: weights, batch forward/backward over preallocated buffers, and
//! full-set evaluation.
//!
//! Layer l maps width `C = sizes[l]` to `OC = sizes[l+1]` with W_l stored (C, OC); hidden layers use
//! the configured activation, the last layer softmax. The only bias is the input's ones column.

use ndarray::Array2;

use crate::config::{InitKind, CLASSES};
use crate::data::Dataset;
use crate::rng::RunRng;
use kernels::layers::{self, Activation};
use kernels::Scalar;

#[derive(Debug, Clone)]
pub struct Mlp<T> {
    /// Widths from input (bias included) to output, e.g. [785, 64, 10].
    pub sizes: Vec<usize>,
    /// W_l with shape `(sizes[l], sizes[l+1])`.
    pub weights: Vec<Array2<T>>,
    pub activation: Activation,
}

impl<T: Scalar> Mlp<T> {
    /// Draws every layer's weights in layer order, each in row-major order: uniform(-1, 1) or
    /// normal(0, 1/sqrt(fan_in)), drawn in f64 and rounded to T.
    pub fn init(
        sizes: &[usize],
        activation: Activation,
        init: InitKind,
        rng: &mut dyn RunRng,
    ) -> Self {
        let weights = sizes
            .windows(2)
            .map(|w| {
                let (fan_in, fan_out) = (w[0], w[1]);
                let mut draws = vec![0.0f64; fan_in * fan_out];
                match init {
                    InitKind::Uniform => rng.fill_uniform(&mut draws, -1.0, 1.0),
                    InitKind::Normal => rng.fill_normal(&mut draws, 1.0 / (fan_in as f64).sqrt()),
                }
                Array2::from_shape_vec(
                    (fan_in, fan_out),
                    draws.into_iter().map(T::from_f64).collect(),
                )
                .expect("shape matches the number of draws")
            })
            .collect();
        Self {
            sizes: sizes.to_vec(),
            weights,
            activation,
        }
    }

    pub fn layers(&self) -> usize {
        self.weights.len()
    }

    fn w(&self, l: usize) -> &[T] {
        self.weights[l].as_slice().expect("weights are contiguous")
    }

    /// Forward pass on one batch: x `(B, sizes[0])`, labels (B). Stores what backward needs in `ws`
    /// and returns the SUM of the cross entropy over the rows.
    pub fn forward(&self, ws: &mut Workspace<T>, x: &[T], labels: &[u8]) -> f64 {
        let b = ws.b;
        let last = self.layers() - 1;
        for l in 0..=last {
            let (c, oc) = (self.sizes[l], self.sizes[l + 1]);
            let inp = if l == 0 { x } else { &ws.a[l - 1] };
            layers::linear_forward(&mut ws.z[l], inp, self.w(l), b, c, oc);
            if l < last {
                layers::activation_forward(self.activation, &mut ws.a[l], &ws.z[l]);
            }
        }
        layers::softmax_crossentropy_forward(&mut ws.probs, &ws.z[last], labels, CLASSES)
    }

    /// Backward pass after [`Mlp::forward`] on the same batch: fills `ws.grads` with the batch-mean
    /// gradient of the cross entropy for every layer.
    pub fn backward(&self, ws: &mut Workspace<T>, x: &[T], labels: &[u8]) {
        let b = ws.b;
        let last = self.layers() - 1;
        layers::softmax_crossentropy_backward(&mut ws.d[last], &ws.probs, labels, CLASSES);
        for l in (0..=last).rev() {
            let (c, oc) = (self.sizes[l], self.sizes[l + 1]);
            let (below, here) = ws.d.split_at_mut(l);
            let inp = if l == 0 { x } else { &ws.a[l - 1] };
            let dinp = below.last_mut().map(|d| d.as_mut_slice());
            layers::linear_backward(dinp, &mut ws.grads[l], &here[0], inp, self.w(l), b, c, oc);
            if l > 0 {
                layers::activation_backward(
                    self.activation,
                    &mut ws.d[l - 1],
                    &ws.z[l - 1],
                    &ws.a[l - 1],
                );
            }
        }
    }

    /// Mean cross entropy and accuracy on a whole data set with the current weights.
    pub fn evaluate(&self, data: &Dataset<T>, ws: &mut EvalWorkspace<T>) -> Metrics {
        let x = data.x.as_slice().expect("data rows are contiguous");
        let dim = data.dim();
        let (mut loss, mut correct) = (0.0f64, 0usize);
        for (rows, labels) in x.chunks(ws.rows * dim).zip(data.labels.chunks(ws.rows)) {
            let (chunk_loss, chunk_correct) = self.evaluate_chunk(ws, rows, labels);
            loss += chunk_loss;
            correct += chunk_correct;
        }
        let n = data.len().max(1) as f64;
        Metrics {
            loss: loss / n,
            accuracy: correct as f64 / n,
            correct,
        }
    }

    /// Forward on at most `ws.rows` rows without keeping intermediates: (loss sum, correct count).
    fn evaluate_chunk(&self, ws: &mut EvalWorkspace<T>, x: &[T], labels: &[u8]) -> (f64, usize) {
        let r = labels.len();
        let EvalWorkspace {
            ping,
            pong,
            scratch,
            ..
        } = ws;
        for l in 0..self.layers() {
            let (c, oc) = (self.sizes[l], self.sizes[l + 1]);
            let inp: &[T] = if l == 0 { x } else { &ping[..r * c] };
            layers::linear_forward(&mut pong[..r * oc], inp, self.w(l), r, c, oc);
            if l + 1 < self.layers() {
                layers::activation_forward_inplace(self.activation, &mut pong[..r * oc]);
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
}

impl<T: Scalar> Workspace<T> {
    pub fn new(sizes: &[usize], b: usize) -> Self {
        let per_layer = |rows: usize| -> Vec<Vec<T>> {
            sizes[1..]
                .iter()
                .map(|&oc| vec![T::ZERO; rows * oc])
                .collect()
        };
        let mut a = per_layer(b);
        a.pop();
        Self {
            b,
            z: per_layer(b),
            a,
            probs: vec![T::ZERO; b * CLASSES],
            d: per_layer(b),
            grads: sizes
                .windows(2)
                .map(|w| vec![T::ZERO; w[0] * w[1]])
                .collect(),
        }
    }

    pub fn batch_size(&self) -> usize {
        self.b
    }
}

/// Rows per evaluation chunk: large enough for efficient GEMM, small enough to stay in cache.
pub const EVAL_ROWS: usize = 1000;

/// Buffers for evaluation in chunks of `rows` rows.
pub struct EvalWorkspace<T> {
    rows: usize,
    ping: Vec<T>,
    pong: Vec<T>,
    scratch: Vec<T>,
}

impl<T: Scalar> EvalWorkspace<T> {
    pub fn new(sizes: &[usize], rows: usize) -> Self {
        let widest = sizes[1..].iter().copied().max().unwrap_or(CLASSES);
        Self {
            rows,
            ping: vec![T::ZERO; rows * widest],
            pong: vec![T::ZERO; rows * widest],
            scratch: vec![T::ZERO; CLASSES],
        }
    }
}
