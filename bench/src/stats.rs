//! Latency and outcome recording shared by many virtual users: HDR histograms in microseconds,
//! split into shards so that thousands of users do not queue on one lock, merged at the end.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

const SHARDS: usize = 16;
/// Latencies are kept from 1 µs to 10 minutes at 3 significant digits.
const HIGHEST_MICROS: u64 = 600_000_000;

#[derive(Debug)]
struct Shard {
    latency: Histogram<u64>,
    /// Answers by HTTP status; 0 stands for a transport error (refused, reset, timed out).
    statuses: BTreeMap<u16, u64>,
}

/// Where users record each finished request.
#[derive(Debug)]
pub struct Recorder {
    shards: Vec<Mutex<Shard>>,
}

/// What one outcome was.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Status(u16),
    TransportError,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    latency: new_histogram(),
                    statuses: BTreeMap::new(),
                })
            })
            .collect();
        Self { shards }
    }

    /// Records one request of user `user` that took `latency`.
    pub fn record(&self, user: usize, latency: Duration, outcome: Outcome) {
        let micros = (latency.as_micros() as u64).clamp(1, HIGHEST_MICROS);
        let mut shard = self.shards[user % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        shard.latency.saturating_record(micros);
        let code = match outcome {
            Outcome::Status(code) => code,
            Outcome::TransportError => 0,
        };
        *shard.statuses.entry(code).or_default() += 1;
    }

    /// Every shard merged.
    pub fn summary(&self) -> Summary {
        let mut latency = new_histogram();
        let mut statuses = BTreeMap::new();
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            // Both histograms have the same bounds, so adding cannot fail.
            let _ = latency.add(&shard.latency);
            for (code, count) in &shard.statuses {
                *statuses.entry(*code).or_default() += count;
            }
        }
        Summary { latency, statuses }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("valid histogram bounds")
}

/// All requests of one measured window.
#[derive(Debug, Clone)]
pub struct Summary {
    pub latency: Histogram<u64>,
    pub statuses: BTreeMap<u16, u64>,
}

impl Summary {
    pub fn requests(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Transport errors and answers other than 2xx/3xx.
    pub fn errors(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(code, _)| !(200..400).contains(*code))
            .map(|(_, count)| count)
            .sum()
    }

    pub fn millis_at(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn mean_millis(&self) -> f64 {
        self.latency.mean() / 1000.0
    }

    pub fn max_millis(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    /// `200×1200, 412×3, transport×1`, for the notes under a table.
    pub fn status_text(&self) -> String {
        self.statuses
            .iter()
            .map(|(code, count)| match code {
                0 => format!("transport error×{count}"),
                code => format!("{code}×{count}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_count_transport_failures_and_non_success_answers() {
        let recorder = Recorder::new();
        for user in 0..40 {
            recorder.record(user, Duration::from_millis(2), Outcome::Status(200));
        }
        recorder.record(1, Duration::from_millis(9), Outcome::Status(412));
        recorder.record(2, Duration::from_millis(9), Outcome::TransportError);
        recorder.record(3, Duration::from_millis(9), Outcome::Status(304));
        let summary = recorder.summary();
        assert_eq!(summary.requests(), 43);
        assert_eq!(summary.errors(), 2);
        assert!(summary.millis_at(0.5) >= 1.99 && summary.millis_at(0.5) <= 2.01);
        assert!(summary.max_millis() >= 8.99);
    }
}
