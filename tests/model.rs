//! Model files: the safetensors contract, `mlp eval` and `mlp predict` agreeing with the run, and
//! every kind of bad model file refused with a clear error naming it (never a panic).

use std::path::{Path, PathBuf};
use std::process::Command;

use mlp::config::{ActivationKind, BiasKind, InitKind, OptimizerKind, Precision, TrainConfig};
use mlp::data::{read_inputs, Mnist};
use mlp::experiment::inference::{evaluate_model, predict_images, EvalSet};
use mlp::experiment::run::{run_to_dir, RunOptions};
use mlp::nn::model_file;
use mlp::train::log::Summary;
use safetensors::SafeTensors;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

fn mnist() -> Mnist {
    Mnist::load(&data_dir()).unwrap()
}

fn opts() -> RunOptions {
    RunOptions {
        data_dir: data_dir(),
        force: false,
        resume: false,
        checkpoint_every: 0,
        quiet: true,
        blas_core: "test".into(),
        threads: 1,
    }
}

/// A short run into `dir`: [32, 16] improved sigmoid, `precision`, `val_from_train` images.
fn short_run(dir: &Path, precision: Precision, val_from_train: usize) -> Summary {
    let cfg = TrainConfig {
        hidden: vec![32, 16],
        activation: ActivationKind::Improved,
        init: InitKind::Normal,
        epochs: 2,
        train_size: 2000,
        val_size: 1000,
        val_from_train,
        precision,
        ..TrainConfig::default()
    };
    run_to_dir(&cfg.validate().unwrap(), &mnist(), dir, &opts()).unwrap().summary
}

#[test]
fn the_model_file_holds_the_documented_tensors_and_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    short_run(tmp.path(), Precision::F32, 0);
    let bytes = std::fs::read(tmp.path().join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(names, ["layers.0.weight", "layers.1.weight", "layers.2.weight"]);
    let shapes: Vec<Vec<usize>> =
        (0..3).map(|l| st.tensor(&format!("layers.{l}.weight")).unwrap().shape().to_vec()).collect();
    assert_eq!(shapes, [vec![785, 32], vec![32, 16], vec![16, 10]]);
    assert!((0..3).all(|l| st.tensor(&format!("layers.{l}.weight")).unwrap().dtype() == safetensors::Dtype::F32));
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["activation"], "improved");
    assert!((meta["mean"].parse::<f64>().unwrap() - 33.318421449829934).abs() < 1e-12);
    assert!((meta["std"].parse::<f64>().unwrap() - 78.56748998339799).abs() < 1e-12);
    let config: serde_json::Value = serde_json::from_str(&meta["config"]).unwrap();
    assert_eq!(config["hidden"], serde_json::json!([32, 16]));
    let fingerprint: serde_json::Value = serde_json::from_str(&meta["fingerprint"]).unwrap();
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(fingerprint, record["fingerprint"]);
    // The same run writes the same bytes.
    let again = tempfile::tempdir().unwrap();
    short_run(again.path(), Precision::F32, 0);
    assert!(std::fs::read(again.path().join("model.safetensors")).unwrap() == bytes);
}

#[test]
fn eval_reproduces_the_runs_final_metrics_in_both_precisions() {
    for precision in [Precision::F32, Precision::F64] {
        let tmp = tempfile::tempdir().unwrap();
        let s = short_run(tmp.path(), precision, 0);
        let model = tmp.path().join("model.safetensors");
        let val = evaluate_model(&model, &mnist(), &data_dir(), EvalSet::Validation).unwrap();
        assert_eq!((Some(val.loss), Some(val.accuracy)), (s.final_val_loss, s.final_val_acc), "{precision:?}");
        let train = evaluate_model(&model, &mnist(), &data_dir(), EvalSet::Train).unwrap();
        assert_eq!((train.loss, train.accuracy), (s.final_train_loss, s.final_train_acc));
        assert_eq!(val.images, 1000);
        let total: usize = val.confusion.iter().flatten().sum();
        let correct: usize = (0..10).map(|c| val.confusion[c][c]).sum();
        assert_eq!((total, correct as f64 / 1000.0), (1000, val.accuracy));
        for (c, acc) in val.per_class_accuracy.iter().enumerate() {
            let row: usize = val.confusion[c].iter().sum();
            assert_eq!(*acc, Some(val.confusion[c][c] as f64 / row as f64));
        }
    }
}

