//! Checkpoints: everything needed to continue a run exactly where it was, written at validation
//! checks. A resumed run gives byte-identical logs, summary and model file (`tests/resume.rs`).
//!
//! A checkpoint is a safetensors file: tensors `layers.{i}.weight`, `layers.{i}.velocity` (SGD with
//! momentum), `layers.{i}.adam_m` and `layers.{i}.adam_v` (Adam's moments), `layers.{i}.best` (the
//! best check's weights, once there is one) and `indices` (this epoch's order of the training
//! images, U32); metadata `checkpoint` (JSON: [`CheckpointMeta`], with the optimiser's step count
//! and the dropout stream's state).
//! The sparse first layer's offset term is not saved: the next forward recomputes it from the
//! weights with the same additions in the same order.

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use super::early_stop::StopperState;
use super::optimizer::OptimizerState;
use crate::config::TrainConfig;
use crate::nn::{tensors, Mlp};
use crate::rng::RngState;
use kernels::Element;

/// The scalar state of a run at a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Steps done: rows of `steps.csv`.
    pub steps: usize,
    /// Validation checks done: rows of `checks.csv`.
    pub checks: usize,
    /// The epoch of the last step.
    pub epoch: usize,
    /// The random stream after this epoch's shuffle.
    pub rng: RngState,
    pub stopper: StopperState,
    /// Seconds of training so far.
    pub elapsed_s: f64,
    /// Element type, "f32" or "f64".
    pub precision: String,
    /// Updates the optimiser has applied (Adam's bias corrections count from it).
    #[serde(default)]
    pub optimizer_steps: u64,
    /// The dropout masks' stream, with dropout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropout_rng: Option<RngState>,
}

/// A run's state, owned.
#[derive(Debug, Clone)]
pub struct Checkpoint<T> {
    pub weights: Vec<Vec<T>>,
    pub optimizer: OptimizerState<T>,
    pub best: Option<Vec<Vec<T>>>,
    pub indices: Vec<u32>,
    pub meta: CheckpointMeta,
}

impl<T> Checkpoint<T> {
    /// Whether it can continue a run of `cfg` on `train_len` training images: the optimiser's state
    /// of the run's kind, the dropout stream when the run has dropout, a permutation of the images.
    pub fn check(&self, train_len: usize, cfg: &TrainConfig) -> Result<(), String> {
        let (velocity, adam) = OptimizerState::<T>::kinds(cfg);
        let o = &self.optimizer;
        let has = |want: bool, set: &[Vec<T>], what: &str| match (want, set.is_empty()) {
            (true, true) => Err(format!("{what} missing but the run's optimiser keeps them")),
            (false, false) => Err(format!("{what} present but the run's optimiser has none")),
            _ => Ok(()),
        };
        has(velocity, &o.velocity, "velocities")?;
        has(adam, &o.m, "Adam's first moments")?;
        has(adam, &o.v, "Adam's second moments")?;
        if o.steps != self.meta.steps as u64 {
            return Err(format!("{} optimiser steps after {} training steps", o.steps, self.meta.steps));
        }
        match (&self.meta.dropout_rng, cfg.dropout > 0.0) {
            (None, true) => return Err("no dropout stream state but the run has dropout".into()),
            (Some(RngState::Numpy { .. }), true) => return Err("the dropout stream's state is not xoshiro's".into()),
            (Some(_), false) => return Err("a dropout stream state but the run has no dropout".into()),
            _ => {}
        }
        let mut seen = vec![false; train_len];
        let permutation = self.indices.len() == train_len
            && self.indices.iter().all(|&i| seen.get_mut(i as usize).is_some_and(|s| !std::mem::replace(s, true)));
        if !permutation {
            return Err(format!("`indices` is not an order of the {train_len} training images"));
        }
        Ok(())
    }
}

