//! SQLite's one writer: a rusqlite connection behind an async lock, so a write transaction runs
//! every statement on the task that holds it instead of handing each one to sqlx's connection
//! thread and waiting to be woken (docs/adr/0005-inline-sqlite-writes.md).
//!
//! SQLite admits one writer at a time anyway; the lock is that queue, kept in-process, and a
//! transaction holds it while its statements run. The statements are microseconds each, so
//! they run on the async worker; a task waiting for the lock holds no thread. Transactions
//! that queue behind each other share one `COMMIT` (`group_commit.rs`).
//!
//! What is not microseconds is a checkpoint, which copies the WAL into the database file and
//! syncs both. SQLite runs one inside a `COMMIT` once the WAL passes 1,000 pages, which would
//! block an async worker for the copy and the fsyncs. So the writer never checkpoints; in the
//! server a thread of its own does ([`SqliteWriter::start_checkpoints`]). A short-lived
//! command leaves it to SQLite, which checkpoints when the last connection closes.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{Result, StoreError};
use crate::group_commit::{SqliteTx, WriterState};

/// Write statements kept prepared: every statement the store writes with, and room to spare.
const STATEMENT_CACHE: usize = 256;
/// How often the checkpoint thread copies committed pages from the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// WAL pages (4 KiB each) past which the checkpoint thread also starts the WAL over.
const RESTART_AT_PAGES: i64 = 4_000;
/// How long a `RESTART` waits for reads on the old WAL while it holds the writer: enough for
/// any short read, not for a backup or an audit walk, which it leaves alone instead.
const RESTART_WAIT: Duration = Duration::from_millis(10);
/// After a `RESTART` that a long read kept from finishing, the wait before the next attempt.
const RESTART_BACKOFF: Duration = Duration::from_secs(2);

pub(crate) struct SqliteWriter {
    path: std::path::PathBuf,
    state: Arc<Mutex<WriterState>>,
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
        let connection = open(path)?;
        connection.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; \
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            path: path.to_owned(),
            state: Arc::new(Mutex::new(WriterState::new(connection))),
            lock_timeout,
        })
    }

    /// Starts the checkpoint thread, which ends once the writer is dropped. Only the server
    /// calls it: commands beside a running server must not checkpoint against it.
    pub(crate) fn start_checkpoints(&self) -> Result<()> {
        let connection = open(&self.path)?;
        connection.busy_timeout(RESTART_WAIT)?;
        spawn_checkpointer(connection, Arc::downgrade(&self.state))
    }

    /// Starts a transaction on the writer, in the open group if there is one; `Busy` after
    /// the lock timeout (overload, or a transaction that waits for itself, which would
    /// otherwise hang).
    pub(crate) async fn begin(&self) -> Result<SqliteTx> {
        let state = self.wait().await?;
        SqliteTx::begin(Arc::clone(&self.state), state)
    }

    /// The writer for statements outside any transaction: an open group is committed first,
    /// so they neither join it nor fail with it.
    pub(crate) async fn lock(&self) -> Result<OwnedMutexGuard<WriterState>> {
        let mut state = self.wait().await?;
        state.flush()?;
        Ok(state)
    }

    /// Groups committed so far.
    #[cfg(test)]
    pub(crate) async fn commits(&self) -> u64 {
        self.state.lock().await.commits()
    }

    async fn wait(&self) -> Result<OwnedMutexGuard<WriterState>> {
        tokio::time::timeout(self.lock_timeout, Arc::clone(&self.state).lock_owned())
            .await
            .map_err(|_| StoreError::Busy)
    }
}

fn open(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    // Only another process (a CLI command beside the server) holds a lock for long.
    connection.busy_timeout(Duration::from_secs(5))?;
    Ok(connection)
}

/// Keeps the WAL short while the writer lives. Every [`CHECKPOINT_EVERY`] a `PASSIVE`
/// checkpoint copies, beside the running writer, what no reader still needs. That alone never
/// lets the WAL start over under a steady stream of commits: each commit lands while the copy
/// runs. So once the WAL holds [`RESTART_AT_PAGES`], the thread also takes the writer's lock,
/// so nothing commits, and runs a `RESTART` checkpoint: it copies the few pages left, waits up
/// to [`RESTART_WAIT`] for reads still on the old WAL, and the next transaction writes the
/// WAL from its start. Without this the WAL grew by gigabytes in a minute of writes, and
/// reads slowed with it. A long read (a backup, `audit verify`) makes the `RESTART` give up
/// at once; it is tried again after [`RESTART_BACKOFF`], so writers lose at most that wait.
fn spawn_checkpointer(connection: Connection, writer: Weak<Mutex<WriterState>>) -> Result<()> {
    // (gave up because of a reader or writer, pages in the WAL, pages copied)
    let checkpoint = move |mode: &str| -> rusqlite::Result<(bool, i64)> {
        connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
            Ok((row.get::<_, i64>(0)? != 0, row.get::<_, i64>(1)?))
        })
    };
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            // The WAL's length at the last RESTART: it reads the same until the next write
            // starts the WAL over, and an idle server has nothing to restart.
            let mut restarted_at = None;
            let mut next_restart = std::time::Instant::now();
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                let Some(writer) = writer.upgrade() else {
                    return;
                };
                let done = match checkpoint("PASSIVE") {
                    Ok((_, pages))
                        if pages >= RESTART_AT_PAGES
                            && restarted_at != Some(pages)
                            && std::time::Instant::now() >= next_restart =>
                    {
                        let mut no_commits = writer.blocking_lock();
                        // An open group would keep the WAL from starting over.
                        let _ = no_commits.flush();
                        checkpoint("RESTART").map(|(gave_up, pages)| {
                            if gave_up {
                                next_restart = std::time::Instant::now() + RESTART_BACKOFF;
                            } else {
                                restarted_at = Some(pages);
                            }
                        })
                    }
                    other => other.map(|_| ()),
                };
                if let Err(error) = done {
                    tracing::warn!(%error, "SQLite checkpoint failed; retrying");
                }
            }
        })
        .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
    Ok(())
}
