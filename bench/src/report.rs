//! The results: one table on the terminal and the same as a Markdown fragment for
//! BENCHMARKS.md.

use std::fmt::Write as _;
use std::time::Duration;

use crate::fanout::FanoutResult;
use crate::load::{Measured, Pace};

/// One HTTP run.
#[derive(Debug, Clone)]
pub struct HttpRow {
    pub scenario: String,
    pub backend: &'static str,
    pub users: usize,
    pub pace: Pace,
    pub measured: Measured,
}

/// Start-up on an empty data dir.
#[derive(Debug, Clone)]
pub struct StartupRow {
    pub time_to_ready: Vec<Duration>,
    pub idle_rss: Vec<u64>,
}

/// Everything one invocation measured.
#[derive(Debug, Default)]
pub struct Report {
    pub http: Vec<HttpRow>,
    pub fanout: Vec<FanoutResult>,
    pub fanout_skipped: Vec<String>,
    pub startup: Option<StartupRow>,
    /// The fixed single-core work's time before the first run and after the last
    /// (`calibrate.rs`): how fast the machine was meanwhile.
    pub machine_check_before: Option<Duration>,
    pub machine_check_after: Option<Duration>,
}

fn pace_text(users: usize, pace: Pace) -> String {
    match pace {
        Pace::Closed => format!("{users} conns, closed loop"),
        Pace::Think(mean) => format!("{users} users, think {} ms", mean.as_millis()),
        Pace::Rate(rate) => format!("{users} conns, fixed {rate:.0}/s"),
    }
}

const MIB: f64 = 1024.0 * 1024.0;

impl Report {
    /// The Markdown tables (also printed on the terminal: they read well as plain text).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        if !self.http.is_empty() {
            out.push_str("| scenario | backend | load | req/s | avg ms | p50 ms | p95 ms | p99 ms | max ms | errors | server CPU µs/req | PostgreSQL CPU µs/req | bench CPU |\n");
            out.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for row in &self.http {
                let m = &row.measured;
                let s = &m.summary;
                let errors = s.errors();
                let error_text = if errors == 0 {
                    "0".to_owned()
                } else {
                    format!(
                        "{errors} ({:.2}%)",
                        100.0 * errors as f64 / s.requests().max(1) as f64
                    )
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {:.0} | {} | {:.0}% |",
                    row.scenario,
                    row.backend,
                    pace_text(row.users, row.pace),
                    m.throughput(),
                    s.mean_millis(),
                    s.millis_at(0.50),
                    s.millis_at(0.95),
                    s.millis_at(0.99),
                    s.max_millis(),
                    error_text,
                    m.cpu_micros_per_request(),
                    m.database_micros_per_request()
                        .map_or("–".to_owned(), |micros| format!("{micros:.0}")),
                    100.0 * m.client_cpu.as_secs_f64() / m.duration.as_secs_f64(),
                );
            }
            let notes: Vec<String> = self
                .http
                .iter()
                .filter(|row| row.measured.summary.errors() > 0)
                .map(|row| {
                    format!(
                        "- {} on {} ({}): answers {}",
                        row.scenario,
                        row.backend,
                        pace_text(row.users, row.pace),
                        row.measured.summary.status_text()
                    )
                })
                .collect();
            if !notes.is_empty() {
                out.push_str("\nErrors:\n\n");
                out.push_str(&notes.join("\n"));
                out.push('\n');
            }
        }
        if !self.fanout.is_empty() {
            out.push_str("\n| sockets | subscribed | commits/s | delivered msgs/s | delivered / expected | commit→delivery p50 ms | p99 ms | max ms | server RSS idle → subscribed (peak) | per socket |\n");
            out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
            for f in &self.fanout {
                let d = &f.delivered;
                let _ = writeln!(
                    out,
                    "| {} | {}{} | {:.0} | {:.0} | {} / {} | {:.1} | {:.1} | {:.1} | {:.0} → {:.0} ({:.0}) MiB | {:.1} KiB |",
                    f.sockets_wanted,
                    f.sockets_subscribed,
                    if f.connect_failures > 0 {
                        format!(" ({} failed)", f.connect_failures)
                    } else {
                        String::new()
                    },
                    f.commits_per_second,
                    f.delivered_per_second(),
                    d.requests(),
                    f.expected(),
                    d.millis_at(0.50),
                    d.millis_at(0.99),
                    d.max_millis(),
                    f.rss_before as f64 / MIB,
                    f.rss_subscribed as f64 / MIB,
                    f.rss_peak as f64 / MIB,
                    f.bytes_per_socket() / 1024.0,
                );
            }
        }
        for skipped in &self.fanout_skipped {
            let _ = writeln!(out, "\nFan-out not measured: {skipped}");
        }
        if let Some(startup) = &self.startup {
            let ready: Vec<String> = startup
                .time_to_ready
                .iter()
                .map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0))
                .collect();
            let rss: Vec<String> = startup
                .idle_rss
                .iter()
                .map(|b| format!("{:.1}", *b as f64 / MIB))
                .collect();
            let _ = write!(
                out,
                "\n| start-up (empty data dir, SQLite) | runs |\n|---|---|\n\
                 | spawn → first 200 from /ready, ms | {} |\n\
                 | idle RSS 2 s after ready, MiB | {} |\n",
                ready.join(", "),
                rss.join(", ")
            );
        }
        if let (Some(before), Some(after)) = (self.machine_check_before, self.machine_check_after) {
            let _ = writeln!(
                out,
                "\nMachine check (sorting 2 Mi pseudo-random numbers on one core, median of 5; \
                 lower is faster): {:.0} ms before the runs, {:.0} ms after.",
                before.as_secs_f64() * 1000.0,
                after.as_secs_f64() * 1000.0
            );
        }
        out
    }
}