#[test]
fn validation_from_the_training_file_keeps_the_test_set_for_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let s = short_run(tmp.path(), Precision::F64, 3000);
    let model = tmp.path().join("model.safetensors");
    let val = evaluate_model(&model, &mnist(), &data_dir(), EvalSet::Validation).unwrap();
    let test = evaluate_model(&model, &mnist(), &data_dir(), EvalSet::Test).unwrap();
    assert_eq!((val.images, test.images), (3000, 1000));
    assert_eq!((Some(val.loss), Some(val.accuracy)), (s.final_val_loss, s.final_val_acc));
    assert_eq!((Some(test.loss), Some(test.accuracy)), (s.final_test_loss, s.final_test_acc));
    assert_ne!(val.loss, test.loss);
    // Without val_from_train the test metrics are null.
    let plain = tempfile::tempdir().unwrap();
    let s = short_run(plain.path(), Precision::F64, 0);
    assert_eq!((s.final_test_loss, s.final_test_acc), (None, None));
}

#[test]
fn every_layers_bias_is_stored_as_torch_linear_does_and_eval_and_predict_use_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        hidden: vec![32, 16],
        activation: ActivationKind::Relu,
        init: InitKind::He,
        optimizer: OptimizerKind::Adam,
        lr: 0.002,
        bias: BiasKind::All,
        epochs: 2,
        train_size: 2000,
        val_size: 1000,
        ..TrainConfig::default()
    };
    let s = run_to_dir(&cfg.validate().unwrap(), &mnist(), tmp.path(), &opts()).unwrap().summary;
    let model_path = tmp.path().join("model.safetensors");
    let bytes = std::fs::read(&model_path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let shape = |name: &str| st.tensor(name).unwrap().shape().to_vec();
    assert_eq!(st.names().len(), 6);
    assert_eq!(
        [shape("layers.0.weight"), shape("layers.1.weight"), shape("layers.2.weight")],
        [vec![784, 32], vec![32, 16], vec![16, 10]]
    );
    assert_eq!(
        [shape("layers.0.bias"), shape("layers.1.bias"), shape("layers.2.bias")],
        [vec![32], vec![16], vec![10]]
    );
    // Training moved the biases from zero.
    let (model, meta) = model_file::load(&model_path).unwrap();
    let mlp::nn::model_file::AnyMlp::F64(net) = &model else { panic!("an f64 run") };
    assert!((0..3).all(|l| net.weights[l][net.sizes[l] * net.sizes[l + 1] - 10..].iter().any(|&b| b != 0.0)));
    let val = evaluate_model(&model_path, &mnist(), &data_dir(), EvalSet::Validation).unwrap();
    assert_eq!((Some(val.loss), Some(val.accuracy)), (s.final_val_loss, s.final_val_acc));
    let idx = data_dir().join("t10k-images-idx3-ubyte.gz");
    let all = predict_images(&model_path, &model, &meta, &read_inputs(&[idx], 784).unwrap()).unwrap();
    let m = mnist();
    let correct = all[9000..].iter().zip(&m.test.labels[9000..]).filter(|(p, &y)| p.predicted == y).count();
    assert_eq!(correct as f64 / 1000.0, val.accuracy);
    // A bias tensor too many or too few is refused.
    let mut cfg_input: TrainConfig = (*meta.config).clone();
    cfg_input.bias = BiasKind::Input;
    let json = serde_json::to_string(&cfg_input).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut info = header.metadata().clone().unwrap();
    info.insert("config".into(), json);
    let views: Vec<(String, safetensors::tensor::TensorView)> =
        st.tensors().into_iter().map(|(n, v)| (n.to_string(), v)).collect();
    let relabelled = safetensors::serialize(views, Some(info)).unwrap();
    let err = model_file::parse(&relabelled).unwrap_err();
    assert!(err.starts_with("unexpected tensor `layers.") && err.contains(".bias`"), "{err}");
}

