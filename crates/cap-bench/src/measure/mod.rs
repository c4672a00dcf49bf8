//! The measurements of cap itself, one module each. acpx lives in `crate::acpx` as it needs
//! its own installation and cleanup.

pub mod concurrent;
pub mod exec;
pub mod first;
pub mod huge;
pub mod load;
pub mod many;
pub mod memory;
pub mod state;
pub mod stream;
pub mod warm;

use std::time::{Duration, Instant};

/// Runs `sample` up to `n` times, stopping early once `budget` has passed, and collects what
/// each call returns. The first error ends the loop: a broken run must not be averaged in.
pub fn bounded<T>(
    n: usize,
    budget: Duration,
    mut sample: impl FnMut(usize) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    let start = Instant::now();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if start.elapsed() > budget {
            eprintln!(
                "cap-bench: budget of {} s used up after {i} of {n} samples",
                budget.as_secs()
            );
            break;
        }
        out.push(sample(i)?);
    }
    Ok(out)
}
