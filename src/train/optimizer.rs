//! The optimiser, as `torch.optim` defines it: SGD (with the 2021 momentum v = g + gamma v,
//! w -= lr v, and coupled L2 weight decay), Adam (coupled L2) and AdamW (decoupled decay). It owns
//! all of its state (velocities or Adam's moments, the step count, and the sparse first layer's
//! offset that its fused step leaves for the next forward) and is the only code that changes the
//! weights during training.

use crate::config::{OptimizerKind, TrainConfig};
use crate::nn::plan::{FirstLayerTrain, Threads};
use crate::nn::{Input, Mlp, Workspace};
use kernels::optim::{self, AdamStep};
use kernels::{sparse, Element};

/// What a checkpoint keeps of an optimiser: one buffer per layer for each kind of state it has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptimizerState<T> {
    /// SGD's velocities (with momentum; empty otherwise).
    pub velocity: Vec<Vec<T>>,
    /// Adam's first moments (empty for SGD).
    pub m: Vec<Vec<T>>,
    /// Adam's second moments (empty for SGD).
    pub v: Vec<Vec<T>>,
    /// Updates applied so far (Adam's bias corrections count from it).
    pub steps: u64,
}

impl<T> OptimizerState<T> {
    /// Which buffers an optimiser of `cfg` keeps: (velocity, Adam moments).
    pub fn kinds(cfg: &TrainConfig) -> (bool, bool) {
        (cfg.optimizer == OptimizerKind::Sgd && cfg.momentum > 0.0, cfg.optimizer != OptimizerKind::Sgd)
    }
}

pub struct Optimizer<T> {
    kind: OptimizerKind,
    gamma: T,
    weight_decay: f64,
    betas: (f64, f64),
    eps: f64,
    state: OptimizerState<T>,
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
    pub fn new(model: &Mlp<T>, cfg: &TrainConfig) -> Self {
        let zeros = |on: bool| -> Vec<Vec<T>> {
            if on {
                model.weights.iter().map(|w| vec![T::ZERO; w.len()]).collect()
            } else {
                Vec::new()
            }
        };
        let (velocity, adam) = OptimizerState::<T>::kinds(cfg);
        let fused_first = model.plan.first_layer_train == FirstLayerTrain::SparseFusedSgd;
        let plain_sgd = cfg.optimizer == OptimizerKind::Sgd && cfg.momentum == 0.0 && cfg.weight_decay == 0.0;
        assert!(!fused_first || plain_sgd, "the plan fuses only plain SGD");
        let oc = if fused_first { model.sizes[1] } else { 0 };
        Self {
            kind: cfg.optimizer,
            gamma: T::from_f64(cfg.momentum),
            weight_decay: cfg.weight_decay,
            betas: (cfg.beta1, cfg.beta2),
            eps: cfg.eps,
            state: OptimizerState { velocity: zeros(velocity), m: zeros(adam), v: zeros(adam), steps: 0 },
            fused_first,
            offset: vec![T::ZERO; oc],
            offset_current: false,
            scratch: vec![T::ZERO; 3 * oc],
        }
    }

    /// Everything the optimiser carries from step to step: what a checkpoint keeps.
    pub fn state(&self) -> &OptimizerState<T> {
        &self.state
    }

    /// Continues from a saved state (as [`Optimizer::state`] gave it).
    pub fn restore(&mut self, saved: OptimizerState<T>) {
        let same_shapes = |now: &[Vec<T>], saved: &[Vec<T>]| {
            now.len() == saved.len() && now.iter().zip(saved).all(|(a, b)| a.len() == b.len())
        };
        let s = &self.state;
        assert!(
            same_shapes(&s.velocity, &saved.velocity) && same_shapes(&s.m, &saved.m) && same_shapes(&s.v, &saved.v),
            "an optimiser state of this run's kind and shapes"
        );
        self.state = saved;
    }

    /// The first layer's offset term for the current weights, if the last update computed it.
    pub fn first_layer_offset(&self) -> Option<&[T]> {
        self.offset_current.then_some(self.offset.as_slice())
    }

    /// Applies one step at learning rate `lr` (the schedule's lr_t) to every layer, after the
    /// whole backward pass (as the reference does): from `ws.grads`, or for a fused first layer
    /// from the batch and dL/dz that backward left in `ws`.
    pub fn update(&mut self, model: &mut Mlp<T>, ws: &Workspace<T>, input: &Input<T>, lr: f64) {
        let from = usize::from(self.fused_first);
        let threads = Threads::current();
        self.state.steps += 1;
        let lr_t = T::from_f64(lr);
        let adam = (self.kind != OptimizerKind::Sgd).then(|| {
            let decoupled = self.kind == OptimizerKind::Adamw;
            AdamStep::<T>::new(lr, self.betas, self.eps, self.state.steps, self.weight_decay, decoupled)
        });
        let l2 = T::from_f64(self.weight_decay);
        let OptimizerState { velocity, m, v, .. } = &mut self.state;
        for (l, (w, g)) in model.weights.iter_mut().zip(&ws.grads).enumerate().skip(from) {
            let ways = threads.elementwise(w.len());
            match (&adam, velocity.get_mut(l)) {
                (Some(k), _) => optim::adam_update(ways, w, &mut m[l], &mut v[l], g, k),
                (None, Some(vel)) => optim::momentum_update(ways, w, vel, g, lr_t, self.gamma, l2),
                (None, None) => optim::sgd_update(ways, w, g, lr_t, l2),
            }
        }
        if self.fused_first {
            let Input::Sparse { pixels, .. } = input else { panic!("a fused sparse first layer needs sparse input") };
            let (c, oc) = (model.sizes[0], model.sizes[1]);
            let (by_pixel, d0) = ws.first_layer_sparse_grad();
            let w = &mut model.weights[0];
            sparse::sparse_linear_sgd(w, by_pixel, d0, c, oc, pixels.shift, lr_t, &mut self.offset, &mut self.scratch);
            self.offset_current = true;
        }
    }
}
