//! New documents with automatic numbers (purchase and sales orders). On PostgreSQL the ones of
//! an organization that wait together are written in one transaction: one counter step, one
//! statement for all their headers and lines, one append to the event chain and one `COMMIT`,
//! where each alone would take them all (docs/adr/0010-document-batches-on-postgresql.md). On
//! SQLite each is a transaction of its own, which the writer's group commit already shares
//! (ADR 0007).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use steelyard_domain::event::{EventRecord, NewEvent};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::db::Db;
use crate::document::{Rows, insert_with_next_number};
use crate::error::{Result, StoreError};
use crate::idempotency::IdempotencyRecord;
use crate::time;
use crate::tx::Origin;

mod numbering;
use numbering::insert_numbered;

/// Documents per transaction at most: enough to share the serial section's round trips among
/// many, few enough that one failing document costs little to write again alone.
const MAX_BATCH: usize = 64;

/// Queues kept before the first clear-out of the unused ones.
const FIRST_PRUNE_AT: usize = 64;

/// A document that the store numbers and writes as it is created.
pub(crate) trait NewDocument: serde::Serialize + Send + 'static {
    /// The counter, and the number's prefix: `PO`, `SO`.
    const DOC_TYPE: &'static str;
    fn org_id(&self) -> Uuid;
    /// Gives the document its id and creation time, taken in the organization's serial
    /// section so that on one instance they follow the numbers.
    fn stamp(&mut self, id: Uuid, at: DateTime<Utc>);
    /// Its header row (whatever its `number` column holds is replaced) and its line rows,
    /// whose `order_id` is the header's id.
    fn rows(&self) -> (Rows, Rows);
    fn set_number(&mut self, number: String);
}

/// Implements [`NewDocument`] for a document whose fields include `id`, `organization_id`,
/// `number`, `created_at` and `updated_at`: its counter (`"PO"`), and the module's function
/// that builds its rows.
macro_rules! new_document {
    ($document:ty, $doc_type:literal, $rows:path) => {
        impl $crate::batch::NewDocument for $document {
            const DOC_TYPE: &'static str = $doc_type;

            fn org_id(&self) -> ::uuid::Uuid {
                self.organization_id
            }

            fn stamp(&mut self, id: ::uuid::Uuid, at: ::chrono::DateTime<::chrono::Utc>) {
                self.id = id;
                self.created_at = at;
                self.updated_at = at;
            }

            fn rows(&self) -> ($crate::document::Rows, $crate::document::Rows) {
                $rows(self)
            }

            fn set_number(&mut self, number: String) {
                self.number = number;
            }
        }
    };
}
pub(crate) use new_document;

/// Builds a new document's events from the numbered document.
pub type EventsOf<D> = Box<dyn Fn(&D) -> Vec<NewEvent> + Send + Sync>;

/// A document to create, with what its request records once the document has its number.
pub struct Creation<D> {
    pub document: D,
    pub origin: Origin,
    /// The events to record, built from the numbered document. It may be called more than
    /// once: a document of a failed batch is written again alone.
    pub events: EventsOf<D>,
    /// The response to keep for an `Idempotency-Key`; its body is set to the numbered
    /// document.
    pub idempotency: Option<IdempotencyRecord>,
}

impl<D: std::fmt::Debug> std::fmt::Debug for Creation<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Creation")
            .field("document", &self.document)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Creates the document under its organization's next automatic number, records its events
/// and commits. Returns the stored document and its stored events, which the commit has
/// published on the instance's bus.
pub(crate) async fn create<D: NewDocument>(
    db: &Db,
    creation: Creation<D>,
) -> Result<(D, Vec<EventRecord>)> {
    let Some(batches) = &db.batches else {
        return create_alone(db, creation).await;
    };
    let org_id = creation.document.org_id();
    let queue = batches.queue(org_id);
    let (reply, mut answer) = oneshot::channel();
    let ticket = {
        let mut waiting = lock(&queue.waiting);
        waiting.next_ticket += 1;
        let ticket = waiting.next_ticket;
        waiting
            .documents
            .push_back((ticket, Box::new(Waiting { creation, reply })));
        ticket
    };
    // A request that goes away while its document still waits takes the document with it,
    // as a dropped `Tx` rolls back; one already in a batch is written (ADR 0010).
    let _withdraw_if_dropped = Withdraw {
        queue: &queue,
        ticket,
    };
    loop {
        // Whoever holds `writing` writes a batch of what waits, in arrival order. The others
        // wait for their answer, or for `writing` to write the next batch; an answer ends the
        // wait at once, without queueing behind the batch after the one that answered.
        let writing = tokio::select! {
            biased;
            result = &mut answer => return result.unwrap_or_else(|_| Err(dropped())),
            writing = Arc::clone(&queue.writing).lock_owned() => writing,
        };
        match answer.try_recv() {
            Ok(result) => return result,
            Err(oneshot::error::TryRecvError::Closed) => return Err(dropped()),
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        let members: Vec<Box<dyn Member>> = {
            let mut waiting = lock(&queue.waiting);
            let take = waiting.documents.len().min(MAX_BATCH);
            waiting
                .documents
                .drain(..take)
                .map(|(_, member)| member)
                .collect()
        };
        let (db, held) = (db.clone(), Arc::clone(&queue));
        // Spawned, so that a request that goes away does not take the others' batch with it.
        // It holds the queue too, so that the queue is not cleared out while it writes.
        tokio::spawn(async move {
            write_and_answer(&db, org_id, members).await;
            drop(writing);
            drop(held);
        });
    }
}

/// Takes a request's document out of the queue if it still waits there when the request ends.
struct Withdraw<'a> {
    queue: &'a Queue,
    ticket: u64,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        lock(&self.queue.waiting)
            .documents
            .retain(|(ticket, _)| *ticket != self.ticket);
    }
}

