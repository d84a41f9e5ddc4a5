//! The hub: one gap-free, ordered stream of live events per organization, fanned out to the
//! sockets of that organization on this instance.
//!
//! Events reach the hub from this instance's bus and from other instances through Redis, in
//! no guaranteed order. Each organization's stream delivers them strictly by seq: a later
//! event waits while the missing ones are read from the events table (they are committed,
//! since seq is assigned under the chain-head lock), and anything already delivered is
//! dropped. So a Redis hiccup or a lagging receiver costs a read, never an event.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use steelyard_domain::event::EventRecord;
use steelyard_store::Db;
use steelyard_store::events::{self, EventFilter};
use tokio::sync::{Notify, mpsc, watch};
use uuid::Uuid;

use super::RealtimeSettings;
use super::protocol::LiveEvent;

/// How long a gap may stay open before it is filled from the database; publishers that
/// committed a moment earlier usually arrive within it.
const GAP_GRACE: Duration = Duration::from_millis(20);
/// Events read per query while filling a gap.
const FILL_PAGE: u32 = 500;

/// One socket's place in its organization's stream.
#[derive(Debug)]
struct Listener {
    queue: mpsc::Sender<Arc<LiveEvent>>,
    /// Woken when the queue overflowed and the listener was dropped from the stream.
    overflowed: Arc<Notify>,
}

#[derive(Debug, Default)]
struct StreamState {
    /// The newest seq delivered (or known to precede this stream's listeners).
    last_seq: i64,
    /// Events that arrived ahead of a gap, waiting for it to close.
    pending: BTreeMap<i64, Arc<LiveEvent>>,
    filling: bool,
    listeners: HashMap<u64, Listener>,
}

#[derive(Debug)]
struct OrgStream {
    org_id: Uuid,
    state: Mutex<StreamState>,
}

/// The hub shared by every socket of this instance.
#[derive(Debug)]
pub struct Hub {
    db: Db,
    streams: Mutex<HashMap<Uuid, Arc<OrgStream>>>,
    next_listener: AtomicU64,
    settings: RealtimeSettings,
    /// Flips to true when the server shuts down: every socket closes with "going away".
    closing: watch::Sender<bool>,
}

/// A socket's subscription to its organization's stream; dropping it leaves the stream.
#[derive(Debug)]
pub struct Joined {
    pub events: mpsc::Receiver<Arc<LiveEvent>>,
    pub overflowed: Arc<Notify>,
    hub: Arc<Hub>,
    org_id: Uuid,
    listener: u64,
}

impl Drop for Joined {
    fn drop(&mut self) {
        self.hub.leave(self.org_id, self.listener);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    pub fn new(db: Db, settings: RealtimeSettings) -> Arc<Self> {
        Arc::new(Self {
            db,
            streams: Mutex::new(HashMap::new()),
            next_listener: AtomicU64::new(1),
            settings,
            closing: watch::Sender::new(false),
        })
    }

    /// Tells every socket to close (the server is shutting down).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn settings(&self) -> RealtimeSettings {
        self.settings
    }

    /// Joins `org_id`'s stream: every event committed from now on arrives on the receiver,
    /// in seq order, without gaps, until the receiver lags too far and `overflowed` fires.
    pub async fn join(
        self: &Arc<Self>,
        org_id: Uuid,
    ) -> Result<Joined, steelyard_store::StoreError> {
        // Read before taking the lock; an event committed meanwhile shows up as a gap and
        // is filled from the database.
        let head = events::head_seq(&self.db, org_id).await?;
        let (queue, receiver) = mpsc::channel(self.settings.queue_capacity);
        let overflowed = Arc::new(Notify::new());
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        let mut streams = lock(&self.streams);
        let stream = streams.entry(org_id).or_insert_with(|| {
            Arc::new(OrgStream {
                org_id,
                state: Mutex::new(StreamState {
                    last_seq: head,
                    ..StreamState::default()
                }),
            })
        });
        lock(&stream.state).listeners.insert(
            id,
            Listener {
                queue,
                overflowed: Arc::clone(&overflowed),
            },
        );
        Ok(Joined {
            events: receiver,
            overflowed,
            hub: Arc::clone(self),
            org_id,
            listener: id,
        })
    }

    fn leave(&self, org_id: Uuid, listener: u64) {
        let mut streams = lock(&self.streams);
        let Some(stream) = streams.get(&org_id) else {
            return;
        };
        let empty = {
            let mut state = lock(&stream.state);
            state.listeners.remove(&listener);
            state.listeners.is_empty()
        };
        if empty {
            streams.remove(&org_id);
        }
    }

