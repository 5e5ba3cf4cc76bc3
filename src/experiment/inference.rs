//! Using a saved model: its metrics on a data set of its run's setting (`mlp eval`) and its
//! predictions for new images (`mlp predict`).

use std::path::Path;

use serde::Serialize;

use crate::config::CLASSES;
use crate::data::{Dataset, InputImages, LabelledImages, Mnist, Normalization};
use crate::error::{ModelError, TrainError};
use crate::nn::model_file::{self, AnyMlp, ModelMeta};
use crate::nn::{memory, Mlp};
use kernels::Element;

/// Which images of the run's setting to evaluate on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum EvalSet {
    /// The run's validation set (the last val_size test images, or the last val_from_train
    /// training images): the run's final validation metrics.
    Validation,
    /// The last val_size test images.
    Test,
    /// The run's training images.
    Train,
}

/// What `mlp eval` prints.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub set: EvalSet,
    pub images: usize,
    pub loss: f64,
    pub accuracy: f64,
    /// confusion[true class][predicted class]: image counts.
    pub confusion: Vec<Vec<usize>>,
    /// Correct / images per true class (null for a class without images).
    pub per_class_accuracy: Vec<Option<f64>>,
    /// Whether the data files are the ones the run trained on (by content hash; null when the
    /// model records no fingerprint): only then are these the run's metrics.
    pub data_as_in_run: Option<bool>,
}

/// Refuses a model whose evaluation buffers would not fit in memory (a file can describe a
/// network far larger than itself).
fn check_memory(path: &Path, model: &AnyMlp) -> Result<(), TrainError> {
    let (element, plan) = match model {
        AnyMlp::F32(m) => (4, m.plan),
        AnyMlp::F64(m) => (8, m.plan),
    };
    let needed = memory::training_bytes(model.sizes(), 1, element, rayon::current_num_threads(), &plan);
    let available = memory::available_bytes().unwrap_or(u64::MAX);
    match needed {
        Some(n) if n <= available => Ok(()),
        n => Err(ModelError::Invalid {
            path: path.into(),
            reason: format!(
                "evaluating it needs about {} MiB, {} MiB are available",
                n.map_or(u64::MAX, |n| n >> 20),
                available >> 20
            ),
        }
        .into()),
    }
}

/// The model in `path`, checked against the data it will read.
fn load_for(path: &Path, mnist: &Mnist, data_dir: &Path) -> Result<(AnyMlp, ModelMeta), TrainError> {
    let (model, meta) = model_file::load(path)?;
    check_memory(path, &model)?;
    if model.sizes()[0] != mnist.pixels() + 1 {
        return Err(ModelError::DoesNotFit {
            path: path.into(),
            data: data_dir.into(),
            reason: format!(
                "the model takes {} pixels per image, the data has {}",
                model.sizes()[0] - 1,
                mnist.pixels()
            ),
        }
        .into());
    }
    Ok((model, meta))
}

/// Metrics of the model in `path` on `set` of its run's setting in `mnist`; on the validation
/// set they equal the run's final validation metrics.
pub fn evaluate_model(path: &Path, mnist: &Mnist, data_dir: &Path, set: EvalSet) -> Result<EvalReport, TrainError> {
    let (model, meta) = load_for(path, mnist, data_dir)?;
    let cfg = &meta.config;
    let norm = Normalization { mean: meta.mean, std: meta.std };
    let (file, n, tail) = match set {
        EvalSet::Validation if cfg.val_from_train > 0 => (&mnist.train, cfg.val_from_train, true),
        EvalSet::Validation | EvalSet::Test => (&mnist.test, cfg.val_size, true),
        EvalSet::Train => (&mnist.train, cfg.train_size, false),
    };
    if n > file.images.count {
        return Err(ModelError::DoesNotFit {
            path: path.into(),
            data: data_dir.into(),
            reason: format!(
                "its run used {n} images of {}, which holds {}",
                file.images_path.display(),
                file.images.count
            ),
        }
        .into());
    }
    fn report<T: Element>(model: &Mlp<T>, data: &Dataset<T>, set: EvalSet) -> EvalReport {
        let metrics = model.evaluate(data);
        let (_, predicted) = model.predict(data);
        let mut confusion = vec![vec![0usize; CLASSES]; CLASSES];
        for (&y, &p) in data.labels.iter().zip(&predicted) {
            confusion[y as usize][p as usize] += 1;
        }
        let per_class_accuracy = confusion
            .iter()
            .enumerate()
            .map(|(c, row)| {
                let total: usize = row.iter().sum();
                (total > 0).then(|| row[c] as f64 / total as f64)
            })
            .collect();
        EvalReport {
            set,
            images: data.len(),
            loss: metrics.map_or(f64::NAN, |m| m.loss),
            accuracy: metrics.map_or(f64::NAN, |m| m.accuracy),
            confusion,
            per_class_accuracy,
            data_as_in_run: None,
        }
    }
    fn data<'a, T: Element>(
        file: &'a LabelledImages,
        n: usize,
        tail: bool,
        norm: Normalization,
        m: &Mlp<T>,
    ) -> Dataset<'a, T> {
        let forms = m.plan.data_forms().eval;
        if tail {
            Dataset::last(file, n, norm, forms)
        } else {
            Dataset::first(file, n, norm, forms)
        }
    }
    let mut report = match model {
        AnyMlp::F32(m) => report(&m, &data(file, n, tail, norm, &m), set),
        AnyMlp::F64(m) => report(&m, &data(file, n, tail, norm, &m), set),
    };
    let recorded: Option<super::fingerprint::Fingerprint> = serde_json::from_str(&meta.fingerprint).ok();
    report.data_as_in_run = recorded.map(|f| f.data == mnist.content_hash());
    Ok(report)
}

/// One line of `mlp predict`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub name: String,
    pub predicted: u8,
    pub probabilities: Vec<f64>,
}

/// The predictions for `images` of `model` (loaded from `path` with `meta`).
pub fn predict_images(
    path: &Path,
    model: &AnyMlp,
    meta: &ModelMeta,
    images: &InputImages,
) -> Result<Vec<Prediction>, TrainError> {
    check_memory(path, model)?;
    if model.sizes()[0] != images.pixels + 1 {
        return Err(ModelError::Invalid {
            path: path.into(),
            reason: format!("takes {} pixels per image, the images have {}", model.sizes()[0] - 1, images.pixels),
        }
        .into());
    }
    let norm = Normalization { mean: meta.mean, std: meta.std };
    let labels = vec![0u8; images.names.len()];
    let (probs, predicted): (Vec<f64>, Vec<u8>) = match model {
        AnyMlp::F32(m) => {
            let forms = m.plan.data_forms().eval;
            let (p, c) = m.predict(&Dataset::new(&images.data, &labels, images.pixels, norm, forms));
            (p.into_iter().map(f64::from).collect(), c)
        }
        AnyMlp::F64(m) => {
            let forms = m.plan.data_forms().eval;
            m.predict(&Dataset::new(&images.data, &labels, images.pixels, norm, forms))
        }
    };
    Ok(images
        .names
        .iter()
        .zip(predicted)
        .zip(probs.chunks_exact(CLASSES))
        .map(|((name, predicted), p)| Prediction { name: name.clone(), predicted, probabilities: p.to_vec() })
        .collect())
}
