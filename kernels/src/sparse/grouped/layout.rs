//! The grouped layout: how many images a group holds, and a borrowed view of the groups.

/// Whether this build has the AVX-512 block.
pub const HAS_WIDE_KERNEL: bool = cfg!(all(target_arch = "x86_64", target_feature = "avx512f"));

/// Images per group: four where the build has the AVX-512 block (four images' accumulators in 16
/// of its 32 registers), else two: AVX2 has 16 registers and groups of four ran slower there than
/// pairs (results/bench/BENCHMARKS.md).
pub const GROUP: usize = if HAS_WIDE_KERNEL { 4 } else { 2 };

/// A group member that is not there (the last group of a data set may have fewer images).
pub const NO_IMAGE: u32 = u32::MAX;

/// Images in groups as the union of their non-zero pixels: group j holds images `images[j]`
/// ([`NO_IMAGE`] for missing ones), `cols[group_ptr[j]..group_ptr[j+1]]` are the pixels non-zero
/// in any of them and `bytes` the raw values of each (0 where that image's pixel is zero);
/// `table` maps a raw value to the value the layer multiplies with, as in [`crate::sparse::Csr`].
/// Groups from j on hold exactly the images from GROUP * j up to an aligned end, in some order.
#[derive(Debug, Clone, Copy)]
pub struct GroupCsr<'a, T> {
    pub group_ptr: &'a [usize],
    pub images: &'a [[u32; GROUP]],
    pub cols: &'a [u32],
    pub bytes: &'a [[u8; GROUP]],
    pub table: &'a [T; 256],
}
