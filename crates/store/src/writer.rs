//! SQLite's one writer: a rusqlite connection behind an async lock, so a write transaction runs
//! every statement on the task that holds it instead of handing each one to sqlx's connection
//! thread and waiting to be woken (docs/adr/0005-inline-sqlite-writes.md).
//!
//! SQLite admits one writer at a time anyway; the lock is that queue, kept in-process, and a
//! transaction holds it from `BEGIN IMMEDIATE` to `COMMIT`. The statements are microseconds
//! each, so they run on the async worker; a task waiting for the lock holds no thread.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{Result, StoreError};

/// Write statements kept prepared: every statement the store writes with, and room to spare.
const STATEMENT_CACHE: usize = 256;

pub(crate) struct SqliteWriter {
    connection: Arc<Mutex<Connection>>,
    /// How long a writer waits for its turn before the request is refused as overload.
    lock_timeout: Duration,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter")
            .field("lock_timeout", &self.lock_timeout)
            .finish_non_exhaustive()
    }
}

impl SqliteWriter {
    /// Opens the writer with the pragmas every connection of the store uses.
    pub(crate) fn open(path: &Path, lock_timeout: Duration) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags)?;
        // Only another process (a CLI command beside the server) can hold the lock.
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;",
        )?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            lock_timeout,
        })
    }

    /// Waits for the writer; `Busy` after the lock timeout (overload, or a transaction that
    /// waits for itself, which would otherwise hang).
    pub(crate) async fn lock(&self) -> Result<OwnedMutexGuard<Connection>> {
        tokio::time::timeout(self.lock_timeout, self.connection.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Busy)
    }
}

/// A transaction on the writer: open from `BEGIN IMMEDIATE` until [`SqliteTx::commit`]; a
/// transaction dropped before that is rolled back, as sqlx's are.
pub(crate) struct SqliteTx {
    connection: OwnedMutexGuard<Connection>,
    open: bool,
}

impl std::fmt::Debug for SqliteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTx")
            .field("open", &self.open)
            .finish()
    }
}

impl SqliteTx {
    pub(crate) fn begin(connection: OwnedMutexGuard<Connection>) -> Result<Self> {
        connection.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Self {
            connection,
            open: true,
        })
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    pub(crate) fn commit(mut self) -> Result<()> {
        self.connection.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open && !self.connection.is_autocommit() {
            // Nothing to report to: the caller is gone, and a failed rollback leaves the
            // connection as SQLite rolls back any transaction it cannot continue.
            if let Err(error) = self.connection.execute_batch("ROLLBACK") {
                tracing::error!(%error, "rolling back a dropped SQLite transaction failed");
            }
        }
    }
}
