//! [`NumpyRng`] against golden values from numpy's legacy global RNG, bit for bit.
//!
//! The fixture `tests/fixtures/numpy_rng.json` is written by `scripts/numpy_rng_fixture.py`
//! (numpy version recorded inside); these tests need no Python. Floats are stored as Python
//! `repr` strings, which parse back to the exact same bits; whole weight matrices are compared
//! through the MD5 of their little-endian float64 bytes.

use std::path::Path;
use std::sync::OnceLock;

use md5::{Digest, Md5};
use mlp::rng::{NumpyRng, RunRng};
use serde_json::Value;

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/numpy_rng.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).expect("fixture is valid JSON")
    })
}

fn seed() -> u32 {
    u32::try_from(fixture()["seed"].as_u64().expect("seed")).expect("seed fits u32")
}

fn parse_f64(v: &Value) -> f64 {
    let s = v.as_str().expect("floats are stored as repr strings");
    s.parse().unwrap_or_else(|e| panic!("bad float {s:?}: {e}"))
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(parse_f64).collect()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| u32::try_from(x.as_u64().expect("integer")).expect("fits u32"))
        .collect()
}

/// Bit-exact comparison with the index of the first mismatch in the message.
fn assert_bits_eq(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("{what}: first mismatch at {i}: got {:?}, numpy {:?}", got[i], want[i]);
    }
}

fn assert_perm_eq(got: &[u32], want: &[u32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!("{what}: first mismatch at {i}: got {}, numpy {}", got[i], want[i]);
    }
}

/// Checks a weight matrix against a fixture layer: shape, first and last 50 values, the
/// sequential row-major sum and the MD5 of all values as little-endian float64.
fn assert_layer(w: &[f64], rows: usize, cols: usize, layer: &Value, what: &str) {
    let shape: Vec<u64> = layer["shape"].as_array().expect("shape").iter().map(|d| d.as_u64().expect("dim")).collect();
    assert_eq!(shape, [rows as u64, cols as u64], "{what}: shape");
    assert_eq!(w.len(), rows * cols);
    assert_bits_eq(&w[..50], &f64s(&layer["first50"]), &format!("{what} first 50"));
    assert_bits_eq(&w[w.len() - 50..], &f64s(&layer["last50"]), &format!("{what} last 50"));
    let sum = w.iter().fold(0.0, |s, &v| s + v);
    assert_bits_eq(&[sum], &[parse_f64(&layer["sum"])], &format!("{what} sum"));
    let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(
        format!("{:x}", Md5::digest(&bytes)),
        layer["md5_f64le"].as_str().expect("md5"),
        "{what}: md5 of all values"
    );
}

#[test]
fn fixture_records_numpy_version() {
    let version = fixture()["numpy_version"].as_str().expect("numpy_version");
    assert!(!version.is_empty());
    assert_eq!(seed(), 1);
}

#[test]
fn seeding_matches_init_genrand() {
    let want = u32s(&fixture()["raw_u32"]);
    let mut rng = NumpyRng::new(seed());
    let got: Vec<u32> = (0..want.len()).map(|_| rng.next_u32()).collect();
    assert_eq!(got, want);
}

#[test]
fn uniform_matches_numpy() {
    let case = &fixture()["uniform"];
    let (lo, hi) = (case["lo"].as_f64().unwrap(), case["hi"].as_f64().unwrap());
    let want = f64s(&case["values"]);

    let mut got = vec![0.0; want.len()];
    NumpyRng::new(seed()).fill_uniform(&mut got, lo, hi);
    assert_bits_eq(&got, &want, "fill_uniform");

    let mut rng = NumpyRng::new(seed());
    let one_by_one: Vec<f64> = (0..want.len()).map(|_| rng.uniform(lo, hi)).collect();
    assert_bits_eq(&one_by_one, &want, "uniform");
}

#[test]
fn normal_with_odd_count_matches_numpy() {
    let case = &fixture()["normal_odd"];
    let std = 1.0 / 785f64.sqrt();
    assert_bits_eq(&[std], &[parse_f64(&case["std"])], "std");
    let want = f64s(&case["values"]);
    assert_eq!(want.len() % 2, 1, "the fixture should end on a cached value");

    let mut got = vec![0.0; want.len()];
    NumpyRng::new(seed()).fill_normal(&mut got, std);
    assert_bits_eq(&got, &want, "fill_normal");

    // Split into odd-sized calls: the cached second value carries across them.
    let mut rng = NumpyRng::new(seed());
    let mut split = vec![0.0; want.len()];
    let (a, rest) = split.split_at_mut(1);
    let (b, c) = rest.split_at_mut(500);
    rng.fill_normal(a, std);
    rng.fill_normal(b, std);
    rng.fill_normal(c, std);
    assert_bits_eq(&split, &want, "fill_normal in three calls");
}

#[test]
fn uniform_init_then_two_shuffles_matches_numpy() {
    let case = &fixture()["uniform_init_two_shuffles"];
    let n = case["n"].as_u64().unwrap() as u32;
    let mut rng = NumpyRng::new(seed());

    let mut w1 = vec![0.0; 785 * 64];
    let mut w2 = vec![0.0; 64 * 10];
    rng.fill_uniform(&mut w1, -1.0, 1.0);
    rng.fill_uniform(&mut w2, -1.0, 1.0);
    assert_layer(&w1, 785, 64, &case["layers"][0], "uniform w1");
    assert_layer(&w2, 64, 10, &case["layers"][1], "uniform w2");

    let mut indices: Vec<u32> = (0..n).collect();
    rng.shuffle(&mut indices);
    assert_perm_eq(&indices, &u32s(&case["perm_after_first_shuffle"]), "first shuffle");
    rng.shuffle(&mut indices);
    assert_perm_eq(&indices, &u32s(&case["perm_after_second_shuffle"]), "second shuffle");
}

#[test]
fn normal_init_then_shuffle_matches_numpy() {
    let case = &fixture()["normal_init_shuffle"];
    let n = case["n"].as_u64().unwrap() as u32;
    let stds = [1.0 / 785f64.sqrt(), 1.0 / 64f64.sqrt()];
    assert_bits_eq(&stds, &f64s(&case["stds"]), "stds");
    let mut rng = NumpyRng::new(seed());

    let mut w1 = vec![0.0; 785 * 64];
    let mut w2 = vec![0.0; 64 * 10];
    rng.fill_normal(&mut w1, stds[0]);
    rng.fill_normal(&mut w2, stds[1]);
    assert_layer(&w1, 785, 64, &case["layers"][0], "normal w1");
    assert_layer(&w2, 64, 10, &case["layers"][1], "normal w2");

    let mut indices: Vec<u32> = (0..n).collect();
    rng.shuffle(&mut indices);
    assert_perm_eq(&indices, &u32s(&case["perm_after_shuffle"]), "shuffle");
}

#[test]
fn works_as_a_boxed_run_rng() {
    let case = &fixture()["uniform"];
    let want = f64s(&case["values"]);
    let mut rng: Box<dyn RunRng> = Box::new(NumpyRng::new(seed()));
    let mut got = vec![0.0; 10];
    rng.fill_uniform(&mut got, -1.0, 1.0);
    assert_bits_eq(&got, &want[..10], "boxed fill_uniform");
}
