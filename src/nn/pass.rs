//! One batch through the network and back: the forward/backward pair of training, llm.c style,
//! over the buffers of a [`Workspace`]. The update belongs to the optimiser (`crate::train`).

use super::mlp::{Input, Mlp};
use super::plan::{FirstLayerTrain, InputGradient, Threads};
use super::workspace::Workspace;
use crate::config::CLASSES;
use kernels::layers;
use kernels::sparse;
use kernels::Element;

impl<T: Element> Mlp<T> {
    /// Forward pass on one batch of B rows, labels (B). Stores what backward needs in `ws` and
    /// returns the SUM of the cross entropy over the rows. `first_offset`: the sparse first
    /// layer's offset term for the current weights, when the last update left it ready.
    pub fn forward(&self, ws: &mut Workspace<T>, input: &Input<T>, labels: &[u8], first_offset: Option<&[T]>) -> f64 {
        let b = ws.b;
        assert_eq!(labels.len(), b, "one label per batch row");
        let last = self.layers() - 1;
        let math = self.plan.math();
        let threads = Threads::current();
        for l in 0..=last {
            let (c, oc) = (self.sizes[l], self.sizes[l + 1]);
            // z[l] (B, OC) = inp (B, C) @ W_l (C, OC)
            if l == 0 {
                self.first_layer_forward(threads, &mut ws.z[0], &mut ws.offset, first_offset, input, b);
            } else {
                let inp = if ws.mask.is_empty() { &ws.a[l - 1] } else { &ws.dropped[l - 1] };
                layers::linear_forward(threads.gemm(b, oc, c), &mut ws.z[l], inp, self.w(l), b, c, oc);
                // z[l] += bias_l (OC) on every row, with `bias = all`
                if let Some(bias) = self.hidden_bias(l) {
                    layers::bias_forward(&mut ws.z[l], bias);
                }
            }
            // a[l] (B, OC) = f(z[l]) for hidden layers
            if l < last {
                let ways = threads.elementwise(b * oc);
                layers::activation_forward(ways, self.activation, math, &mut ws.a[l], &ws.z[l]);
                // dropped[l] (B, OC) = a[l] * mask[l], with dropout
                if !ws.mask.is_empty() {
                    layers::dropout_forward(ways, &mut ws.dropped[l], &ws.a[l], &ws.mask[l]);
                }
            }
        }
        // probs (B, K) = softmax(z[last]); loss = sum of -ln p[label]
        layers::softmax_crossentropy_forward(&mut ws.probs, &ws.z[last], labels, CLASSES)
    }

    /// Backward pass after [`Mlp::forward`] on the same batch: `ws.grads` gets the batch-mean
    /// gradient of the cross entropy for every layer, except the first layer's when the plan
    /// fuses it into the update (then `ws` holds what that update needs: the batch by pixel and
    /// dL/dz of the first layer).
    pub fn backward(&self, ws: &mut Workspace<T>, input: &Input<T>, labels: &[u8]) {
        let last = self.layers() - 1;
        let math = self.plan.math();
        let threads = Threads::current();
        // d[last] (B, K) = probs - onehot(labels)
        layers::softmax_crossentropy_backward(&mut ws.d[last], &ws.probs, labels, CLASSES);
        for l in (1..=last).rev() {
            let (c, oc) = (self.sizes[l], self.sizes[l + 1]);
            let (below, here) = ws.d.split_at_mut(l);
            let inp = if ws.mask.is_empty() { &ws.a[l - 1] } else { &ws.dropped[l - 1] };
            let (dw, db) = ws.grads[l].split_at_mut(c * oc);
            let dinp = &mut below[l - 1];
            // dW_l (C, OC) = out[l-1]^T @ d[l] / B;  d[l-1] (B, C) = d[l] @ W_l^T
            // (out: a, or a * mask with dropout); db_l (OC) = column means of d[l], with `bias = all`
            if !db.is_empty() {
                layers::bias_backward(db, &here[0]);
            }
            // The products are c x oc x B and B x c x oc: the same work, the same blocks.
            let ways = threads.gemm(c, oc, ws.b);
            match self.plan.hidden_input_gradient {
                InputGradient::TransposeFlag => {
                    layers::linear_backward(ways, Some(dinp), dw, &here[0], inp, self.w(l), ws.b, c, oc)
                }
                InputGradient::TransposedCopy => {
                    let wt = &mut ws.wt;
                    layers::linear_backward_transposed(ways, dinp, dw, &here[0], inp, self.w(l), wt, ws.b, c, oc)
                }
            }
            // d[l-1] *= mask[l-1] (with dropout), then *= f'(z[l-1])
            let (d, z, a) = (&mut ws.d[l - 1], &ws.z[l - 1], &ws.a[l - 1]);
            let ways = threads.elementwise(d.len());
            if let Some(mask) = ws.mask.get(l - 1) {
                layers::dropout_backward(ways, d, mask);
            }
            layers::activation_backward(ways, self.activation, math, d, z, a);
        }
        // dW_0 (C, OC) = x^T @ d[0] / B
        let (c, oc) = (self.sizes[0], self.sizes[1]);
        match input {
            Input::Dense(x) => {
                let ways = threads.gemm(c, oc, ws.b);
                layers::linear_backward(ways, None, &mut ws.grads[0], &ws.d[0], x, self.w(0), ws.b, c, oc)
            }
            Input::Sparse { pixels, rows } => {
                ws.by_pixel.fill(&pixels.csr(), rows.iter());
                if self.plan.first_layer_train != FirstLayerTrain::SparseFusedSgd {
                    let (dw, d0) = (&mut ws.grads[0], &ws.d[0]);
                    sparse::sparse_linear_backward_weights(dw, &ws.by_pixel, d0, c, oc, pixels.shift);
                }
            }
        }
    }
}
