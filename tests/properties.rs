//! Property tests over the readers of untrusted input: random and mutated IDX files, sweep files
//! and model files never panic (they parse or give an error), and never allocate beyond what the
//! input holds.

use std::path::Path;
use std::sync::OnceLock;

use mlp::data::idx::{parse_images, parse_labels};
use mlp::experiment::sweep_file::Sweep;
use mlp::nn::model_file;
use proptest::prelude::*;

/// A small but complete model file (a [4] network on 2x2 images).
fn model_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let cfg =
            mlp::config::TrainConfig { hidden: vec![4], precision: mlp::config::Precision::F32, ..Default::default() }
                .validate()
                .unwrap();
        let mut rng = mlp::rng::XoshiroRng::new(3);
        let model = mlp::train::init_model::<f32>(&cfg, 5, &mut rng);
        let meta = model_file::ModelMeta {
            activation: cfg.activation,
            mean: 33.0,
            std: 78.0,
            config: cfg,
            fingerprint: "{}".into(),
        };
        model_file::to_bytes(&model, &model.weights, &meta)
    })
}

fn images_file(count: u32, rows: u32, cols: u32, body: &[u8]) -> Vec<u8> {
    [2051u32, count, rows, cols].iter().flat_map(|v| v.to_be_bytes()).chain(body.iter().copied()).collect()
}

/// `base` with the bytes at `edits` (position modulo the length) replaced, then cut to `keep`.
fn mutate(base: &[u8], edits: &[(usize, u8)], keep: usize) -> Vec<u8> {
    let mut b = base.to_vec();
    if !b.is_empty() {
        for &(at, v) in edits {
            let n = b.len();
            b[at % n] = v;
        }
    }
    b.truncate(keep);
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn idx_readers_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let p = Path::new("random.idx");
        let _ = parse_images(p, bytes.clone());
        let _ = parse_labels(p, &bytes);
    }

    #[test]
    fn idx_readers_never_panic_on_mutated_headers(
        count in 0u32..5, rows in 0u32..4, cols in 0u32..4,
        edits in proptest::collection::vec((0usize..64, any::<u8>()), 0..4),
        keep in 0usize..64,
    ) {
        let good = images_file(count, rows, cols, &vec![9u8; (count * rows * cols) as usize]);
        let bytes = mutate(&good, &edits, keep);
        if let Ok(images) = parse_images(Path::new("m.idx"), bytes.clone()) {
            prop_assert_eq!(images.data.len(), images.count * images.pixels);
        }
        let labels: Vec<u8> = [2049u32, count].iter().flat_map(|v| v.to_be_bytes()).chain(vec![3u8; count as usize]).collect();
        if let Ok(l) = parse_labels(Path::new("l.idx"), &mutate(&labels, &edits, keep)) {
            prop_assert!(l.iter().all(|&v| v <= 9));
        }
    }

    #[test]
    fn the_sweep_reader_never_panics(text in "\\PC{0,200}") {
        let _ = Sweep::parse(&text, "random");
    }

    #[test]
    fn the_sweep_reader_never_panics_on_mutated_sweeps(
        edits in proptest::collection::vec((0usize..2000, 32u8..127), 0..6),
        keep in 0usize..2000,
    ) {
        let study = include_str!("../experiments/study.toml");
        let text = String::from_utf8(mutate(study.as_bytes(), &edits, keep)).unwrap_or_default();
        if let Ok(s) = Sweep::parse(&text, "mutated") {
            prop_assert!(s.runs.iter().all(|r| !r.id.is_empty() && !r.id.contains('/')));
        }
    }

    #[test]
    fn the_model_loader_never_panics_on_mutated_files(
        edits in proptest::collection::vec((0usize..4000, any::<u8>()), 0..6),
        keep in 0usize..4000,
    ) {
        let bytes = mutate(model_bytes(), &edits, keep);
        if let Ok((model, _)) = model_file::parse(&bytes) {
            prop_assert_eq!(model.sizes().len(), 3);
        }
    }
}

#[test]
fn the_unmutated_model_parses() {
    let (model, meta) = model_file::parse(model_bytes()).unwrap();
    assert_eq!((model.sizes(), meta.std), (&[5usize, 4, 10][..], 78.0));
}
