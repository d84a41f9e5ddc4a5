//! The load generator: N virtual users, each with its own keep-alive connection, driven in one
//! of three paces, with a warm-up whose requests are not counted.
//!
//! - `Closed`: each user sends its next request as soon as the last answer arrived; this finds
//!   the maximum throughput.
//! - `Think`: like closed, with a random pause (0.5× to 1.5× the mean) between requests, as
//!   people at screens behave.
//! - `Rate`: open loop at a fixed total rate. Each user has a schedule; latency is measured
//!   from the *scheduled* start, so a stalled server is charged for the requests it held back
//!   (no coordinated omission).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use tokio::time::Instant;

use crate::client::{Call, CallKind, Conn, Reply};
use crate::server;
use crate::stats::{Outcome, Recorder, Summary};

/// A request still unanswered after this counts as a transport error (and its connection is
/// dropped), so that every run ends.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How users pace their requests.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    Closed,
    Think(Duration),
    Rate(f64),
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub users: usize,
    pub pace: Pace,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What a scenario sends. One `User` value per virtual user keeps its own state.
pub trait Workload: Send + Sync + 'static {
    type User: Send + 'static;
    fn user(&self, index: usize) -> Self::User;
    fn next_call(&self, user: &mut Self::User) -> Call;
    /// Sees each answer (the mix follows the ETags of the records it updates).
    fn observe(&self, _user: &mut Self::User, _kind: CallKind, _reply: &Reply) {}
}

/// The target and the credentials every user sends.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub token: HeaderValue,
    pub server_pid: u32,
    /// The PostgreSQL database behind the server, whose backends' CPU is counted too.
    pub database: Option<String>,
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct Measured {
    pub summary: Summary,
    pub duration: Duration,
    /// Server CPU (user + system) spent during the measured window.
    pub server_cpu: Duration,
    /// CPU this load generator spent in the same window (it shares the machine).
    pub client_cpu: Duration,
    /// CPU of the PostgreSQL backends serving the server's database in the same window.
    pub database_cpu: Option<Duration>,
}

impl Measured {
    pub fn throughput(&self) -> f64 {
        self.summary.requests() as f64 / self.duration.as_secs_f64()
    }

    /// Server CPU microseconds per request: the figure that compares across machines.
    pub fn cpu_micros_per_request(&self) -> f64 {
        per_request(self.server_cpu, self.summary.requests())
    }

    /// PostgreSQL backend CPU microseconds per request, when the server runs on PostgreSQL.
    pub fn database_micros_per_request(&self) -> Option<f64> {
        self.database_cpu
            .map(|cpu| per_request(cpu, self.summary.requests()))
    }
}

fn per_request(cpu: Duration, requests: u64) -> f64 {
    cpu.as_secs_f64() * 1e6 / requests.max(1) as f64
}

/// Runs `plan` against `target` and returns the measured window.
pub async fn run<W: Workload>(plan: &Plan, workload: Arc<W>, target: &Target) -> Measured {
    let recorder = Arc::new(Recorder::new());
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let mut users = Vec::with_capacity(plan.users);
    for index in 0..plan.users {
        let user = VirtualUser {
            index,
            of: plan.users,
            pace: plan.pace,
            ramp: plan.warmup / 2,
            start,
            measure_from,
            end,
            target: target.clone(),
            source: source_address(index),
        };
        users.push(tokio::spawn(user.run(workload.clone(), recorder.clone())));
    }
    let pid = target.server_pid;
    let database = target.database.clone();
    let cpu = tokio::spawn(async move {
        let sample = || {
            (
                server::cpu_time(pid).ok(),
                server::cpu_time(std::process::id()).ok(),
                database.as_deref().map(server::database_cpu_times),
            )
        };
        tokio::time::sleep_until(measure_from).await;
        let before = sample();
        tokio::time::sleep_until(end).await;
        let after = sample();
        let spent = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        };
        let database = match (&before.2, &after.2) {
            (Some(a), Some(b)) => Some(server::database_cpu_between(a, b)),
            _ => None,
        };
        (spent(before.0, after.0), spent(before.1, after.1), database)
    });
    for user in users {
        let _ = user.await;
    }
    let (server_cpu, client_cpu, database_cpu) = cpu.await.unwrap_or_default();
    Measured {
        summary: recorder.summary(),
        duration: plan.duration,
        server_cpu,
        client_cpu,
        database_cpu,
    }
}

/// Spreads users over 127.0.0.1–127.0.0.8, so that thousands of connections never run out of
/// ephemeral ports towards the one server port.
fn source_address(index: usize) -> Option<IpAddr> {
    Some(IpAddr::from([127, 0, 0, 1 + (index % 8) as u8]))
}

struct VirtualUser {
    index: usize,
    of: usize,
    pace: Pace,
    ramp: Duration,
    start: Instant,
    measure_from: Instant,
    end: Instant,
    target: Target,
    source: Option<IpAddr>,
}

impl VirtualUser {
    async fn run<W: Workload>(self, workload: Arc<W>, recorder: Arc<Recorder>) {
        let mut state = workload.user(self.index);
        let share = self.index as f64 / self.of as f64;
        // Users start spread over the first half of the warm-up (or over one interval of
        // their schedule at a fixed rate), not in one burst of connections.
        let (first, interval) = match self.pace {
            Pace::Rate(total) => {
                let interval = Duration::from_secs_f64(self.of as f64 / total.max(0.001));
                (self.start + interval.mul_f64(share), Some(interval))
            }
            _ => (self.start + self.ramp.mul_f64(share), None),
        };
        tokio::time::sleep_until(first).await;
        let mut next_slot = first;
        let mut conn: Option<Conn> = None;
        loop {
            let intended = match interval {
                Some(interval) => {
                    let slot = next_slot;
                    next_slot += interval;
                    tokio::time::sleep_until(slot).await;
                    slot
                }
                None => Instant::now(),
            };
            if intended >= self.end {
                break;
            }
            let counted = intended >= self.measure_from;
            if conn.is_none() {
                match Conn::open(self.target.addr, self.source).await {
                    Ok(opened) => conn = Some(opened),
                    Err(_) => {
                        if counted {
                            recorder.record(
                                self.index,
                                intended.elapsed(),
                                Outcome::TransportError,
                            );
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                }
            }
            let Some(open) = conn.as_mut() else { continue };
            let call = workload.next_call(&mut state);
            let sent =
                tokio::time::timeout(REQUEST_TIMEOUT, open.send(&call, Some(&self.target.token)));
            let outcome = match sent.await {
                Ok(Ok(reply)) => {
                    workload.observe(&mut state, call.kind, &reply);
                    Outcome::Status(reply.status.as_u16())
                }
                Ok(Err(_)) | Err(_) => {
                    conn = None;
                    Outcome::TransportError
                }
            };
            if counted {
                recorder.record(self.index, intended.elapsed(), outcome);
            }
            if let Pace::Think(mean) = self.pace {
                let pause = mean.mul_f64(0.5 + rand::random::<f64>());
                if Instant::now() + pause >= self.end {
                    break;
                }
                tokio::time::sleep(pause).await;
            }
        }
    }
}
