//! Steelyard's services: the use cases, one function per business action.
//!
//! A service takes the [`App`] (database and bus), a [`Ctx`] naming the actor and request,
//! and parsed domain input. It checks the actor's permission, runs one transaction that also
//! appends the change's events, publishes those events after commit, and returns a domain
//! value or an [`Error`]. Services never see HTTP, so the API, the CLI, jobs and importers all
//! call the same functions.

pub mod access;
pub mod bus;
mod context;
pub mod demo;
mod error;
pub mod events;
pub mod identity;
pub mod inventory;
pub mod organizations;
pub mod partners;
pub mod products;
mod record;
pub mod sessions;
pub mod tokens;

pub use bus::Bus;
pub use context::{Ctx, Expected, IdempotencyKey, Replay, check_version, find_replay};
pub use error::{Error, Result};

use steelyard_domain::event::EventRecord;
use steelyard_store::{Db, Tx};

/// What every service needs: the database and the event bus.
#[derive(Debug, Clone)]
pub struct App {
    pub db: Db,
    pub bus: Bus,
}

impl App {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            bus: Bus::default(),
        }
    }

    /// Starts the one write transaction of a service call.
    pub(crate) async fn begin(&self, ctx: &Ctx) -> Result<Tx> {
        Ok(self.db.begin(ctx.origin()).await?)
    }

    /// Commits and, only once committed, publishes the transaction's events.
    pub(crate) async fn commit(&self, tx: Tx) -> Result<Vec<EventRecord>> {
        let events = tx.commit().await?;
        self.bus.publish(&events);
        Ok(events)
    }
}
