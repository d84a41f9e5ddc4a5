//! On PostgreSQL, an in-process queue in front of each organization's serial section (its
//! document counters and event chain head, locked from first use until commit).
//!
//! The row locks alone are correct, but expensive when many of this instance's transactions
//! want them at once: each waiter sits in PostgreSQL's lock manager holding a snapshot, which
//! keeps the rows' dead versions from being pruned, so every update of the hot rows walks a
//! longer chain of versions, and each release wakes the whole queue. Here the transactions of
//! one instance queue on a tokio mutex instead, before their first serial statement, and reach
//! PostgreSQL one at a time. Other instances still meet at the row locks, which stay the
//! guarantee (docs/adr/0006-serial-section-queue.md).
//!
//! A transaction waits in this queue only while it holds no serial row lock, and never for
//! longer than [`QUEUE_WAIT`]; after that it goes on to the row locks as before. So the queue
//! cannot add a deadlock: at worst a transaction that holds some other row lock the queue's
//! holder needs waits [`QUEUE_WAIT`] here, then PostgreSQL's deadlock detector sees the cycle.
//!
//! The queue also keeps the chain head this instance last committed for the organization,
//! guarded by the turn itself: the holder may chain its events from it and move the head only
//! if nobody moved it since (`Tx::append_events`), which saves the head's locking read in the
//! usual case of one instance writing an organization (ADR 0006).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

/// How long a transaction waits for its turn here before it goes to the row locks anyway.
/// Longer than any normal serial section (about a millisecond), short against a request.
const QUEUE_WAIT: Duration = Duration::from_millis(250);

/// Queues kept before the first clear-out of the unused ones.
const FIRST_PRUNE_AT: usize = 64;

/// An organization's event chain head: the last seq and its hash.
pub(crate) type ChainHead = (i64, String);

/// One queue per organization that this instance writes to.
#[derive(Debug)]
pub(crate) struct SerialQueues {
    queues: Mutex<Queues>,
}

/// A queue, guarding the chain head this instance last committed for its organization (None
/// until it commits one, or after a commit whose outcome is unknown).
type Queue = Arc<tokio::sync::Mutex<Option<ChainHead>>>;

#[derive(Debug)]
struct Queues {
    by_org: HashMap<Uuid, Queue>,
    /// When the map reaches this size, queues nobody holds or waits for are dropped: twice the
    /// size left after the last clear-out, so clearing costs O(1) per turn on average.
    prune_at: usize,
}

impl Default for SerialQueues {
    fn default() -> Self {
        Self {
            queues: Mutex::new(Queues {
                by_org: HashMap::new(),
                prune_at: FIRST_PRUNE_AT,
            }),
        }
    }
}

/// A place at the head of an organization's queue, held until the transaction ends.
#[derive(Debug)]
pub(crate) struct Turn {
    pub(crate) org_id: Uuid,
    /// The chain head this instance last committed: a hint, never trusted without a check,
    /// since another instance may have moved the head since.
    pub(crate) last_committed: OwnedMutexGuard<Option<ChainHead>>,
}

impl SerialQueues {
    /// Waits for `org_id`'s turn; None when the wait ran out (the caller goes on without it).
    pub(crate) async fn turn(&self, org_id: Uuid) -> Option<Turn> {
        let queue = {
            let mut queues = self
                .queues
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if queues.by_org.len() >= queues.prune_at {
                // Only the map holds an idle queue: a waiter holds a clone of its Arc and the
                // turn's guard holds another, and clones are made only under this lock.
                queues
                    .by_org
                    .retain(|_, queue| Arc::strong_count(queue) > 1);
                queues.prune_at = (queues.by_org.len() * 2).max(FIRST_PRUNE_AT);
            }
            Arc::clone(queues.by_org.entry(org_id).or_default())
        };
        match tokio::time::timeout(QUEUE_WAIT, queue.lock_owned()).await {
            Ok(last_committed) => Some(Turn {
                org_id,
                last_committed,
            }),
            Err(_) => {
                tracing::debug!(%org_id, "serial queue wait ran out; going on to the row locks");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_transaction_per_organization_holds_the_turn_and_others_are_not_held_up() {
        let queues = SerialQueues::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = queues.turn(a).await.expect("a free queue");
        // Another organization has its own queue.
        assert!(queues.turn(b).await.is_some());
        // The same organization waits, and gives up after QUEUE_WAIT rather than hang.
        let started = tokio::time::Instant::now();
        assert!(queues.turn(a).await.is_none());
        assert!(started.elapsed() >= QUEUE_WAIT);
        drop(first);
        assert!(queues.turn(a).await.is_some());
    }

    #[tokio::test]
    async fn queues_nobody_uses_are_dropped_and_a_held_one_is_kept() {
        let queues = SerialQueues::default();
        let held_org = Uuid::now_v7();
        let held = queues.turn(held_org).await.expect("a free queue");
        for _ in 0..10 * FIRST_PRUNE_AT {
            drop(queues.turn(Uuid::now_v7()).await);
        }
        let kept = queues.queues.lock().unwrap().by_org.len();
        assert!(
            kept <= FIRST_PRUNE_AT,
            "{kept} queues kept after 640 one-off writers"
        );
        // The held queue survived every clear-out: its organization still waits for it.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), queues.turn(held_org))
                .await
                .is_err()
        );
        drop(held);
        assert!(queues.turn(held_org).await.is_some());
    }
}
