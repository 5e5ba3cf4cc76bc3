//! Reader for the IDX format of the MNIST files, raw or gzipped (detected by the gzip magic bytes,
//! not by the file name). Every check failure is a [`DataError`] naming the file.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::DataError;

const IMAGES_MAGIC: u32 = 2051;
const LABELS_MAGIC: u32 = 2049;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Images as one row of `pixels` bytes per image.
#[derive(Debug, Clone)]
pub struct Images {
    pub count: usize,
    pub pixels: usize,
    pub data: Vec<u8>,
}

/// Deflate expands a byte into at most this many.
const MAX_DEFLATE_RATIO: usize = 1032;

/// Reads a whole file, decompressing it if it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io { path: path.into(), source })?;
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    // The gzip trailer holds the (last member's) size: room for it at once, no regrowing copies.
    let size = raw.last_chunk::<4>().map_or(0, |s| u32::from_le_bytes(*s) as usize);
    let mut out = Vec::with_capacity(size.min(raw.len().saturating_mul(MAX_DEFLATE_RATIO)));
    MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip { path: path.into(), source })?;
    Ok(out)
}

fn header(path: &Path, bytes: &[u8], words: usize) -> Result<Vec<u32>, DataError> {
    if bytes.len() < 4 * words {
        return Err(DataError::ShortHeader { path: path.into(), expected: 4 * words, found: bytes.len() });
    }
    Ok(bytes[..4 * words].chunks_exact(4).map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]])).collect())
}

fn check_magic(path: &Path, kind: &'static str, expected: u32, found: u32) -> Result<(), DataError> {
    if found != expected {
        return Err(DataError::BadMagic { path: path.into(), kind, expected, found });
    }
    Ok(())
}

fn check_length(path: &Path, expected: usize, found: usize) -> Result<(), DataError> {
    if expected != found {
        return Err(DataError::Length { path: path.into(), expected, found });
    }
    Ok(())
}

/// Parses an IDX3 image file (magic 2051, count, rows, cols, then count*rows*cols bytes); the
/// pixels stay where they are read.
pub fn parse_images(path: &Path, mut bytes: Vec<u8>) -> Result<Images, DataError> {
    let h = header(path, &bytes, 4)?;
    check_magic(path, "images", IMAGES_MAGIC, h[0])?;
    // Saturating: a corrupt header cannot wrap around into a length that happens to match.
    let (count, pixels) = (h[1] as usize, (h[2] as usize).saturating_mul(h[3] as usize));
    if pixels == 0 {
        return Err(DataError::EmptyImages { path: path.into(), rows: h[2], cols: h[3] });
    }
    check_length(path, count.saturating_mul(pixels), bytes.len() - 16)?;
    bytes.drain(..16);
    Ok(Images { count, pixels, data: bytes })
}

/// Parses an IDX1 label file (magic 2049, count, then count bytes, each 0..=9).
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    let h = header(path, bytes, 2)?;
    check_magic(path, "labels", LABELS_MAGIC, h[0])?;
    let data = &bytes[8..];
    check_length(path, h[1] as usize, data.len())?;
    if let Some((index, &label)) = data.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(DataError::LabelOutOfRange { path: path.into(), index, label });
    }
    Ok(data.to_vec())
}

pub fn read_images(path: &Path) -> Result<Images, DataError> {
    parse_images(path, read_maybe_gz(path)?)
}

pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_labels(path, &read_maybe_gz(path)?)
}