    /// Offers a committed event, from any source, any number of times.
    pub fn offer(self: &Arc<Self>, record: &EventRecord) {
        let Some(stream) = lock(&self.streams).get(&record.org_id).cloned() else {
            return; // nobody here listens to this organization
        };
        {
            let state = lock(&stream.state);
            if record.seq <= state.last_seq || state.pending.contains_key(&record.seq) {
                return; // delivered already: do not even build its frames
            }
        }
        let event = Arc::new(LiveEvent::new(record));
        self.offer_live(&stream, event);
    }

    fn offer_live(self: &Arc<Self>, stream: &Arc<OrgStream>, event: Arc<LiveEvent>) {
        let mut state = lock(&stream.state);
        if event.seq <= state.last_seq {
            return;
        }
        state.pending.insert(event.seq, event);
        self.advance(stream, &mut state);
    }

    /// Delivers the pending events that follow on without a gap, and starts filling the
    /// gap ahead of the rest.
    fn advance(self: &Arc<Self>, stream: &Arc<OrgStream>, state: &mut StreamState) {
        while let Some(entry) = state.pending.first_entry() {
            if *entry.key() != state.last_seq + 1 {
                break;
            }
            let next = entry.remove();
            state.last_seq = next.seq;
            deliver(state, &next);
        }
        if !state.pending.is_empty() && !state.filling {
            state.filling = true;
            metrics::counter!("ws_gap_fills_total").increment(1);
            tokio::spawn(Arc::clone(self).fill(Arc::clone(stream)));
        }
    }

    /// Reads what is missing ahead of the pending events from the database.
    async fn fill(self: Arc<Self>, stream: Arc<OrgStream>) {
        tokio::time::sleep(GAP_GRACE).await;
        loop {
            if !lock(&self.streams)
                .get(&stream.org_id)
                .is_some_and(|current| Arc::ptr_eq(current, &stream))
            {
                return; // every socket of the organization left; nobody waits for the gap
            }
            let (after, until) = {
                let mut state = lock(&stream.state);
                match state.pending.first_key_value() {
                    Some((&first, _)) if first > state.last_seq + 1 => (state.last_seq, first),
                    _ => {
                        state.filling = false;
                        return;
                    }
                }
            };
            match self.read_after(stream.org_id, after, until).await {
                Ok(records) => {
                    let first = records.first().map_or(until, |r| r.seq);
                    if first != after + 1 {
                        // Never happens with a sound chain; do not stall the stream on it.
                        tracing::error!(org = %stream.org_id, after, first, "events missing from the events table; skipping them");
                        let mut state = lock(&stream.state);
                        if state.last_seq == after {
                            state.last_seq = first - 1;
                            self.advance(&stream, &mut state);
                        }
                    }
                    for record in &records {
                        self.offer_live(&stream, Arc::new(LiveEvent::new(record)));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, org = %stream.org_id, "cannot fill an event gap yet");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    async fn read_after(
        &self,
        org_id: Uuid,
        after: i64,
        until: i64,
    ) -> Result<Vec<EventRecord>, steelyard_store::StoreError> {
        let want = u32::try_from(until - after - 1).unwrap_or(u32::MAX);
        let (records, _) = events::list(
            &self.db,
            org_id,
            &EventFilter::default(),
            after,
            want.clamp(1, FILL_PAGE),
        )
        .await?;
        Ok(records)
    }

    /// Catches every stream up with the database: after the link to other instances was
    /// down, events may have been committed there that nobody will announce again.
    pub async fn catch_up(self: &Arc<Self>) {
        let streams: Vec<_> = lock(&self.streams).values().cloned().collect();
        for stream in streams {
            loop {
                let after = lock(&stream.state).last_seq;
                match self
                    .read_after(stream.org_id, after, after + 1 + i64::from(FILL_PAGE))
                    .await
                {
                    Ok(records) if records.is_empty() => break,
                    Ok(records) => {
                        for record in &records {
                            self.offer_live(&stream, Arc::new(LiveEvent::new(record)));
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot catch up with the events table");
                        break;
                    }
                }
            }
        }
    }

    /// Open sockets on this instance (all organizations).
    pub fn listeners(&self) -> usize {
        lock(&self.streams)
            .values()
            .map(|stream| lock(&stream.state).listeners.len())
            .sum()
    }
}

/// Hands `event` to every listener; a full queue drops that listener (the socket is closed
/// as a slow consumer and resumes), so one slow client never holds up the others.
fn deliver(state: &mut StreamState, event: &Arc<LiveEvent>) {
    state.listeners.retain(
        |_, listener| match listener.queue.try_send(Arc::clone(event)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("ws_queue_overflows_total").increment(1);
                listener.overflowed.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        },
    );
}