/// The answer of a batch that ended without one: its task panicked, or the runtime is
/// shutting down.
fn dropped() -> StoreError {
    StoreError::Corrupt("a batch of new documents ended without an answer".into())
}

/// One document in one transaction: SQLite's way, where the writer's group commit shares the
/// `COMMIT` with whatever else waits for it.
async fn create_alone<D: NewDocument>(
    db: &Db,
    mut creation: Creation<D>,
) -> Result<(D, Vec<EventRecord>)> {
    let org_id = creation.document.org_id();
    let mut tx = db.begin(creation.origin.clone()).await?;
    tx.enter_serial_section(org_id).await;
    creation
        .document
        .stamp(steelyard_domain::new_id(), time::now());
    let (mut header, lines) = creation.document.rows();
    let number = insert_with_next_number(&mut tx, org_id, D::DOC_TYPE, &mut header, &lines).await?;
    creation.document.set_number(number);
    for event in (creation.events)(&creation.document) {
        tx.record(event);
    }
    if let Some(record) = creation.idempotency.take() {
        tx.remember_response(with_body(record, &creation.document)?);
    }
    let events = tx.commit().await?;
    Ok((creation.document, events))
}

/// The idempotency record answering with `document`.
fn with_body<D: serde::Serialize>(
    mut record: IdempotencyRecord,
    document: &D,
) -> Result<IdempotencyRecord> {
    record.body =
        serde_json::to_string(document).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(record)
}

/// Writes a batch and answers each of its requests. If a document of the batch broke a
/// constraint, nothing of the batch was stored, and each document is written again alone, so
/// that only the one at fault fails. Any other error (a lost connection, a timeout, a
/// `COMMIT` whose outcome is unknown) is every member's answer: writing them again could
/// store them twice, and would wait out the same trouble once per document.
async fn write_and_answer(db: &Db, org_id: Uuid, mut members: Vec<Box<dyn Member>>) {
    match write_batch(db, org_id, &mut members).await {
        Ok(events) => {
            for (member, events) in members.into_iter().zip(events) {
                member.answer(Ok(events));
            }
        }
        Err(error) if members.len() == 1 || !caused_by_a_document(&error) => {
            for member in members {
                member.answer(Err(error.clone_for_answer()));
            }
        }
        Err(error) => {
            tracing::info!(%org_id, documents = members.len(), %error,
                "a batch of new documents failed; writing them one at a time");
            for member in members {
                let mut alone = vec![member];
                let result = write_batch(db, org_id, &mut alone).await;
                if let Some(member) = alone.pop() {
                    member.answer(result.map(|mut events| events.pop().unwrap_or_default()));
                }
            }
        }
    }
}

/// Whether one document could have caused the error: a constraint it broke (SQLSTATE class
/// 23, a unique key taken or a reference to nothing), raised before the `COMMIT`.
fn caused_by_a_document(error: &StoreError) -> bool {
    match error {
        StoreError::Duplicate(_) => true,
        StoreError::Database(sqlx::Error::Database(error)) => {
            error.code().is_some_and(|code| code.starts_with("23"))
        }
        _ => false,
    }
}

