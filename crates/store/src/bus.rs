//! The event bus: every transaction's events fan out to in-process subscribers (the real-time
//! hub) as the store commits them, whichever request or batch wrote them.

use std::sync::Arc;

use steelyard_domain::event::EventRecord;
use tokio::sync::broadcast;

/// In-process fan-out of committed events. Events are shared (`Arc`), so a payload is built
/// once however many subscribers there are.
#[derive(Debug, Clone)]
pub struct Bus {
    sender: broadcast::Sender<Arc<EventRecord>>,
}

impl Default for Bus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(4096);
        Self { sender }
    }
}

impl Bus {
    /// Publishes committed events; with no subscriber they are simply dropped (the events
    /// table keeps them for replay). Only the store publishes: [`crate::Tx::commit`] does, once
    /// the commit succeeded.
    pub(crate) fn publish(&self, events: &[EventRecord]) {
        for event in events {
            let _ = self.sender.send(Arc::new(event.clone()));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventRecord>> {
        self.sender.subscribe()
    }
}