/// Writes image `i` of the test file as a PNG (grayscale, or `color` RGB).
fn png(mnist: &Mnist, i: usize, path: &Path, color: bool) {
    let pixels = mnist.test.images.data[i * 784..(i + 1) * 784].to_vec();
    if color {
        let rgb: Vec<u8> = pixels.iter().flat_map(|&p| [p, p, p]).collect();
        image::RgbImage::from_raw(28, 28, rgb).unwrap().save(path).unwrap();
    } else {
        image::GrayImage::from_raw(28, 28, pixels).unwrap().save(path).unwrap();
    }
}

#[test]
fn predict_agrees_with_eval_on_idx_and_png_and_refuses_other_images() {
    let m = mnist();
    let tmp = tempfile::tempdir().unwrap();
    short_run(tmp.path(), Precision::F32, 0);
    let model_path = tmp.path().join("model.safetensors");
    let (model, meta) = model_file::load(&model_path).unwrap();
    let idx = data_dir().join("t10k-images-idx3-ubyte.gz");
    let all = predict_images(&model_path, &model, &meta, &read_inputs(&[idx], 784).unwrap()).unwrap();
    assert_eq!(all.len(), 10000);
    // The run validated on the last 1000 test images: predictions there give its accuracy.
    let correct = all[9000..].iter().zip(&m.test.labels[9000..]).filter(|(p, &y)| p.predicted == y).count();
    let val = evaluate_model(&model_path, &m, &data_dir(), EvalSet::Validation).unwrap();
    assert_eq!(correct as f64 / 1000.0, val.accuracy);
    assert!(all
        .iter()
        .all(|p| (p.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-5 && p.name.parse::<usize>().is_ok()));

    // PNG files and a directory of them: the same predictions as the IDX images.
    let pngs = tmp.path().join("pngs");
    std::fs::create_dir(&pngs).unwrap();
    for i in [3, 17] {
        png(&m, i, &pngs.join(format!("digit-{i:02}.png")), false);
    }
    let from_dir =
        predict_images(&model_path, &model, &meta, &read_inputs(std::slice::from_ref(&pngs), 784).unwrap()).unwrap();
    assert_eq!(from_dir.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["digit-03.png", "digit-17.png"]);
    assert_eq!((from_dir[0].predicted, from_dir[1].predicted), (all[3].predicted, all[17].predicted));
    assert_eq!(from_dir[1].probabilities, all[17].probabilities);

    let bad = |path: &Path, needle: &str| {
        let err = read_inputs(&[path.to_path_buf()], 784).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()) && err.contains(needle), "{err}");
    };
    let rgb = tmp.path().join("rgb.png");
    png(&m, 0, &rgb, true);
    bad(&rgb, "8-bit grayscale");
    let small = tmp.path().join("small.png");
    image::GrayImage::new(27, 27).save(&small).unwrap();
    bad(&small, "27x27");
    let inverted = tmp.path().join("inverted.png");
    image::GrayImage::from_pixel(28, 28, image::Luma([255])).save(&inverted).unwrap();
    bad(&inverted, "white on black");
    bad(&data_dir().join("t10k-labels-idx1-ubyte.gz"), "magic");
}

/// A valid model file's bytes, and a way to rebuild one with other tensors or metadata.
fn valid_model() -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    short_run(tmp.path(), Precision::F64, 0);
    std::fs::read(tmp.path().join("model.safetensors")).unwrap()
}

fn rebuilt(
    bytes: &[u8],
    change: impl FnOnce(
        &mut Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>,
        &mut std::collections::HashMap<String, String>,
    ),
) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    let mut tensors: Vec<_> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    change(&mut tensors, &mut meta);
    let views =
        tensors.iter().map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()));
    safetensors::serialize(views, Some(meta)).unwrap()
}