/// The batch's one transaction (PostgreSQL): stamps and numbers its documents, inserts them,
/// records their events, commits. The commit publishes every member's events, in their
/// chain's order, before any member is answered, so subscribers hear of a document even when
/// its request went away. Returns each document's stored events.
async fn write_batch(
    db: &Db,
    org_id: Uuid,
    members: &mut [Box<dyn Member>],
) -> Result<Vec<Vec<EventRecord>>> {
    let first_origin = members
        .first()
        .map(|member| member.origin().clone())
        .ok_or_else(|| StoreError::Corrupt("an empty document batch".into()))?;
    let mut tx = db.begin(first_origin).await?;
    tx.enter_serial_section(org_id).await;
    let at = time::now();
    for member in members.iter_mut() {
        member.stamp(steelyard_domain::new_id(), at);
    }
    // A document whose number someone chose by hand earlier is skipped by the insert, and
    // takes the next number in another round.
    let mut unnumbered: Vec<usize> = (0..members.len()).collect();
    while !unnumbered.is_empty() {
        let mut skipped = Vec::new();
        let mut doc_types: Vec<&'static str> =
            unnumbered.iter().map(|&i| members[i].doc_type()).collect();
        doc_types.sort_unstable();
        doc_types.dedup();
        for doc_type in doc_types {
            let of_type: Vec<usize> = unnumbered
                .iter()
                .copied()
                .filter(|&i| members[i].doc_type() == doc_type)
                .collect();
            let rows: Vec<(Rows, Rows)> = of_type.iter().map(|&i| members[i].rows()).collect();
            let numbers = insert_numbered(&mut tx, org_id, doc_type, &rows).await?;
            for (i, number) in of_type.into_iter().zip(numbers) {
                match number {
                    Some(number) => members[i].set_number(number),
                    None => skipped.push(i),
                }
            }
        }
        if !skipped.is_empty() {
            tracing::info!(%org_id, skipped = skipped.len(), "skipped numbers chosen by hand");
        }
        unnumbered = skipped;
    }
    let mut counts = Vec::with_capacity(members.len());
    for member in members.iter() {
        let events = member.events();
        counts.push(events.len());
        for event in events {
            tx.record_for(member.origin(), event);
        }
        if let Some(record) = member.idempotency()? {
            tx.remember_response(record);
        }
    }
    let stored = tx.commit().await?;
    // Split by member in recording order: the commit keeps that order within an
    // organization, and every event of a batch is its organization's.
    debug_assert!(stored.iter().all(|event| event.org_id == org_id));
    let mut stored = stored.into_iter();
    Ok(counts
        .into_iter()
        .map(|count| stored.by_ref().take(count).collect())
        .collect())
}

/// A waiting document, whatever its type.
trait Member: Send {
    fn doc_type(&self) -> &'static str;
    fn origin(&self) -> &Origin;
    fn stamp(&mut self, id: Uuid, at: DateTime<Utc>);
    fn rows(&self) -> (Rows, Rows);
    fn set_number(&mut self, number: String);
    fn events(&self) -> Vec<NewEvent>;
    fn idempotency(&self) -> Result<Option<IdempotencyRecord>>;
    /// Answers the request with its stored events, or its error.
    fn answer(self: Box<Self>, result: Result<Vec<EventRecord>>);
}

struct Waiting<D> {
    creation: Creation<D>,
    reply: oneshot::Sender<Result<(D, Vec<EventRecord>)>>,
}

impl<D: NewDocument> Member for Waiting<D> {
    fn doc_type(&self) -> &'static str {
        D::DOC_TYPE
    }

    fn origin(&self) -> &Origin {
        &self.creation.origin
    }

    fn stamp(&mut self, id: Uuid, at: DateTime<Utc>) {
        self.creation.document.stamp(id, at);
    }

    fn rows(&self) -> (Rows, Rows) {
        self.creation.document.rows()
    }

    fn set_number(&mut self, number: String) {
        self.creation.document.set_number(number);
    }

    fn events(&self) -> Vec<NewEvent> {
        (self.creation.events)(&self.creation.document)
    }

    fn idempotency(&self) -> Result<Option<IdempotencyRecord>> {
        self.creation
            .idempotency
            .clone()
            .map(|record| with_body(record, &self.creation.document))
            .transpose()
    }

    fn answer(self: Box<Self>, result: Result<Vec<EventRecord>>) {
        let Waiting { creation, reply } = *self;
        // A request that went away meanwhile no longer listens; its document stays stored.
        let _ = reply.send(result.map(|events| (creation.document, events)));
    }
}

/// PostgreSQL: one queue of waiting documents per organization that this instance creates
/// documents in.
#[derive(Default)]
pub(crate) struct DocumentBatches {
    queues: Mutex<Queues>,
}

impl std::fmt::Debug for DocumentBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentBatches").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Queues {
    by_org: HashMap<Uuid, Arc<Queue>>,
    /// When the map reaches this size, queues nobody uses are dropped: twice the size left
    /// after the last clear-out, so clearing costs O(1) per document on average.
    prune_at: usize,
}

#[derive(Default)]
struct Queue {
    waiting: Mutex<WaitingDocuments>,
    /// Held by whoever writes the organization's current batch, until it is answered.
    writing: Arc<tokio::sync::Mutex<()>>,
}

impl DocumentBatches {
    fn queue(&self, org_id: Uuid) -> Arc<Queue> {
        let mut queues = lock(&self.queues);
        if queues.by_org.len() >= queues.prune_at.max(FIRST_PRUNE_AT) {
            // Only the map holds an idle queue; clones are made only under this lock.
            queues
                .by_org
                .retain(|_, queue| Arc::strong_count(queue) > 1);
            queues.prune_at = queues.by_org.len() * 2;
        }
        Arc::clone(queues.by_org.entry(org_id).or_default())
    }
}

/// The documents waiting for a batch, each under the ticket its request holds.
#[derive(Default)]
struct WaitingDocuments {
    documents: VecDeque<(u64, Box<dyn Member>)>,
    next_ticket: u64,
}

/// A std mutex whose holder never panics while holding it; poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
