//! The buffers of one training batch's forward/backward pass, allocated once per run: a training
//! step allocates nothing.

use super::mlp::Mlp;
use crate::config::CLASSES;
use kernels::sparse::ByPixel;
use kernels::Element;

/// Buffers for forward/backward on batches of `b` rows.
pub struct Workspace<T> {
    pub(super) b: usize,
    /// Per layer (B, OC): pre-activations; the last layer's are the logits.
    pub(super) z: Vec<Vec<T>>,
    /// Per hidden layer (B, OC): activations.
    pub(super) a: Vec<Vec<T>>,
    /// (B, K) softmax output.
    pub(super) probs: Vec<T>,
    /// Per layer (B, OC): dL/dz (dL/da while it is being formed).
    pub(super) d: Vec<Vec<T>>,
    /// Per layer, the shape of W_l: batch-mean gradient.
    pub grads: Vec<Vec<T>>,
    /// (OC of the first layer): the sparse first layer's offset term, when forward computes it.
    pub(super) offset: Vec<T>,
    /// The batch's non-zero pixels grouped by pixel, for the sparse weight gradient.
    pub(super) by_pixel: ByPixel<T>,
    /// Transposed weights of one layer above the first (the input gradient on a transposed copy).
    pub(super) wt: Vec<T>,
    /// Per hidden layer (B, OC), with dropout only (empty otherwise): 0 or 1/(1 - p).
    pub(super) mask: Vec<Vec<T>>,
    /// Per hidden layer (B, OC), with dropout only: a * mask, what the next layer reads.
    pub(super) dropped: Vec<Vec<T>>,
}

impl<T: Element> Workspace<T> {
    /// Buffers for `model` on batches of `b` rows; with `dropout`, the hidden layers' masks and
    /// dropped outputs too.
    pub fn new(model: &Mlp<T>, b: usize, dropout: bool) -> Self {
        let sizes = &model.sizes;
        let per_layer =
            |rows: usize| -> Vec<Vec<T>> { sizes[1..].iter().map(|&oc| vec![T::ZERO; rows * oc]).collect() };
        let mut a = per_layer(b);
        a.pop();
        Self {
            b,
            z: per_layer(b),
            probs: vec![T::ZERO; b * CLASSES],
            d: per_layer(b),
            grads: model.weights.iter().map(|w| vec![T::ZERO; w.len()]).collect(),
            offset: vec![T::ZERO; sizes[1]],
            by_pixel: ByPixel::new(b, sizes[0] - 1),
            wt: vec![T::ZERO; sizes.windows(2).skip(1).map(|w| w[0] * w[1]).max().unwrap_or(0)],
            mask: if dropout { a.clone() } else { Vec::new() },
            dropped: if dropout { a.clone() } else { Vec::new() },
            a,
        }
    }

    /// The dropout masks of the next forward (none without dropout), for the trainer to draw.
    pub fn dropout_masks_mut(&mut self) -> &mut [Vec<T>] {
        &mut self.mask
    }

    /// Per layer (B, OC), the pre-activations of the last forward.
    pub fn preactivations(&self) -> &[Vec<T>] {
        &self.z
    }

    /// What the fused sparse first-layer update needs after [`super::Mlp::backward`]: the batch
    /// by pixel and dL/dz of the first layer (B, OC).
    pub fn first_layer_sparse_grad(&self) -> (&ByPixel<T>, &[T]) {
        (&self.by_pixel, &self.d[0])
    }
}
