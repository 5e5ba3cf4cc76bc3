//! Data loading: the shipped MNIST files, IDX validation errors, normalisation and the split.

use std::io::Write;
use std::path::{Path, PathBuf};

use kernels::sparse::grouped::{GROUP, NO_IMAGE, WINDOW as GROUP_WINDOW};
use md5::{Digest, Md5};
use mlp::config::NormStats;
use mlp::data::idx::{read_images, read_labels, read_maybe_gz};
use mlp::data::{split, split_bytes, Dataset, Forms, Mnist, Normalization, SplitForms};
use mlp::error::DataError;

fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

#[test]
fn shipped_files_have_the_known_md5_when_unzipped() {
    let known = [
        ("train-images-idx3-ubyte.gz", "6bbc9ace898e44ae57da46a324031adb"),
        ("train-labels-idx1-ubyte.gz", "a25bea736e30d166cdddb491f175f624"),
        ("t10k-images-idx3-ubyte.gz", "2646ac647ad5339dbf082846283269ea"),
        ("t10k-labels-idx1-ubyte.gz", "27ae3e4e09519cfbb04c329615203637"),
    ];
    for (name, md5) in known {
        let bytes = read_maybe_gz(&mnist_dir().join(name)).unwrap();
        assert_eq!(format!("{:x}", Md5::digest(&bytes)), md5, "{name}");
    }
}

