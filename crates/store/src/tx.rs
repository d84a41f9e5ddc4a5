//! The unit of work: one write transaction whose events are chained and committed with it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{Any, Transaction};
use steelyard_domain::event::{EventRecord, GENESIS_HASH, NewEvent};
use uuid::Uuid;

use crate::db::{Backend, Db};
use crate::error::Result;
use crate::group_commit::SqliteTx;
use crate::idempotency::{self, IdempotencyRecord};
use crate::serial::ChainHead;
use crate::sql::{
    FromColumns, Value, json_recordset, query, sqlite_execute, sqlite_rows, sqlx_query,
    values_rows, values_rows_from,
};
use crate::time;

/// Who caused a change and in which request; stamped on every event of the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub actor: String,
    pub request_id: Option<String>,
}

/// A write transaction. Services make their changes through the store's functions that take
/// a `Tx`, [`Tx::record`] an event for each, and [`Tx::commit`]; dropping a `Tx` rolls
/// everything back.
#[derive(Debug)]
pub struct Tx {
    inner: Connection,
    backend: Backend,
    origin: Origin,
    /// Queued events, each with its own origin when it differs from the transaction's (a
    /// batch of documents from several requests, `batch.rs`).
    events: Vec<(NewEvent, Option<Origin>)>,
    idempotency: Vec<IdempotencyRecord>,
    /// PostgreSQL: the instance's queues in front of the serial sections, and this
    /// transaction's turn once it entered one (held until it ends; `serial.rs`).
    serial: Option<std::sync::Arc<crate::serial::SerialQueues>>,
    turn: Option<crate::serial::Turn>,
    /// Whether it closes sessions or disables users: on PostgreSQL its commit then answers
    /// only once every instance has heard of it (`session_notices.rs`).
    closes_sessions: bool,
    /// Where its events go once committed.
    bus: crate::bus::Bus,
}

/// Where a transaction's statements run.
#[derive(Debug)]
enum Connection {
    /// A SQLite file: inline on the writer connection (`writer.rs`).
    Sqlite(SqliteTx),
    /// PostgreSQL, or SQLite in memory: through sqlx.
    Pool(Transaction<'static, Any>),
}

impl Db {
    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a transaction that reads before it writes never fails half-way.
    pub async fn begin(&self, origin: Origin) -> Result<Tx> {
        let inner = match (&self.writer, self.backend()) {
            (Some(writer), _) => Connection::Sqlite(writer.begin().await?),
            (None, Backend::Sqlite) => {
                Connection::Pool(self.write.begin_with("BEGIN IMMEDIATE").await?)
            }
            (None, Backend::Postgres) => Connection::Pool(self.write.begin().await?),
        };
        Ok(Tx {
            inner,
            backend: self.backend(),
            origin,
            events: Vec::new(),
            idempotency: Vec::new(),
            serial: self.serial.clone(),
            turn: None,
            closes_sessions: false,
            bus: self.bus.clone(),
        })
    }
}

impl Tx {
    /// Runs a statement that returns no rows; how many rows it changed.
    pub(crate) async fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64> {
        match &mut self.inner {
            Connection::Sqlite(tx) => sqlite_execute(tx.connection(), sql, args),
            Connection::Pool(tx) => Ok(sqlx_query(sql, args)
                .execute(&mut **tx)
                .await?
                .rows_affected()),
        }
    }

