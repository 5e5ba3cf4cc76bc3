//! Model files: a trained network in safetensors, the format numpy, PyTorch and the Hugging Face
//! tools read. The contract (kept stable, documented in the README):
//!
//! - tensors `layers.{i}.weight`, i = 0.., shape [fan_in, fan_out], dtype F32 or F64 (the
//!   precision trained). With `bias = input` (the 2021 form) the first layer has one row per
//!   pixel plus the bias row, last, and there are no other biases; with `bias = all` every layer
//!   has one row per input and a tensor `layers.{i}.bias`, shape [fan_out], as `torch.nn.Linear`;
//! - string metadata `activation` (`sigmoid` | `improved` | `relu`), `mean` and `std` (the normalisation
//!   x' = (x - mean) / std of raw pixel bytes), `config` (the run's configuration, JSON) and
//!   `fingerprint` (JSON, see `crate::experiment::fingerprint`).
//!
//! Loading checks everything a file can get wrong and names the file in every error; it never
//! panics and never allocates more than the file's size.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::Dtype;
use safetensors::SafeTensors;

use super::mlp::Mlp;
use super::plan::Plan;
use super::tensors;
use crate::config::{ActivationKind, BiasKind, Precision, RunConfig, TrainConfig, CLASSES};
use crate::error::ModelError;
use kernels::Element;

/// Largest model file read (a [1024, 1024] f64 network is 16 MB).
const MAX_FILE_BYTES: u64 = 2 << 30;

/// What a model file says besides its weights.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMeta {
    pub activation: ActivationKind,
    pub mean: f64,
    pub std: f64,
    pub config: RunConfig,
    /// The run's fingerprint, JSON.
    pub fingerprint: String,
}

/// A loaded network in the precision it was trained in.
#[derive(Debug, Clone)]
pub enum AnyMlp {
    F32(Mlp<f32>),
    F64(Mlp<f64>),
}

impl AnyMlp {
    pub fn sizes(&self) -> &[usize] {
        match self {
            AnyMlp::F32(m) => &m.sizes,
            AnyMlp::F64(m) => &m.sizes,
        }
    }
}

/// The name of layer `l`'s weight tensor.
pub fn weight_name(l: usize) -> String {
    format!("layers.{l}.weight")
}

/// The name of layer `l`'s bias tensor (`bias = all`).
pub fn bias_name(l: usize) -> String {
    format!("layers.{l}.bias")
}

/// A model file holding `weights` (shaped as `model`'s layers) and `meta`.
pub fn to_bytes<T: Element>(model: &Mlp<T>, weights: &[Vec<T>], meta: &ModelMeta) -> Vec<u8> {
    assert_eq!(T::NAME, crate::config::precision_name(meta.config.precision), "weights in the configured precision");
    let biases = model.bias == BiasKind::All;
    let mut tensors_out: Vec<(String, Vec<u8>, Vec<usize>)> = Vec::new();
    for (l, w) in weights.iter().enumerate() {
        let (rows, oc) = (model.rows(l), model.sizes[l + 1]);
        assert_eq!(w.len(), rows * oc, "weights shaped as the model's layers");
        // With `bias = all` the last row of W_l is the bias.
        let kept = rows - usize::from(biases);
        tensors_out.push((weight_name(l), tensors::encode(&w[..kept * oc]), vec![kept, oc]));
        if biases {
            tensors_out.push((bias_name(l), tensors::encode(&w[kept * oc..]), vec![oc]));
        }
    }
    let views = tensors_out.iter().map(|(name, bytes, shape)| (name.clone(), tensors::view::<T>(bytes, shape)));
    let activation = serde_json::to_value(meta.activation).expect("plain data");
    let info = BTreeMap::from([
        ("activation".to_string(), activation.as_str().expect("a string").to_string()),
        ("mean".to_string(), meta.mean.to_string()),
        ("std".to_string(), meta.std.to_string()),
        ("config".to_string(), serde_json::to_string(&*meta.config).expect("plain data")),
        ("fingerprint".to_string(), meta.fingerprint.clone()),
    ]);
    tensors::serialize(views, info)
}

