//! Weight matrices as safetensors tensors: the byte encoding shared by model files and
//! checkpoints (little-endian F32 or F64, the precision trained).

use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::{Dtype, TensorView};

use kernels::Element;

/// The safetensors dtype of the element type `T`.
pub fn dtype<T: Element>() -> Dtype {
    if T::NAME == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// `values` as little-endian bytes of `T`.
pub fn encode<T: Element>(values: &[T]) -> Vec<u8> {
    if dtype::<T>() == Dtype::F32 {
        values.iter().flat_map(|v| (v.to_f64() as f32).to_le_bytes()).collect()
    } else {
        values.iter().flat_map(|v| v.to_f64().to_le_bytes()).collect()
    }
}

/// The values of a tensor of dtype `T` (the caller checked the dtype and shape).
pub fn decode<T: Element>(view: &TensorView) -> Vec<T> {
    let bytes = view.data();
    if dtype::<T>() == Dtype::F32 {
        bytes.chunks_exact(4).map(|b| T::from_f64(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64)).collect()
    } else {
        bytes.chunks_exact(8).map(|b| T::from_f64(f64::from_le_bytes(b.try_into().expect("8 bytes")))).collect()
    }
}

/// A view of `bytes` as a tensor of `shape` in `T`'s dtype.
pub fn view<'a, T: Element>(bytes: &'a [u8], shape: &[usize]) -> TensorView<'a> {
    TensorView::new(dtype::<T>(), shape.to_vec(), bytes).expect("bytes match the shape")
}

/// A safetensors file of `tensors` and string `metadata`, byte-for-byte the same for the same
/// inputs: the crate writes the metadata map in hash order, so the header is rewritten with its
/// keys sorted (the data offsets are relative to the data, so they stand).
pub fn serialize<'a>(
    tensors: impl IntoIterator<Item = (String, TensorView<'a>)>,
    metadata: BTreeMap<String, String>,
) -> Vec<u8> {
    let bytes = safetensors::serialize(tensors, Some(metadata.into_iter().collect::<HashMap<_, _>>()))
        .expect("well-formed tensors");
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).expect("the crate writes a JSON header");
    if let Some(serde_json::Value::Object(meta)) = header.get_mut("__metadata__") {
        meta.sort_keys();
    }
    let mut text = serde_json::to_vec(&header).expect("plain data");
    // The header is padded with spaces to a multiple of 8 bytes, as the crate does.
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}
