//! The optimiser: SGD, with momentum v = g + gamma * v, w -= lr * v when gamma > 0. It owns all
//! of its state (the velocities, and the sparse first layer's offset that its fused step leaves
//! for the next forward) and is the only code that changes the weights during training.

use crate::nn::plan::{FirstLayerTrain, Threads};
use crate::nn::{Input, Mlp, Workspace};
use kernels::{optim, sparse, Element};

pub struct Optimizer<T> {
    lr: T,
    gamma: T,
    /// One buffer per layer when momentum is on, zero at the start; empty otherwise.
    velocity: Vec<Vec<T>>,
    /// Whether the first layer's gradient is applied in the pass that forms it.
    fused_first: bool,
    /// (OC of the first layer): the first layer's offset term of the current weights, left by the
    /// fused step; meaningful only while `offset_current`.
    offset: Vec<T>,
    offset_current: bool,
    /// (3 * OC of the first layer): scratch of the fused step.
    scratch: Vec<T>,
}

impl<T: Element> Optimizer<T> {
    pub fn new(model: &Mlp<T>, lr: f64, gamma: f64) -> Self {
        let velocity =
            if gamma > 0.0 { model.weights.iter().map(|w| vec![T::ZERO; w.len()]).collect() } else { Vec::new() };
        let fused_first = model.plan.first_layer_train == FirstLayerTrain::SparseFusedSgd;
        assert!(!(fused_first && gamma > 0.0), "the plan fuses only plain SGD");
        let oc = if fused_first { model.sizes[1] } else { 0 };
        Self {
            lr: T::from_f64(lr),
            gamma: T::from_f64(gamma),
            velocity,
            fused_first,
            offset: vec![T::ZERO; oc],
            offset_current: false,
            scratch: vec![T::ZERO; 3 * oc],
        }
    }

    /// The velocities (one buffer per layer with momentum, none without): what a checkpoint keeps.
    pub fn velocity(&self) -> &[Vec<T>] {
        &self.velocity
    }

    /// Continues from saved velocities (as [`Optimizer::velocity`] gave them).
    pub fn restore_velocity(&mut self, velocity: Vec<Vec<T>>) {
        assert_eq!(velocity.len(), self.velocity.len(), "velocities of every layer, or none");
        for (v, saved) in self.velocity.iter().zip(&velocity) {
            assert_eq!(v.len(), saved.len(), "velocity of the layer's shape");
        }
        self.velocity = velocity;
    }

    /// The first layer's offset term for the current weights, if the last update computed it.
    pub fn first_layer_offset(&self) -> Option<&[T]> {
        self.offset_current.then_some(self.offset.as_slice())
    }

    /// Applies one step to every layer, after the whole backward pass (as the reference does):
    /// from `ws.grads`, or for a fused first layer from the batch and dL/dz that backward left in
    /// `ws`.
    pub fn update(&mut self, model: &mut Mlp<T>, ws: &Workspace<T>, input: &Input<T>) {
        let from = usize::from(self.fused_first);
        let threads = Threads::current();
        for (l, (w, g)) in model.weights.iter_mut().zip(&ws.grads).enumerate().skip(from) {
            let ways = threads.elementwise(w.len());
            match self.velocity.get_mut(l) {
                Some(v) => optim::momentum_update(ways, w, v, g, self.lr, self.gamma),
                None => optim::sgd_update(ways, w, g, self.lr),
            }
        }
        if self.fused_first {
            let Input::Sparse { pixels, .. } = input else { panic!("a fused sparse first layer needs sparse input") };
            let (c, oc) = (model.sizes[0], model.sizes[1]);
            let (by_pixel, d0) = ws.first_layer_sparse_grad();
            let (w, lr) = (&mut model.weights[0], self.lr);
            sparse::sparse_linear_sgd(w, by_pixel, d0, c, oc, pixels.shift, lr, &mut self.offset, &mut self.scratch);
            self.offset_current = true;
        }
    }
}