/// The checkpoint of `model` and the rest of a run's state, as file bytes.
pub fn to_bytes<T: Element>(
    model: &Mlp<T>,
    optimizer: &OptimizerState<T>,
    best: Option<&[Vec<T>]>,
    indices: &[u32],
    meta: &CheckpointMeta,
) -> Vec<u8> {
    let shape = |l: usize| vec![model.rows(l), model.sizes[l + 1]];
    let mut named: Vec<(String, Vec<u8>, Vec<usize>, Dtype)> = Vec::new();
    let mut add = |kind: &str, set: &[Vec<T>]| {
        for (l, w) in set.iter().enumerate() {
            named.push((format!("layers.{l}.{kind}"), tensors::encode(w), shape(l), tensors::dtype::<T>()));
        }
    };
    add("weight", &model.weights);
    add("velocity", &optimizer.velocity);
    add("adam_m", &optimizer.m);
    add("adam_v", &optimizer.v);
    if let Some(best) = best {
        add("best", best);
    }
    named.push((
        "indices".into(),
        indices.iter().flat_map(|i| i.to_le_bytes()).collect(),
        vec![indices.len()],
        Dtype::U32,
    ));
    let views = named.iter().map(|(n, b, s, d)| (n.clone(), TensorView::new(*d, s.clone(), b).expect("sized")));
    let info = BTreeMap::from([("checkpoint".to_string(), serde_json::to_string(meta).expect("plain data"))]);
    tensors::serialize(views, info)
}

/// Reads a checkpoint of a network whose weight matrices have the shapes `shapes` (rows, cols);
/// the error says what is wrong.
pub fn from_bytes<T: Element>(bytes: &[u8], shapes: &[(usize, usize)]) -> Result<Checkpoint<T>, String> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| format!("not a checkpoint ({e})"))?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| format!("not a checkpoint ({e})"))?;
    let text = header.metadata().as_ref().and_then(|m| m.get("checkpoint")).ok_or("no `checkpoint` metadata")?;
    let meta: CheckpointMeta = serde_json::from_str(text).map_err(|e| format!("bad `checkpoint` metadata ({e})"))?;
    if meta.precision != T::NAME {
        return Err(format!("a {} checkpoint for an {} run", meta.precision, T::NAME));
    }
    let layer = |kind: &str, l: usize| -> Result<Option<Vec<T>>, String> {
        let name = format!("layers.{l}.{kind}");
        let Ok(view) = st.tensor(&name) else { return Ok(None) };
        let (rows, cols) = shapes[l];
        if view.dtype() != tensors::dtype::<T>() || view.shape() != [rows, cols] {
            return Err(format!("`{name}` is {:?} {:?}, expected [{rows}, {cols}]", view.dtype(), view.shape()));
        }
        Ok(Some(tensors::decode(&view)))
    };
    let set = |kind: &str| -> Result<Option<Vec<Vec<T>>>, String> {
        let found: Vec<Option<Vec<T>>> = (0..shapes.len()).map(|l| layer(kind, l)).collect::<Result<_, _>>()?;
        match found.iter().filter(|f| f.is_some()).count() {
            0 => Ok(None),
            n if n == found.len() => Ok(Some(found.into_iter().flatten().collect())),
            _ => Err(format!("some `{kind}` tensors are missing")),
        }
    };
    let weights = set("weight")?.ok_or("no weights")?;
    let indices = st.tensor("indices").map_err(|_| "no `indices`")?;
    if indices.dtype() != Dtype::U32 || indices.shape().len() != 1 {
        return Err("`indices` is not a list of U32".into());
    }
    let indices = indices.data().chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
    let optimizer = OptimizerState {
        velocity: set("velocity")?.unwrap_or_default(),
        m: set("adam_m")?.unwrap_or_default(),
        v: set("adam_v")?.unwrap_or_default(),
        steps: meta.optimizer_steps,
    };
    Ok(Checkpoint { weights, optimizer, best: set("best")?, indices, meta })
}