#[test]
fn loads_mnist_with_2021_split_and_statistics() {
    let m = Mnist::load(&mnist_dir()).unwrap();
    assert_eq!((m.train.images.count, m.test.images.count, m.pixels()), (60000, 10000, 784));
    let full = Normalization::of(&m.train.images.data);
    assert!((full.mean - 33.318421449829934).abs() < 1e-12, "{}", full.mean);
    assert!((full.std - 78.56748998339799).abs() < 1e-12, "{}", full.std);
    let s = split::<f64>(&m, 20000, 10000, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    assert_eq!(s.norm, full);
    assert_eq!((s.train.len(), s.train.dim(), s.val.len(), s.val.dim()), (20000, 785, 10000, 785));
    let (train_x, val_x) = (s.train.rows(0..20000), s.val.rows(0..10000));
    assert_eq!((train_x.len(), val_x.len()), (20000 * 785, 10000 * 785));
    assert!(train_x.chunks(785).chain(val_x.chunks(785)).all(|row| row[784] == 1.0));
    // Row 0, pixel 0 is a background pixel: (0 - mean) / std.
    assert_eq!(train_x[0], -full.mean / full.std);
    // A non-zero pixel reads (raw - mean) / std.
    let q = m.train.images.data[..784].iter().position(|&v| v != 0).unwrap();
    assert_eq!(train_x[q], (m.train.images.data[q] as f64 - full.mean) / full.std);
    // A batch's rows are the same rows.
    let mut batch = vec![0.0; 2 * 785];
    s.train.dense_rows([19999, 3].into_iter(), &mut batch);
    assert_eq!((&batch[..785], &batch[785..]), (&train_x[19999 * 785..], &train_x[3 * 785..4 * 785]));
    assert_eq!(s.train.labels[..5], m.train.labels[..5]);
    assert_eq!(s.val.labels, m.test.labels);
    let sub = split::<f32>(&m, 20000, 10000, 0, NormStats::TrainSubset, SplitForms::ALL).unwrap();
    assert!((sub.norm.mean - 33.55274553571429).abs() < 1e-12);
    assert!((sub.norm.std - 78.87550070784695).abs() < 1e-12);
}

#[test]
fn evaluation_groups_hold_each_image_once_with_similar_ones() {
    let m = Mnist::load(&mnist_dir()).unwrap();
    let s = split::<f32>(&m, 1001, 10, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    let (sp, rows) = (s.train.sparse.groups.as_ref().unwrap(), s.train.sparse.rows.as_ref().unwrap());
    let raw = |i: usize| &m.train.images.data[i * 784..(i + 1) * 784];
    let mut seen = vec![0; 1001];
    for (j, members) in sp.images.iter().enumerate() {
        // Group j lies in the window of image GROUP * j: aligned windows of GROUP_WINDOW images.
        let window = |i: u32| i as usize / GROUP_WINDOW;
        let mut pixels = vec![[0u8; GROUP]; 784];
        for k in sp.group_ptr[j]..sp.group_ptr[j + 1] {
            assert_ne!(sp.bytes[k], [0; GROUP], "group {j} stores a pixel zero in all its images");
            pixels[sp.cols[k] as usize] = sp.bytes[k];
        }
        for (g, &i) in members.iter().enumerate() {
            let image: Vec<u8> = pixels.iter().map(|v| v[g]).collect();
            if i == NO_IMAGE {
                assert!(image.iter().all(|&v| v == 0), "group {j}, empty member {g}");
            } else {
                assert_eq!(window(i), GROUP * j / GROUP_WINDOW, "group {j}");
                assert_eq!(image, raw(i as usize), "group {j}, member {g} = image {i}");
                seen[i as usize] += 1;
            }
        }
    }
    assert!(seen.iter().all(|&n| n == 1), "every image in exactly one group");
    // 1001 = 5 windows of 200 + 1 image: it is alone in the last group.
    let alone: [u32; GROUP] = std::array::from_fn(|g| if g == 0 { 1000 } else { NO_IMAGE });
    assert_eq!(sp.images.last(), Some(&alone));
    // Similar images share pixels: the groups hold far fewer entries than the images' non-zeros
    // (groups of consecutive images would hold 77% (pairs) or 60% (four) on MNIST).
    let ratio = sp.cols.len() as f64 / rows.cols.len() as f64;
    let bound = if GROUP == 4 { 0.45 } else { 0.68 };
    assert!(ratio < bound, "groups of {GROUP} hold {ratio} of the non-zeros");
}

#[test]
fn validation_is_the_tail_of_the_test_file() {
    let m = Mnist::load(&mnist_dir()).unwrap();
    let s = split::<f32>(&m, 100, 300, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    assert_eq!(s.val.labels, m.test.labels[9700..]);
    let err = split::<f32>(&m, 60001, 10, 0, NormStats::FullTrain, SplitForms::ALL).unwrap_err();
    assert!(err.to_string().contains("60001") && err.to_string().contains("train-images"), "{err}");
}

#[test]
fn a_split_builds_only_the_forms_asked_for() {
    let m = Mnist::load(&mnist_dir()).unwrap();
    let built = |d: &Dataset<f32>| (d.sparse.rows.is_some(), d.sparse.groups.is_some());
    let steps = Forms { sparse_rows: true, ..Forms::default() };
    let eval = Forms { groups: true, ..Forms::default() };
    let s = split::<f32>(&m, 400, 200, 300, NormStats::FullTrain, SplitForms { train: steps, eval }).unwrap();
    assert_eq!(
        (built(&s.train), built(&s.val), built(s.test.as_ref().unwrap())),
        ((true, false), (false, true), (false, true))
    );
    let none = split::<f32>(
        &m,
        400,
        200,
        0,
        NormStats::FullTrain,
        SplitForms { train: Forms::default(), eval: Forms::default() },
    )
    .unwrap();
    assert_eq!((built(&none.train), built(&none.val)), ((false, false), (false, false)));
    // The rows of a set are the file's, whatever was built.
    let mut rows = vec![0.0; 400 * 785];
    none.train.dense_rows(0..400, &mut rows);
    let all = split::<f32>(&m, 400, 200, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    assert_eq!(rows, all.train.rows(0..400));
}

#[test]
fn the_memory_estimate_of_a_split_bounds_the_forms_built() {
    let m = Mnist::load(&mnist_dir()).unwrap();
    let held = |d: &Dataset<f32>| -> u64 {
        let rows = d.sparse.rows.as_ref().map_or(0, |r| r.cols.len() * 5 + r.row_ptr.len() * 8);
        let groups = d
            .sparse
            .groups
            .as_ref()
            .map_or(0, |g| g.cols.len() * (4 + GROUP) + g.images.len() * GROUP * 4 + g.group_ptr.len() * 8);
        (rows + groups + d.len() * d.dim() * 4) as u64
    };
    let s = split::<f32>(&m, 2000, 1000, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    let (estimate, built) = (split_bytes(&m, 2000, 1000, 0, SplitForms::ALL, 4), held(&s.train) + held(&s.val));
    assert!(estimate >= built && estimate < built * 3 / 2, "estimate {estimate}, built {built}");
    let nothing = SplitForms { train: Forms::default(), eval: Forms::default() };
    assert_eq!(split_bytes(&m, 2000, 1000, 0, nothing, 4), 0);
}

fn idx_images(magic: u32, count: u32, rows: u32, cols: u32, data: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = [magic, count, rows, cols].iter().flat_map(|w| w.to_be_bytes()).collect();
    v.extend_from_slice(data);
    v
}

fn idx_labels(magic: u32, count: u32, data: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = [magic, count].iter().flat_map(|w| w.to_be_bytes()).collect();
    v.extend_from_slice(data);
    v
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn raw_and_gzipped_files_read_the_same_whatever_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let raw = idx_images(2051, 2, 2, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    let a = read_images(&write(dir.path(), "a", &raw)).unwrap();
    // A gzipped file without a .gz name is still detected by its magic bytes.
    let b = read_images(&write(dir.path(), "b.idx", &gzip(&raw))).unwrap();
    assert_eq!((a.count, a.pixels, &a.data), (2, 6, &b.data));
    assert_eq!(a.data, b.data);
}

#[test]
fn idx_errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = |name, bytes: Vec<u8>| read_images(&write(d, name, &bytes)).unwrap_err();
    let lab = |name, bytes: Vec<u8>| read_labels(&write(d, name, &bytes)).unwrap_err();

    let e = img("truncated", idx_images(2051, 3, 2, 2, &[0; 11]));
    assert!(matches!(e, DataError::Length { expected: 12, found: 11, .. }), "{e:?}");
    assert!(e.to_string().contains("truncated") && e.to_string().contains("truncated"), "{e}");
    let e = img("truncated.gz", gzip(&idx_images(2051, 3, 2, 2, &[0; 5])));
    assert!(e.to_string().contains("truncated.gz"), "{e}");

    let e = img("magic", idx_images(2049, 1, 1, 1, &[0]));
    assert!(matches!(e, DataError::BadMagic { expected: 2051, found: 2049, .. }), "{e:?}");
    assert!(e.to_string().contains("magic"), "{e}");

    let e = img("empty", idx_images(2051, 3, 0, 28, &[]));
    assert!(matches!(e, DataError::EmptyImages { rows: 0, cols: 28, .. }), "{e:?}");
    assert!(e.to_string().contains("empty"), "{e}");

    let e = img("short", vec![0, 0, 8]);
    assert!(matches!(e, DataError::ShortHeader { found: 3, .. }), "{e:?}");

    let e = lab("labels-range", idx_labels(2049, 3, &[1, 10, 2]));
    assert!(matches!(e, DataError::LabelOutOfRange { index: 1, label: 10, .. }), "{e:?}");
    assert!(e.to_string().contains("labels-range"), "{e}");

    let e = lab("labels-magic", idx_labels(2051, 1, &[1]));
    assert!(matches!(e, DataError::BadMagic { expected: 2049, .. }), "{e:?}");

    let e = lab("labels-long", idx_labels(2049, 1, &[1, 2]));
    assert!(e.to_string().contains("trailing"), "{e}");

    let mut bad_gz = gzip(&idx_labels(2049, 1, &[1]));
    bad_gz.truncate(bad_gz.len() / 2);
    let e = lab("corrupt.gz", bad_gz);
    assert!(matches!(e, DataError::Gzip { .. }) && e.to_string().contains("corrupt.gz"), "{e:?}");

    let e = read_images(&d.join("nope")).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }) && e.to_string().contains("nope"), "{e}");
}

#[test]
fn directory_checks_counts_and_presence() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train-images-idx3-ubyte", &idx_images(2051, 2, 1, 2, &[0, 1, 2, 3]));
    write(d, "train-labels-idx1-ubyte.gz", &gzip(&idx_labels(2049, 3, &[0, 1, 2])));
    write(d, "t10k-images-idx3-ubyte", &idx_images(2051, 1, 1, 2, &[0, 1]));
    let e = Mnist::load(d).unwrap_err();
    assert!(matches!(e, DataError::CountMismatch { n_images: 2, n_labels: 3, .. }), "{e:?}");
    write(d, "train-labels-idx1-ubyte.gz", &gzip(&idx_labels(2049, 2, &[0, 1])));
    let e = Mnist::load(d).unwrap_err();
    assert!(e.to_string().contains("t10k-labels-idx1-ubyte"), "{e}");
    write(d, "t10k-labels-idx1-ubyte", &idx_labels(2049, 1, &[7]));
    let m = Mnist::load(d).unwrap();
    assert_eq!((m.train.images.count, m.test.labels.clone()), (2, vec![7]));
}