    /// Runs a query and maps every row.
    pub(crate) async fn fetch_all<T: FromColumns>(
        &mut self,
        sql: &str,
        args: &[Value],
    ) -> Result<Vec<T>> {
        match &mut self.inner {
            Connection::Sqlite(tx) => sqlite_rows(tx.connection(), sql, args),
            Connection::Pool(tx) => sqlx_query(sql, args)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(T::from_columns)
                .collect(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Queues an event; it is chained and written at commit, inside this transaction.
    pub fn record(&mut self, event: NewEvent) {
        self.events.push((event, None));
    }

    /// Queues an event caused by another request than the transaction's own.
    pub(crate) fn record_for(&mut self, origin: &Origin, event: NewEvent) {
        self.events.push((event, Some(origin.clone())));
    }

    /// Notes that this transaction closes sessions or disables users (the store's functions
    /// that do either call it).
    pub(crate) fn closes_sessions(&mut self) {
        self.closes_sessions = true;
    }

    /// Keeps the response to an `Idempotency-Key`, written with the change it answers.
    pub fn remember_response(&mut self, record: IdempotencyRecord) {
        self.idempotency.push(record);
    }

    /// Appends the queued events to their organizations' chains, commits, and publishes the
    /// stored events on the instance's bus (`bus.rs`); returns them too. Nothing is published
    /// unless the commit succeeded.
    pub async fn commit(mut self) -> Result<Vec<EventRecord>> {
        let events = std::mem::take(&mut self.events);
        let (stored, head_under_turn) = self.append_events(events).await?;
        for record in std::mem::take(&mut self.idempotency) {
            idempotency::insert(&mut self, &record).await?;
        }
        let mut turn = self.turn.take();
        match self.inner {
            Connection::Sqlite(tx) => tx.commit().await?,
            Connection::Pool(tx) => {
                if let (Some(turn), Some(_)) = (&mut turn, &head_under_turn) {
                    // Unknown until the COMMIT answers; a lost answer leaves no stale hint.
                    // A transaction that did not move this chain leaves the hint as it was.
                    *turn.last_committed = None;
                }
                let committed = tx.commit().await;
                if self.closes_sessions {
                    drop(turn.take());
                    // Other instances trust what they remember only while they hear this
                    // instance's notifications promptly; after this long they have heard this
                    // commit's, or trust nothing remembered (ADR 0009). Also after an error:
                    // the commit may have happened.
                    crate::sessions::settle_closes(self.backend).await;
                }
                committed?;
                if let (Some(turn), Some(head)) = (&mut turn, head_under_turn) {
                    *turn.last_committed = Some(head);
                }
            }
        }
        drop(turn);
        self.bus.publish(&stored);
        Ok(stored)
    }

    /// The locked section: read each chain head, append, move the head. Organizations are
    /// locked in id order so two transactions never wait on each other in a cycle.
    ///
    /// For the organization whose turn this transaction holds (PostgreSQL, `serial.rs`), the
    /// events are first chained from the head this instance last committed, and the head is
    /// moved only if it is still there: one statement instead of a locking read and a write.
    /// If another instance moved the head meanwhile, nothing was written, and the head is
    /// locked and read as for any other organization. Returns the stored events and, when
    /// that organization's chain was written, its new head.
    async fn append_events(
        &mut self,
        events: Vec<(NewEvent, Option<Origin>)>,
    ) -> Result<(Vec<EventRecord>, Option<ChainHead>)> {
        let mut by_org: BTreeMap<Uuid, Vec<(NewEvent, Option<Origin>)>> = BTreeMap::new();
        for event in events {
            by_org.entry(event.0.org_id).or_default().push(event);
        }
        let mut stored = Vec::new();
        let mut head_under_turn = None;
        for (org_id, events) in by_org {
            let org = org_id.to_string();
            let first = stored.len();
            self.enter_serial_section(org_id).await;
            let remembered = match &self.turn {
                Some(turn) if turn.org_id == org_id && events.len() <= EVENTS_PER_INSERT => {
                    turn.last_committed.clone()
                }
                _ => None,
            };
            let start = match &remembered {
                Some(head) => head.clone(),
                None => self.lock_chain_head(&org).await?,
            };
            // Taken under the lock (or the turn), so times never run backwards against seq.
            let occurred_at = time::now();
            for (event, origin) in events {
                let origin = origin.as_ref().unwrap_or(&self.origin);
                stored.push(EventRecord {
                    org_id,
                    seq: 0,
                    id: steelyard_domain::new_id(),
                    aggregate_type: event.aggregate_type.to_owned(),
                    aggregate_id: event.aggregate_id,
                    kind: event.kind.to_owned(),
                    actor: origin.actor.clone(),
                    request_id: origin.request_id.clone(),
                    occurred_at,
                    data: event.data.to_string(),
                    changes: event.changes.to_string(),
                    prev_hash: String::new(),
                    hash: String::new(),
                });
            }
            let mut head = chain(&mut stored[first..], start, occurred_at);
            let written = self
                .write_chain(&stored[first..], &head, &org, remembered.as_ref())
                .await?;
            if !written {
                // Another instance appended since this one last committed: chain again from
                // the head as it is now, locked.
                let now_head = self.lock_chain_head(&org).await?;
                head = chain(&mut stored[first..], now_head, time::now());
                self.write_chain(&stored[first..], &head, &org, None)
                    .await?;
            }
            if self.turn.as_ref().is_some_and(|turn| turn.org_id == org_id) {
                head_under_turn = Some(head);
            }
        }
        Ok((stored, head_under_turn))
    }

    /// Inserts an organization's new events and moves its chain head to `head`, in as few
    /// statements as the engine allows, since the head stays locked until the commit. On
    /// PostgreSQL the last insert and the head's update are one statement (a data-modifying
    /// `WITH`, which SQLite lacks; there the statements run inline and cost no round trip).
    ///
    /// With `expected` (PostgreSQL, the records fit one insert), the head is not locked yet:
    /// it is moved only if it still is `expected`, the events are inserted only if it was,
    /// and the answer says whether it was. The `UPDATE` waits for a transaction of another
    /// instance that holds the head, then checks the head as that one left it.
    async fn write_chain(
        &mut self,
        records: &[EventRecord],
        head: &ChainHead,
        org: &str,
        expected: Option<&ChainHead>,
    ) -> Result<bool> {
        const INSERT: &str = "INSERT INTO events (org_id, seq, id, aggregate_type, aggregate_id, \
                              kind, actor, request_id, occurred_at, data, changes, prev_hash, hash)";
        if let Some((expected_seq, expected_hash)) = expected {
            debug_assert!(self.backend == Backend::Postgres && records.len() <= EVENTS_PER_INSERT);
            let mut args = vec![
                Value::Int(Some(head.0)),
                Value::text(&head.1),
                Value::text(org),
                Value::Int(Some(*expected_seq)),
                Value::text(expected_hash),
            ];
            let rows = if let [record] = records {
                args.extend(event_values(record));
                format!(
                    "(VALUES {}) AS event",
                    values_rows_from(6, 1, COLUMNS_PER_EVENT)
                )
            } else {
                // Several (a batch of new documents'): one JSON parameter, so that the
                // statement's text is the same for any number of them (cause 32).
                let values: Vec<[Value; COLUMNS_PER_EVENT]> =
                    records.iter().map(event_values).collect();
                let rows: Vec<&[Value]> = values.iter().map(|row| row.as_slice()).collect();
                let (from, json) = json_recordset(6, "event", &EVENT_COLUMNS, &rows);
                args.push(json);
                from
            };
            let sql = format!(
                "WITH head AS (UPDATE event_chain_heads SET last_seq = $1, last_hash = $2 \
                 WHERE org_id = $3 AND last_seq = $4 AND last_hash = $5 RETURNING 1), \
                 appended AS ({INSERT} SELECT * FROM {rows} \
                 WHERE EXISTS (SELECT 1 FROM head)) SELECT COUNT(*) FROM head"
            );
            let (moved,): (i64,) = query(sql).bind_all(args).fetch_one(self).await?;
            return Ok(moved == 1);
        }
        let chunks: Vec<&[EventRecord]> = records.chunks(EVENTS_PER_INSERT).collect();
        let mut head_moved = false;
        for (n, chunk) in chunks.iter().enumerate() {
            let mut sql = format!(
                "{INSERT} VALUES {}",
                values_rows(chunk.len(), COLUMNS_PER_EVENT)
            );
            let mut args: Vec<Value> = chunk.iter().flat_map(event_values).collect();
            if n + 1 == chunks.len() && self.backend == Backend::Postgres {
                let next = args.len();
                sql = format!(
                    "WITH appended AS ({sql}) UPDATE event_chain_heads SET last_seq = ${}, \
                     last_hash = ${} WHERE org_id = ${}",
                    next + 1,
                    next + 2,
                    next + 3
                );
                args.extend([
                    Value::Int(Some(head.0)),
                    Value::text(&head.1),
                    Value::text(org),
                ]);
                head_moved = true;
            }
            query(sql).bind_all(args).execute(self).await?;
        }
        if !head_moved {
            query("UPDATE event_chain_heads SET last_seq = $1, last_hash = $2 WHERE org_id = $3")
                .bind(head.0)
                .bind(head.1.as_str())
                .bind(org)
                .execute(self)
                .await?;
        }
        Ok(true)
    }

    /// Called before a transaction's first statement that locks one of `org_id`'s hot rows
    /// (a document counter, the chain head): on PostgreSQL it waits for the organization's
    /// turn in this instance's queue, and keeps it until the transaction ends. Only the first
    /// call queues; a transaction that already holds a serial row lock must not wait here.
    ///
    /// The store's functions that lock those rows call it themselves. Creating a document
    /// with an automatic number (`batch.rs`) calls it before it takes the document's id and
    /// time, so that on one instance those follow the numbers as SQLite's one writer makes
    /// them do.
    pub(crate) async fn enter_serial_section(&mut self, org_id: Uuid) {
        let Some(serial) = self.serial.take() else {
            return;
        };
        self.turn = serial.turn(org_id).await;
    }

    /// Reads (and on PostgreSQL locks) the organization's chain head, creating it on the
    /// organization's first event. One statement in the usual case, where the head exists.
    async fn lock_chain_head(&mut self, org: &str) -> Result<(i64, String)> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let select =
            format!("SELECT last_seq, last_hash FROM event_chain_heads WHERE org_id = $1{lock}");
        let head = query(&select).bind(org).fetch_optional(self).await?;
        match head {
            Some(head) => Ok(head),
            None => {
                // Another transaction may create it first: do nothing then, and lock theirs.
                query(
                    "INSERT INTO event_chain_heads (org_id, last_seq, last_hash) VALUES ($1, 0, $2) \
                     ON CONFLICT (org_id) DO NOTHING",
                )
                .bind(org)
                .bind(GENESIS_HASH)
                .execute(self)
                .await?;
                query(&select).bind(org).fetch_one(self).await
            }
        }
    }
}

/// Numbers `records` on from `head` (seq, hash links), stamped `occurred_at`; the new head.
fn chain(records: &mut [EventRecord], head: ChainHead, occurred_at: DateTime<Utc>) -> ChainHead {
    let (mut seq, mut hash) = head;
    for record in records {
        seq += 1;
        record.seq = seq;
        record.occurred_at = occurred_at;
        record.prev_hash = hash;
        record.hash = record.expected_hash();
        hash = record.hash.clone();
    }
    (seq, hash)
}

/// Events per multi-row `INSERT`: 500 × 13 values stays well below both engines' limits on
/// bound parameters (SQLite 32,766, PostgreSQL 65,535).
const EVENTS_PER_INSERT: usize = 500;

/// The columns of an event's row, in the order of [`event_values`].
const EVENT_COLUMNS: [&str; COLUMNS_PER_EVENT] = [
    "org_id",
    "seq",
    "id",
    "aggregate_type",
    "aggregate_id",
    "kind",
    "actor",
    "request_id",
    "occurred_at",
    "data",
    "changes",
    "prev_hash",
    "hash",
];
const COLUMNS_PER_EVENT: usize = 13;

/// An event's values, in the column order of [`Tx::write_chain`].
fn event_values(e: &EventRecord) -> [Value; COLUMNS_PER_EVENT] {
    [
        Value::text(e.org_id.to_string()),
        Value::Int(Some(e.seq)),
        Value::text(e.id.to_string()),
        Value::text(&e.aggregate_type),
        Value::text(e.aggregate_id.to_string()),
        Value::text(&e.kind),
        Value::text(&e.actor),
        Value::from(&e.request_id),
        Value::Int(Some(time::to_micros(e.occurred_at))),
        Value::text(&e.data),
        Value::text(&e.changes),
        Value::text(&e.prev_hash),
        Value::text(&e.hash),
    ]
}
