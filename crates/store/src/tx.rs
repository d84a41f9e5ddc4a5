//! The unit of work: one write transaction whose events are chained and committed with it.

use std::collections::BTreeMap;

use sqlx::{Any, Transaction};
use steelyard_domain::event::{EventRecord, GENESIS_HASH, NewEvent};
use uuid::Uuid;

use crate::db::{Backend, Db};
use crate::error::Result;
use crate::group_commit::SqliteTx;
use crate::idempotency::{self, IdempotencyRecord};
use crate::sql::{FromColumns, Value, query, sqlite_execute, sqlite_rows, sqlx_query, values_rows};
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
    events: Vec<NewEvent>,
    idempotency: Option<IdempotencyRecord>,
    /// PostgreSQL: the instance's queues in front of the serial sections, and this
    /// transaction's turn once it entered one (held until it ends; `serial.rs`).
    serial: Option<std::sync::Arc<crate::serial::SerialQueues>>,
    turn: Option<crate::serial::Turn>,
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
            idempotency: None,
            serial: self.serial.clone(),
            turn: None,
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
        self.events.push(event);
    }

    /// Keeps the response to an `Idempotency-Key`, written with the change it answers.
    pub fn remember_response(&mut self, record: IdempotencyRecord) {
        self.idempotency = Some(record);
    }

    /// Appends the queued events to their organizations' chains and commits. Returns the
    /// stored events, ready to publish.
    pub async fn commit(mut self) -> Result<Vec<EventRecord>> {
        let events = std::mem::take(&mut self.events);
        let stored = self.append_events(events).await?;
        if let Some(record) = self.idempotency.take() {
            idempotency::insert(&mut self, &record).await?;
        }
        match self.inner {
            Connection::Sqlite(tx) => tx.commit().await?,
            Connection::Pool(tx) => tx.commit().await?,
        }
        Ok(stored)
    }

    /// The locked section: read each chain head, append, move the head. Organizations are
    /// locked in id order so two transactions never wait on each other in a cycle.
    async fn append_events(&mut self, events: Vec<NewEvent>) -> Result<Vec<EventRecord>> {
        let mut by_org: BTreeMap<Uuid, Vec<NewEvent>> = BTreeMap::new();
        for event in events {
            by_org.entry(event.org_id).or_default().push(event);
        }
        let mut stored = Vec::new();
        for (org_id, events) in by_org {
            let org = org_id.to_string();
            let first = stored.len();
            self.enter_serial_section(org_id).await;
            let (mut seq, mut hash) = self.lock_chain_head(&org).await?;
            // Taken under the lock, so times never run backwards against seq.
            let occurred_at = time::now();
            for event in events {
                seq += 1;
                let mut record = EventRecord {
                    org_id,
                    seq,
                    id: steelyard_domain::new_id(),
                    aggregate_type: event.aggregate_type.to_owned(),
                    aggregate_id: event.aggregate_id,
                    kind: event.kind.to_owned(),
                    actor: self.origin.actor.clone(),
                    request_id: self.origin.request_id.clone(),
                    occurred_at,
                    data: event.data.to_string(),
                    changes: event.changes.to_string(),
                    prev_hash: hash,
                    hash: String::new(),
                };
                record.hash = record.expected_hash();
                hash = record.hash.clone();
                stored.push(record);
            }
            self.write_chain(&stored[first..], seq, &hash, &org).await?;
        }
        Ok(stored)
    }

    /// Inserts an organization's new events and moves its chain head to `seq`/`hash`, in as few
    /// statements as the engine allows, since the head stays locked until the commit. On
    /// PostgreSQL the last insert and the head's update are one statement (a data-modifying
    /// `WITH`, which SQLite lacks; there the statements run inline and cost no round trip).
    async fn write_chain(
        &mut self,
        records: &[EventRecord],
        seq: i64,
        hash: &str,
        org: &str,
    ) -> Result<()> {
        const COLUMNS_PER_EVENT: usize = 13;
        let chunks: Vec<&[EventRecord]> = records.chunks(EVENTS_PER_INSERT).collect();
        let mut head_moved = false;
        for (n, chunk) in chunks.iter().enumerate() {
            let mut sql = format!(
                "INSERT INTO events (org_id, seq, id, aggregate_type, aggregate_id, kind, actor, \
                 request_id, occurred_at, data, changes, prev_hash, hash) VALUES {}",
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
                args.extend([Value::Int(Some(seq)), Value::text(hash), Value::text(org)]);
                head_moved = true;
            }
            query(sql).bind_all(args).execute(self).await?;
        }
        if !head_moved {
            query("UPDATE event_chain_heads SET last_seq = $1, last_hash = $2 WHERE org_id = $3")
                .bind(seq)
                .bind(hash)
                .bind(org)
                .execute(self)
                .await?;
        }
        Ok(())
    }

    /// Called before a transaction's first statement that locks one of `org_id`'s hot rows
    /// (a document counter, the chain head): on PostgreSQL it waits for the organization's
    /// turn in this instance's queue, and keeps it until the transaction ends. Only the first
    /// call queues; a transaction that already holds a serial row lock must not wait here.
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

/// Events per multi-row `INSERT`: 500 × 13 values stays well below both engines' limits on
/// bound parameters (SQLite 32,766, PostgreSQL 65,535).
const EVENTS_PER_INSERT: usize = 500;

/// An event's values, in the column order of [`Tx::write_chain`].
fn event_values(e: &EventRecord) -> [Value; 13] {
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
