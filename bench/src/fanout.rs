//! WebSocket fan-out: N sockets sign in and subscribe to their organization's events, then
//! partner updates are committed at a fixed rate through the API, and every socket records
//! how long each event took from its commit time (`at`) to its arrival.
//!
//! Protocol (`/api/v1/ws`): send `{"type":"auth","token":…}`, expect `authenticated`; send
//! `{"type":"subscribe","topic":"org"}`, expect `subscribed`; then events arrive as
//! `{"type":"event","topic":"org","seq":N,"id":…,"kind":…,"at":"<RFC 3339>","data":{…}}`.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use http::Method;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::client::{Call, CallKind, connect_tcp};
use crate::load::{self, Pace, Plan, Target, Workload};
use crate::scenarios::Fixture;
use crate::server::{self, Server};
use crate::stats::{Outcome, Recorder, Summary};

/// Sockets opened at once while connecting.
const CONNECT_CONCURRENCY: usize = 256;
/// Loopback source addresses the sockets are spread over (ephemeral ports are per source).
const SOURCE_ADDRESSES: usize = 8;

/// What the fan-out run found.
#[derive(Debug, Clone)]
pub struct FanoutResult {
    pub sockets_wanted: usize,
    pub sockets_subscribed: usize,
    pub connect_failures: usize,
    pub commits_per_second: f64,
    pub commits: u64,
    pub delivered: Summary,
    pub duration: Duration,
    pub rss_before: u64,
    pub rss_subscribed: u64,
    pub rss_peak: u64,
}

impl FanoutResult {
    pub fn delivered_per_second(&self) -> f64 {
        self.delivered.requests() as f64 / self.duration.as_secs_f64()
    }

    /// Server memory added per subscribed socket.
    pub fn bytes_per_socket(&self) -> f64 {
        self.rss_subscribed.saturating_sub(self.rss_before) as f64
            / self.sockets_subscribed.max(1) as f64
    }

    /// Deliveries expected: every commit to every subscribed socket.
    pub fn expected(&self) -> u64 {
        self.commits * self.sockets_subscribed as u64
    }
}

#[derive(Debug, Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    at: Option<Cow<'a, str>>,
}

type Socket = WebSocketStream<TcpStream>;

