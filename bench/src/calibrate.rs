//! A fixed single-core workload, timed before and after a run: on a machine whose speed
//! drifts (a virtual machine sharing its host), it says how fast the machine was while the
//! figures were taken, so runs of different hours can be told apart.

use std::time::{Duration, Instant};

/// Values sorted per round: 16 MiB of them, half this machine's last-level cache, so the
/// check sees a slower core and contention for that cache.
const VALUES: usize = 2 << 20;
const ROUNDS: usize = 5;

/// The median time of [`ROUNDS`] rounds of the fixed work.
pub fn machine_check() -> Duration {
    let mut rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(sort_pseudo_random_values());
            started.elapsed()
        })
        .collect();
    rounds.sort_unstable();
    rounds[ROUNDS / 2]
}

/// Fills [`VALUES`] numbers from a fixed xorshift sequence, sorts them, and folds them into
/// one number so that none of the work can be left out.
fn sort_pseudo_random_values() -> u64 {
    // Through `black_box`, so that the compiler cannot work the sequence out beforehand.
    let mut state: u64 = std::hint::black_box(0x9E37_79B9_7F4A_7C15);
    let mut values: Vec<u64> = (0..VALUES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        })
        .collect();
    values.sort_unstable();
    values
        .iter()
        .step_by(97)
        .fold(0, |sum, v| sum.wrapping_add(*v))
}
