//! How much memory training a network takes, so that a network that cannot fit is refused before
//! anything is allocated.

use super::eval::EVAL_ROWS;
use super::plan::Plan;

/// Bytes to train a network of layer widths `sizes` (input first) on batches of `batch` rows with
/// elements of `element_bytes` bytes, evaluating on `threads` threads, as `plan` runs it; None
/// when it overflows. Counts per parameter: weights, gradients, best weights, velocities, a
/// checkpoint's copy and its file image; per batch row and unit: pre-activations, activations,
/// gradients; a dense batch's rows; evaluation buffers per thread. The data sets' forms are
/// counted apart (`data::split_bytes`).
pub fn training_bytes(sizes: &[usize], batch: usize, element_bytes: usize, threads: usize, plan: &Plan) -> Option<u64> {
    let params = sizes.windows(2).try_fold(0u64, |sum, w| sum.checked_add((w[0] as u64).checked_mul(w[1] as u64)?))?;
    let units = sizes[1..].iter().try_fold(0u64, |sum, &u| sum.checked_add(u as u64))?;
    let widest = sizes[1..].iter().copied().max().unwrap_or(0) as u64;
    let per_param = params.checked_mul(6)?;
    let dense_inputs = if plan.first_layer_train.is_sparse() { 0 } else { sizes[0] as u64 };
    let per_batch = (batch as u64).checked_mul(units.checked_mul(3)?.checked_add(dense_inputs)?)?;
    let eval = (EVAL_ROWS as u64).checked_mul(widest)?.checked_mul(2)?.checked_mul(threads.max(1) as u64)?;
    per_param.checked_add(per_batch)?.checked_add(eval)?.checked_mul(element_bytes as u64)
}

/// The memory the system can give this process now: `MemAvailable`, and no more than what its
/// cgroup (v2) allows, e.g. under Slurm's `--mem`. None when neither says.
pub fn available_bytes() -> Option<u64> {
    let meminfo = || -> Option<u64> {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()?.checked_mul(1024)
    };
    let cgroup = || -> Option<u64> {
        let read = |name: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{name}")).ok();
        let max: u64 = read("memory.max")?.trim().parse().ok()?;
        let current: u64 = read("memory.current").and_then(|c| c.trim().parse().ok()).unwrap_or(0);
        Some(max.saturating_sub(current))
    };
    match (meminfo(), cgroup()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_networks_are_small_and_huge_ones_overflow_to_none() {
        let plan = Plan::REFERENCE;
        let study = training_bytes(&[785, 64, 10], 32, 8, 2, &plan).unwrap();
        assert!(study > 6 * 50880 * 8 && study < 8 << 20, "{study}");
        assert_eq!(training_bytes(&[785, usize::MAX, 10], 32, 8, 2, &plan), None);
        let wide = training_bytes(&[785, 100_000, 100_000, 10], 32, 8, 2, &plan).unwrap();
        assert!(wide > 100_000u64 * 100_000 * 8 * 6);
    }
}