/// Runs the fan-out at `sockets` subscribers, committing at `commits_per_second` for
/// `duration`.
pub async fn run(
    server: &Server,
    fixture: &Arc<Fixture>,
    sockets: usize,
    commits_per_second: f64,
    duration: Duration,
) -> anyhow::Result<FanoutResult> {
    let limit = server::raise_open_files_limit() as usize;
    // This process holds one descriptor per socket, and so does the server.
    if sockets + 200 > limit {
        bail!(
            "{sockets} sockets need more than the open-files limit of {limit} (in this process and \
             in the server): raise the hard limit (`ulimit -Hn`, LimitNOFILE) and run again"
        );
    }
    probe(server.addr, &fixture.access_token).await?;
    let pid = server.pid();
    let rss_before = server::resident_bytes(pid)?;
    let recorder = Arc::new(Recorder::new());
    let subscribed = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(CONNECT_CONCURRENCY));
    let started = Instant::now();
    let mut tasks: Vec<JoinHandle<()>> = Vec::with_capacity(sockets);
    for index in 0..sockets {
        let permit = gate.clone().acquire_owned().await?;
        let (addr, token) = (server.addr, fixture.access_token.clone());
        let (recorder, subscribed, failures) =
            (recorder.clone(), subscribed.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            let source = IpAddr::from([127, 0, 0, 1 + (index % SOURCE_ADDRESSES) as u8]);
            let socket = subscribe(addr, Some(source), &token).await;
            drop(permit);
            match socket {
                Ok(socket) => {
                    subscribed.fetch_add(1, Ordering::Relaxed);
                    listen(socket, index, &recorder).await;
                }
                Err(_) => {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Wait until every socket has subscribed or failed.
    while subscribed.load(Ordering::Relaxed) + failures.load(Ordering::Relaxed) < sockets as u64 {
        if started.elapsed() > Duration::from_secs(300) {
            eprintln!("fan-out: gave up waiting for sockets to subscribe after 300 s");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "fan-out: {} of {sockets} sockets subscribed in {:.1} s",
        subscribed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_subscribed = server::resident_bytes(pid)?;

    let committer = Arc::new(PartnerUpdates(fixture.clone()));
    let target = Target {
        addr: server.addr,
        token: fixture.token.clone(),
        server_pid: pid,
        database: server.database_name(),
    };
    let plan = Plan {
        users: 4,
        pace: Pace::Rate(commits_per_second),
        warmup: Duration::ZERO,
        duration,
    };
    let peak = tokio::spawn(async move {
        let mut peak = 0;
        let until = Instant::now() + duration;
        while Instant::now() < until {
            peak = peak.max(server::resident_bytes(pid).unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        peak
    });
    let commits = load::run(&plan, committer, &target).await;
    // Let the last events arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_peak = peak.await.unwrap_or(0).max(rss_subscribed);
    for task in &tasks {
        task.abort();
    }
    let committed = commits.summary.requests() - commits.summary.errors();
    Ok(FanoutResult {
        sockets_wanted: sockets,
        sockets_subscribed: subscribed.load(Ordering::Relaxed) as usize,
        connect_failures: failures.load(Ordering::Relaxed) as usize,
        commits_per_second,
        commits: committed,
        delivered: recorder.summary(),
        duration,
        rss_before,
        rss_subscribed,
        rss_peak,
    })
}

/// One socket first, to say clearly when the server has no WebSocket endpoint yet.
async fn probe(addr: SocketAddr, token: &str) -> anyhow::Result<()> {
    match subscribe(addr, None, token).await {
        Ok(mut socket) => {
            let _ = socket.close(None).await;
            Ok(())
        }
        Err(error) => {
            if let Some(tungstenite::Error::Http(response)) =
                error.downcast_ref::<tungstenite::Error>()
            {
                bail!(
                    "the server has no WebSocket endpoint at /api/v1/ws yet (it answered {}): \
                     skipping the fan-out scenario",
                    response.status()
                );
            }
            Err(error.context("the first WebSocket could not subscribe"))
        }
    }
}

/// Opens a socket, signs in and subscribes to the organization's events.
async fn subscribe(
    addr: SocketAddr,
    source: Option<IpAddr>,
    token: &str,
) -> anyhow::Result<Socket> {
    let stream = connect_tcp(addr, source).await?;
    // Small buffers: tens of thousands of sockets in this one process.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let url = format!("ws://{addr}/api/v1/ws");
    let (mut socket, _) = client_async_with_config(url, stream, Some(config)).await?;
    socket
        .send(Message::text(
            json!({"type": "auth", "token": token}).to_string(),
        ))
        .await?;
    expect_frame(&mut socket, "authenticated").await?;
    socket
        .send(Message::text(
            json!({"type": "subscribe", "topic": "org"}).to_string(),
        ))
        .await?;
    expect_frame(&mut socket, "subscribed").await?;
    Ok(socket)
}

async fn expect_frame(socket: &mut Socket, wanted: &str) -> anyhow::Result<()> {
    let deadline = Duration::from_secs(30);
    loop {
        let message = tokio::time::timeout(deadline, socket.next())
            .await
            .with_context(|| format!("no {wanted:?} within {deadline:?}"))?
            .context("the socket closed")??;
        if let Message::Text(text) = message {
            let frame: Frame<'_> = serde_json::from_str(text.as_str())
                .with_context(|| format!("unexpected frame {text}"))?;
            if frame.kind == wanted {
                return Ok(());
            }
            if frame.kind == "error" {
                bail!("the server answered {text}");
            }
        }
    }
}

/// Records every event's commit-to-delivery time until the socket closes or is aborted.
async fn listen(mut socket: Socket, index: usize, recorder: &Recorder) {
    while let Some(Ok(message)) = socket.next().await {
        // The arrival, before this process spends anything on the frame.
        let arrived = chrono::Utc::now();
        let Message::Text(text) = message else {
            continue;
        };
        let Some(at) = event_at(text.as_str()) else {
            continue;
        };
        let latency = at
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok())
            .and_then(|at| (arrived - at.with_timezone(&chrono::Utc)).to_std().ok())
            .unwrap_or_default();
        recorder.record(index, latency, Outcome::Status(200));
    }
}

/// For an event frame, its `at` (None for any other frame). This process receives every
/// frame on the cores the server runs on, so it does not parse the record in `data` to find
/// `at`: every top-level field after `type` starts with `,"`, which cannot occur inside a JSON
/// string, and the server writes `data` last (`LiveEvent::new`, server's
/// `realtime/protocol.rs`), so `at` is found by a search of the part before `,"data":`.
/// Whatever that search does not find is parsed.
fn event_at(text: &str) -> Option<Option<Cow<'_, str>>> {
    const AT: &str = r#","at":""#;
    if let Some(rest) = text.strip_prefix(r#"{"type":"event""#)
        && rest.starts_with(',')
    {
        let head = rest
            .split_once(r#","data":"#)
            .map_or(rest, |(head, _)| head);
        if let Some(start) = head.find(AT).map(|at| at + AT.len())
            && let Some(len) = head[start..].find('"')
        {
            return Some(Some(Cow::Borrowed(&head[start..start + len])));
        }
    }
    let frame: Frame<'_> = serde_json::from_str(text).ok()?;
    (frame.kind == "event").then_some(frame.at)
}

/// Commits one event per call: a partner's payment terms changed.
#[derive(Debug)]
struct PartnerUpdates(Arc<Fixture>);

static UPDATES: AtomicU64 = AtomicU64::new(0);

impl Workload for PartnerUpdates {
    type User = ();
    fn user(&self, _index: usize) {}
    fn next_call(&self, _user: &mut ()) -> Call {
        let n = UPDATES.fetch_add(1, Ordering::Relaxed);
        let vendor = &self.0.vendor_ids[n as usize % self.0.vendor_ids.len()];
        let mut call = Call::json(
            Method::PATCH,
            format!("/api/v1/partners/{vendor}"),
            &json!({"payment_terms_days": n % 366}),
            CallKind::Write,
        );
        call.if_match = Some(http::HeaderValue::from_static("*"));
        call
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_at_is_read_from_the_envelope_whatever_the_record_holds() {
        let at = "2026-11-22T07:01:02.123456Z";
        let frame = format!(
            r#"{{"type":"event","topic":"org","seq":7,"id":"x","kind":"partner.updated","at":"{at}","data":{{"a":1,"at":"no"}}}}"#
        );
        assert_eq!(event_at(&frame).unwrap().as_deref(), Some(at));
        // Another order is parsed, so a field of the record is never taken for `at`.
        let frame = format!(r#"{{"type":"event","data":{{"a":1,"at":"no"}},"at":"{at}"}}"#);
        assert_eq!(event_at(&frame).unwrap().as_deref(), Some(at));
        assert!(event_at(r#"{"type":"subscribed","topic":"org","seq":1}"#).is_none());
        assert!(event_at(r#"{"type":"events","at":"x"}"#).is_none());
    }
}
