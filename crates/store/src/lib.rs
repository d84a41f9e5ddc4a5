//! Steelyard's store: the only place with SQL.
//!
//! One schema and one set of queries serve SQLite and PostgreSQL (docs/adr/0001-database-layer.md).
//! PostgreSQL runs them through sqlx's `Any` driver. On a SQLite file the same SQL runs inline
//! through rusqlite instead: short reads on a per-thread connection (`Db::read_all`,
//! docs/adr/0004-inline-sqlite-reads.md), write transactions on the one writer connection
//! (`sql::query(…).execute(tx)`, docs/adr/0005-inline-sqlite-writes.md). Every query of
//! business data takes the actor's [`DataScope`](steelyard_domain::access::DataScope); there is
//! no unscoped read of tenant rows. Writes go through [`Tx`], which appends the change's events
//! to the hash chain and commits both together; a new document with an automatic number goes
//! through its module's `create` (`batch.rs`), which does the same for several at once.

pub mod access;
pub mod api_tokens;
mod batch;
mod bus;
mod db;
pub mod document;
mod error;
pub mod events;
mod group_commit;
pub mod idempotency;
mod inline;
pub mod inventory;
pub mod master;
pub mod master_data;
mod open_sessions;
pub mod organizations;
pub mod partners;
pub mod products;
pub mod purchasing;
pub mod sales;
mod serial;
mod session_notices;
pub mod sessions;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod tx;
pub mod users;
mod writer;

pub use batch::Creation;
pub use bus::Bus;
pub use db::{Backend, Db, DbTarget, MigrationInfo, PoolSettings, PoolStats, redact_url};
pub use error::StoreError;
pub use time::now;
pub use tx::{Origin, Tx};
