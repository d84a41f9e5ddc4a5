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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

/// How long a transaction waits for its turn here before it goes to the row locks anyway.
/// Longer than any normal serial section (about a millisecond), short against a request.
const QUEUE_WAIT: Duration = Duration::from_millis(250);

/// One queue per organization that this instance has written to.
#[derive(Debug, Default)]
pub(crate) struct SerialQueues {
    queues: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

/// A place at the head of an organization's queue, held until the transaction ends.
pub(crate) type Turn = OwnedMutexGuard<()>;

impl SerialQueues {
    /// Waits for `org_id`'s turn; None when the wait ran out (the caller goes on without it).
    pub(crate) async fn turn(&self, org_id: Uuid) -> Option<Turn> {
        let queue = {
            let mut queues = self
                .queues
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            Arc::clone(queues.entry(org_id).or_default())
        };
        match tokio::time::timeout(QUEUE_WAIT, queue.lock_owned()).await {
            Ok(turn) => Some(turn),
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
}