/// Reads and checks a model file.
pub fn load(path: &Path) -> Result<(AnyMlp, ModelMeta), ModelError> {
    let io = |source| ModelError::Io { path: path.to_path_buf(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    let invalid = |reason: String| ModelError::Invalid { path: path.to_path_buf(), reason };
    if len > MAX_FILE_BYTES {
        return Err(invalid(format!("{len} bytes, more than any model of this trainer")));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    parse(&bytes).map_err(invalid)
}

/// Parses a model file's bytes; the error says what is wrong.
pub fn parse(bytes: &[u8]) -> Result<(AnyMlp, ModelMeta), String> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
    let info = header.metadata().clone().unwrap_or_default();
    let field = |k: &str| info.get(k).ok_or_else(|| format!("metadata `{k}` is missing"));
    let config: TrainConfig = serde_json::from_str(field("config")?)
        .map_err(|e| format!("metadata `config` is not a configuration ({e})"))?;
    let config = config.validate().map_err(|e| format!("metadata `config`: {e}"))?;
    let activation: ActivationKind = serde_json::from_value(serde_json::Value::String(field("activation")?.clone()))
        .map_err(|_| {
            format!("metadata `activation` = {:?}: expected sigmoid, improved or relu", field("activation").ok())
        })?;
    let number = |k: &str| -> Result<f64, String> {
        let v: f64 = field(k)?.parse().map_err(|_| format!("metadata `{k}` is not a number"))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("metadata `{k}` = {v} is not finite"))
        }
    };
    let (mean, std) = (number("mean")?, number("std")?);
    if std <= 0.0 {
        return Err(format!("metadata `std` = {std} must be positive"));
    }
    if activation != config.activation {
        return Err(format!("metadata `activation` disagrees with the configuration's {:?}", config.activation));
    }
    let layers = config.hidden.len() + 1;
    let biases = config.bias == BiasKind::All;
    let expected = |l: usize| [Some(weight_name(l)), biases.then(|| bias_name(l))];
    let names = st.names();
    if let Some(extra) = names.iter().find(|n| !(0..layers).any(|l| expected(l).iter().flatten().any(|e| e == **n))) {
        let kinds = if biases { "layers.{i}.weight and layers.{i}.bias" } else { "layers.{i}.weight (bias = input)" };
        return Err(format!("unexpected tensor `{extra}` (a network of {layers} layers has {kinds}, i < {layers})"));
    }
    let want = match config.precision {
        Precision::F32 => Dtype::F32,
        Precision::F64 => Dtype::F64,
    };
    let tensor = |name: &str| -> Result<_, String> {
        let view = st.tensor(name).map_err(|_| format!("tensor `{name}` is missing"))?;
        if view.dtype() != want {
            return Err(format!("`{name}` has dtype {:?}; the configuration says {want:?}", view.dtype()));
        }
        Ok(view)
    };
    let mut sizes = Vec::with_capacity(layers + 1);
    let mut views = Vec::with_capacity(layers);
    for l in 0..layers {
        let name = weight_name(l);
        let view = tensor(&name)?;
        let shape = view.shape().to_vec();
        if shape.len() != 2 {
            return Err(format!("`{name}` has shape {shape:?}; a weight matrix is [fan_in, fan_out]"));
        }
        let out = if l + 1 < layers { config.hidden[l] } else { CLASSES };
        if shape[1] != out || (l > 0 && shape[0] != sizes[l]) {
            return Err(format!(
                "`{name}` has shape {shape:?}; the configuration's layers need [{}, {out}]",
                if l > 0 { sizes[l] } else { shape[0] }
            ));
        }
        if l == 0 {
            // The model's first layer counts the input's ones column, whose row is the bias.
            if biases {
                if shape[0] < 1 {
                    return Err(format!("`{name}` has no input rows"));
                }
                sizes.push(shape[0] + 1);
            } else {
                if shape[0] < 2 {
                    return Err(format!("`{name}` has {} input rows; at least one pixel and the bias row", shape[0]));
                }
                sizes.push(shape[0]);
            }
        }
        sizes.push(shape[1]);
        let bias = match biases {
            true => {
                let name = bias_name(l);
                let view = tensor(&name)?;
                if view.shape() != [out] {
                    return Err(format!("`{name}` has shape {:?}; the layer needs [{out}]", view.shape()));
                }
                Some(view)
            }
            false => None,
        };
        views.push((view, bias));
    }
    let meta =
        ModelMeta { activation, mean, std, config, fingerprint: info.get("fingerprint").cloned().unwrap_or_default() };
    let plan = Plan::for_config(&meta.config, sizes[0]);
    let model = match meta.config.precision {
        Precision::F32 => AnyMlp::F32(build::<f32>(&sizes, &views, &meta, plan)?),
        Precision::F64 => AnyMlp::F64(build::<f64>(&sizes, &views, &meta, plan)?),
    };
    Ok((model, meta))
}

fn build<T: Element>(
    sizes: &[usize],
    views: &[(safetensors::tensor::TensorView, Option<safetensors::tensor::TensorView>)],
    meta: &ModelMeta,
    plan: Plan,
) -> Result<Mlp<T>, String> {
    let mut weights = Vec::with_capacity(views.len());
    for (l, (weight, bias)) in views.iter().enumerate() {
        let oc = sizes[l + 1];
        let mut w: Vec<T> = tensors::decode(weight);
        if let Some(i) = w.iter().position(|v| !v.is_finite()) {
            return Err(format!("`{}` holds a non-finite weight at [{}, {}]", weight_name(l), i / oc, i % oc));
        }
        if let Some(bias) = bias {
            let b: Vec<T> = tensors::decode(bias);
            if let Some(i) = b.iter().position(|v| !v.is_finite()) {
                return Err(format!("`{}` holds a non-finite bias at [{i}]", bias_name(l)));
            }
            w.extend(b);
        }
        weights.push(w);
    }
    let bias = meta.config.bias;
    Ok(Mlp { sizes: sizes.to_vec(), weights, bias, activation: meta.activation.into(), plan })
}