#[test]
fn bad_model_files_get_a_clear_error_naming_the_file() {
    let good = valid_model();
    let tmp = tempfile::tempdir().unwrap();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..good.len() - 100].to_vec(), "not a safetensors file"),
        ("empty", Vec::new(), "not a safetensors file"),
        (
            "header-too-long",
            [&(good.len() as u64 * 2).to_le_bytes()[..], &good[8..]].concat(),
            "not a safetensors file",
        ),
        ("text", b"hello, this is not a model at all".to_vec(), "not a safetensors file"),
    ];
    let nan = rebuilt(&good, |t, _| {
        let w = t.iter_mut().find(|t| t.0 == "layers.1.weight").unwrap();
        w.3[8..16].copy_from_slice(&f64::NAN.to_le_bytes());
    });
    cases.push(("nan", nan, "non-finite weight at [0, 1]"));
    let int = rebuilt(&good, |t, _| {
        let w = t.iter_mut().find(|t| t.0 == "layers.2.weight").unwrap();
        w.1 = safetensors::Dtype::I64;
    });
    cases.push(("integer", int, "dtype I64"));
    cases.push((
        "missing-layer",
        rebuilt(&good, |t, _| t.retain(|t| t.0 != "layers.1.weight")),
        "`layers.1.weight` is missing",
    ));
    let nine = rebuilt(&good, |t, _| {
        let w = t.iter_mut().find(|t| t.0 == "layers.2.weight").unwrap();
        (w.2, w.3) = (vec![16, 9], w.3[..16 * 9 * 8].to_vec());
    });
    cases.push(("nine-classes", nine, "need [16, 10]"));
    let shape = rebuilt(&good, |t, _| {
        let w = t.iter_mut().find(|t| t.0 == "layers.1.weight").unwrap();
        w.2 = vec![16, 32];
    });
    cases.push(("transposed", shape, "need [32, 16]"));
    cases.push((
        "extra",
        rebuilt(&good, |t, _| t.push(("bias".into(), safetensors::Dtype::F64, vec![1], vec![0; 8]))),
        "unexpected tensor `bias`",
    ));
    cases.push(("no-config", rebuilt(&good, |_, m| drop(m.remove("config"))), "metadata `config` is missing"));
    cases.push((
        "bad-std",
        rebuilt(&good, |_, m| drop(m.insert("std".into(), "-1".into()))),
        "`std` = -1 must be positive",
    ));
    cases.push((
        "bad-activation",
        rebuilt(&good, |_, m| drop(m.insert("activation".into(), "tanh".into()))),
        "expected sigmoid, improved or relu",
    ));
    for (name, bytes, needle) in cases {
        let path = tmp.path().join(format!("{name}.safetensors"));
        std::fs::write(&path, bytes).unwrap();
        let err = model_file::load(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()) && err.contains(needle), "{name}: {err}");
    }
    // Through the command line: exit 1 and the message, no panic.
    let path = tmp.path().join("truncated.safetensors");
    let o = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(["eval", "--quiet", "--model", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a usable model file"));

    // A model for other data: 784 pixels against images of another size.
    let small = tmp.path().join("data");
    std::fs::create_dir(&small).unwrap();
    for (name, magic, dims) in
        [("train-images-idx3-ubyte", 2051u32, vec![2u32, 3, 3]), ("t10k-images-idx3-ubyte", 2051, vec![2, 3, 3])]
    {
        let mut b: Vec<u8> = [magic].iter().chain(&dims).flat_map(|v| v.to_be_bytes()).collect();
        b.extend([7u8; 18]);
        std::fs::write(small.join(name), b).unwrap();
    }
    for name in ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"] {
        std::fs::write(small.join(name), [&2049u32.to_be_bytes()[..], &2u32.to_be_bytes(), &[1, 2]].concat()).unwrap();
    }
    let model = tmp.path().join("good.safetensors");
    std::fs::write(&model, &good).unwrap();
    let err =
        evaluate_model(&model, &Mnist::load(&small).unwrap(), &small, EvalSet::Validation).unwrap_err().to_string();
    assert!(err.contains("does not fit") && err.contains("784 pixels"), "{err}");
}
