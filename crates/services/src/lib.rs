//! Steelyard's services: the use cases, one function per business action.
//!
//! A service takes the [`App`] (database and settings), a [`Ctx`] naming the actor and
//! request, and parsed domain input. It checks the actor's permission, runs one transaction
//! that also appends the change's events (the store publishes them once committed), and
//! returns a domain value or an [`Error`]. Services never see HTTP, so the API, the CLI, jobs
//! and importers all call the same functions.

pub mod access;
mod context;
pub mod demo;
mod error;
pub mod events;
pub mod identity;
pub mod inventory;
pub mod master_data;
mod order_lines;
pub mod organizations;
pub mod partners;
pub mod products;
pub mod purchase_import;
pub mod purchasing;
mod record;
pub mod sales;
pub mod sessions;
pub mod tokens;

pub use context::{Ctx, Expected, IdempotencyKey, Replay, check_version, find_replay};
pub use error::{Error, Result};

use steelyard_domain::event::EventRecord;
use steelyard_store::{Db, Tx};

/// What every service needs: the database (with its event bus, `Db::bus`) and the business
/// settings.
#[derive(Debug, Clone)]
pub struct App {
    pub db: Db,
    pub settings: Settings,
}

/// Business rules an operator tunes (from the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Confirming a purchase order above this total needs `purchasing.order.approve`.
    pub po_approval_threshold: steelyard_domain::money::Money,
    /// How far beyond the ordered quantity a receipt may go, in percent.
    pub receipt_tolerance_percent: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            po_approval_threshold: steelyard_domain::money::Money::from_scaled(10_000 * 10_000),
            receipt_tolerance_percent: 0,
        }
    }
}

impl App {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            settings: Settings::default(),
        }
    }

    /// Starts the one write transaction of a service call.
    pub(crate) async fn begin(&self, ctx: &Ctx) -> Result<Tx> {
        Ok(self.db.begin(ctx.origin()).await?)
    }

    /// Commits; the store publishes the transaction's events once committed.
    pub(crate) async fn commit(&self, tx: Tx) -> Result<Vec<EventRecord>> {
        Ok(tx.commit().await?)
    }
}
