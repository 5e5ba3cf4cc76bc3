//! Images to predict: IDX image files (raw or gzipped) and PNG files or directories of PNGs,
//! 8-bit grayscale with a white digit on black, as MNIST's.

use std::path::{Path, PathBuf};

use super::idx;
use crate::error::DataError;

const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

/// Images read for prediction: a name per image (its position in an IDX file, or its PNG file
/// name) and `pixels` raw bytes each.
#[derive(Debug, Clone, PartialEq)]
pub struct InputImages {
    pub names: Vec<String>,
    pub pixels: usize,
    pub data: Vec<u8>,
}

fn bad(path: &Path, reason: String) -> DataError {
    DataError::BadImage { path: path.to_path_buf(), reason }
}

/// One PNG of `side` x `side` 8-bit grayscale pixels, a light digit on a dark background.
fn read_png(path: &Path, side: Option<u32>) -> Result<Vec<u8>, DataError> {
    let side = side.ok_or_else(|| bad(path, "the model's inputs are not a square image".into()))?;
    let img = image::ImageReader::open(path)
        .map_err(|source| DataError::Io { path: path.into(), source })?
        .with_guessed_format()
        .map_err(|source| DataError::Io { path: path.into(), source })?
        .decode()
        .map_err(|e| bad(path, format!("not a readable PNG ({e})")))?;
    if img.color() != image::ColorType::L8 {
        return Err(bad(path, format!("{:?} pixels; expected 8-bit grayscale (convert it first)", img.color())));
    }
    if (img.width(), img.height()) != (side, side) {
        return Err(bad(path, format!("{}x{} pixels; expected {side}x{side}", img.width(), img.height())));
    }
    let bytes = img.into_luma8().into_raw();
    let mean = bytes.iter().map(|&b| b as f64).sum::<f64>() / bytes.len() as f64;
    if mean > 127.0 {
        return Err(bad(
            path,
            "a dark digit on a light background; expected white on black as MNIST (invert it)".into(),
        ));
    }
    Ok(bytes)
}

/// The images of `paths`, in order: each an IDX image file, a PNG, or a directory whose `.png`
/// files are taken in name order. Every image must have `pixels` pixels (a square for PNGs).
pub fn read_inputs(paths: &[PathBuf], pixels: usize) -> Result<InputImages, DataError> {
    let root = (pixels as f64).sqrt().round() as u32;
    let side = (root as usize * root as usize == pixels).then_some(root);
    let mut out = InputImages { names: Vec::new(), pixels, data: Vec::new() };
    for path in paths {
        if path.is_dir() {
            let mut pngs: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| DataError::Io { path: path.clone(), source })?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
                .collect();
            pngs.sort();
            if pngs.is_empty() {
                return Err(bad(path, "a directory without .png files".into()));
            }
            for png in pngs {
                out.data.extend(read_png(&png, side)?);
                out.names.push(png.file_name().unwrap_or_default().to_string_lossy().into_owned());
            }
            continue;
        }
        let head = {
            use std::io::Read;
            let mut head = [0u8; 8];
            let mut f = std::fs::File::open(path).map_err(|source| DataError::Io { path: path.clone(), source })?;
            let n = f.read(&mut head).map_err(|source| DataError::Io { path: path.clone(), source })?;
            head[..n].to_vec()
        };
        if head == PNG_MAGIC {
            out.data.extend(read_png(path, side)?);
            out.names.push(path.file_name().unwrap_or_default().to_string_lossy().into_owned());
        } else {
            let images = idx::read_images(path)?;
            if images.pixels != pixels {
                return Err(bad(path, format!("images of {} pixels; the model takes {pixels}", images.pixels)));
            }
            out.names.extend((0..images.count).map(|i| i.to_string()));
            out.data.extend(images.data);
        }
    }
    Ok(out)
}
