//! Full-set evaluation: mean cross entropy and accuracy with the current weights, in row chunks
//! spread over the rayon pool.

use std::ops::Range;

use rayon::prelude::*;

use super::mlp::{Input, Mlp, Rows};
use super::plan::{FirstLayerEval, Threads};
use crate::config::CLASSES;
use crate::data::Dataset;
use kernels::layers;
use kernels::sparse::grouped;
use kernels::Element;

/// Full-set metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Mean cross entropy.
    pub loss: f64,
    pub accuracy: f64,
    /// Images classified correctly.
    pub correct: usize,
}

/// Rows per evaluation chunk: large enough for efficient GEMM, small enough to stay in cache.
pub const EVAL_ROWS: usize = 1000;
// Chunks of whole grouping windows run on the grouped first layer.
const _: () = assert!(EVAL_ROWS.is_multiple_of(grouped::WINDOW));

/// Buffers for evaluation in chunks of `rows` rows.
struct EvalWorkspace<T> {
    ping: Vec<T>,
    pong: Vec<T>,
    offset: Vec<T>,
}

impl<T: Element> EvalWorkspace<T> {
    fn new(sizes: &[usize], rows: usize) -> Self {
        let widest = sizes[1..].iter().copied().max().unwrap_or(CLASSES);
        Self { ping: vec![T::ZERO; rows * widest], pong: vec![T::ZERO; rows * widest], offset: vec![T::ZERO; sizes[1]] }
    }
}

impl<T: Element> Mlp<T> {
    /// Mean cross entropy and accuracy on a whole data set (None when it is empty), in chunks of
    /// [`EVAL_ROWS`] rows spread over the rayon pool. Chunk results are added in chunk order, so
    /// the result does not depend on the number of threads.
    pub fn evaluate(&self, data: &Dataset<T>) -> Option<Metrics> {
        let n = data.len();
        if n == 0 {
            return None;
        }
        let parts: Vec<(f64, usize)> = (0..n.div_ceil(EVAL_ROWS))
            .into_par_iter()
            .map_init(
                || EvalWorkspace::new(&self.sizes, EVAL_ROWS),
                |ws, chunk| self.evaluate_rows(ws, data, chunk * EVAL_ROWS..n.min((chunk + 1) * EVAL_ROWS)),
            )
            .collect();
        let (loss, correct) = parts.iter().fold((0.0, 0), |(l, c), &(pl, pc)| (l + pl, c + pc));
        Some(Metrics { loss: loss / n as f64, accuracy: correct as f64 / n as f64, correct })
    }

    /// Class probabilities (N, K, row-major) and the predicted class of every image of `data`,
    /// computed as [`Mlp::evaluate`] computes them (the predictions are the answers it counts).
    pub fn predict(&self, data: &Dataset<T>) -> (Vec<T>, Vec<u8>) {
        let n = data.len();
        let parts: Vec<(Vec<T>, Vec<u8>)> = (0..n.div_ceil(EVAL_ROWS))
            .into_par_iter()
            .map_init(
                || EvalWorkspace::new(&self.sizes, EVAL_ROWS),
                |ws, chunk| {
                    let range = chunk * EVAL_ROWS..n.min((chunk + 1) * EVAL_ROWS);
                    let r = range.len();
                    let logits = self.forward_rows(ws, data, range);
                    let (mut probs, mut predicted) = (vec![T::ZERO; r * CLASSES], vec![0u8; r]);
                    layers::softmax_predict(&mut probs, &mut predicted, logits, CLASSES);
                    (probs, predicted)
                },
            )
            .collect();
        let probs = parts.iter().flat_map(|(p, _)| p.iter().copied()).collect();
        (probs, parts.into_iter().flat_map(|(_, c)| c).collect())
    }

    /// Forward on the rows `range` (at most the workspace's rows) without keeping intermediates:
    /// (loss sum, correct count).
    fn evaluate_rows(&self, ws: &mut EvalWorkspace<T>, data: &Dataset<T>, range: Range<usize>) -> (f64, usize) {
        let labels = &data.labels[range.clone()];
        let mut scratch = [T::ZERO; CLASSES];
        let logits = self.forward_rows(ws, data, range);
        layers::softmax_crossentropy_eval(logits, labels, CLASSES, &mut scratch)
    }

    /// The logits (R, K) of the rows `range`, computed in the workspace's buffers.
    fn forward_rows<'w>(&self, ws: &'w mut EvalWorkspace<T>, data: &Dataset<T>, range: Range<usize>) -> &'w [T] {
        let r = range.len();
        let EvalWorkspace { ping, pong, offset } = ws;
        let input = match self.plan.first_layer_eval {
            FirstLayerEval::Grouped => Input::Sparse { pixels: &data.sparse, rows: Rows::Range(range) },
            FirstLayerEval::Dense => Input::Dense(data.rows(range)),
        };
        let math = self.plan.math();
        for l in 0..self.layers() {
            let (c, oc) = (self.sizes[l], self.sizes[l + 1]);
            // pong (R, OC) = ping (R, C) @ W_l, then f in place for hidden layers
            if l == 0 {
                self.first_layer_forward(Threads::ONE, &mut pong[..r * oc], offset, None, &input, r);
            } else {
                layers::linear_forward(1, &mut pong[..r * oc], &ping[..r * c], self.w(l), r, c, oc);
                if let Some(bias) = self.hidden_bias(l) {
                    layers::bias_forward(&mut pong[..r * oc], bias);
                }
            }
            if l + 1 < self.layers() {
                layers::activation_forward_inplace(self.activation, math, &mut pong[..r * oc]);
            }
            std::mem::swap(ping, pong);
        }
        &ping[..r * CLASSES]
    }
}
