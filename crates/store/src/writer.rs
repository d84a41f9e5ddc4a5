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
//! block an async worker for the copy and the fsyncs. So in the server a thread of its own
//! copies ([`SqliteWriter::start_checkpoints`]), and the writer only copies the last few
//! milliseconds of commits when that thread asks it to, so the WAL can start over. A
//! short-lived command leaves it to SQLite, which checkpoints when the last connection closes.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{Result, StoreError};
use crate::group_commit::{SqliteTx, WriterState};
use crate::open_sessions::OpenSessions;

/// Write statements kept prepared: every statement the store writes with, and room to spare.
const STATEMENT_CACHE: usize = 256;
/// How often the checkpoint thread copies committed pages from the WAL into the database
/// while commits come in. Small copies often keep the copy ahead of the writes; every 200 ms,
/// the writer's own checkpoint found more to copy and stalled commits for 15 ms at the median
/// instead of 4 (BENCHMARKS.md, cause 17).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(20);
/// How often it looks once nothing was committed between two rounds.
const IDLE_CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// WAL pages (4 KiB each) past which the WAL is to start over (see [`spawn_checkpointer`]).
const RESTART_AT_PAGES: i64 = 4_000;
/// Before the writer's own checkpoint is asked for, `PASSIVE` checkpoints run again until one
/// takes less than this, so that the writer's has only a few milliseconds of commits to copy;
/// at most [`CATCH_UP_ROUNDS`] of them.
const CAUGHT_UP_WITHIN: Duration = Duration::from_millis(1);
const CATCH_UP_ROUNDS: usize = 8;

pub(crate) struct SqliteWriter {
    path: std::path::PathBuf,
    state: Arc<Mutex<WriterState>>,
    /// Set by the checkpoint thread when the writer should finish a checkpoint itself.
    catch_up: Arc<AtomicBool>,
    /// Transactions waiting for the writer to begin: the writer's checkpoint waits for a
    /// moment when there are none (`WriterState::flush`).
    waiting: Arc<AtomicUsize>,
    /// How long a writer waits for its turn before the request is refused as overload.
    lock_timeout: Duration,
    open_sessions: Arc<OpenSessions>,
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
        let catch_up = Arc::new(AtomicBool::new(false));
        let waiting = Arc::new(AtomicUsize::new(0));
        let open_sessions = Arc::new(OpenSessions::default());
        open_sessions.watch(&connection);
        Ok(Self {
            path: path.to_owned(),
            state: Arc::new(Mutex::new(WriterState::new(
                connection,
                Arc::clone(&catch_up),
                Arc::clone(&waiting),
                Arc::clone(&open_sessions),
            ))),
            catch_up,
            waiting,
            lock_timeout,
            open_sessions,
        })
    }

    /// The sessions known open, which this writer's commits keep honest (`open_sessions.rs`).
    pub(crate) fn open_sessions(&self) -> Arc<OpenSessions> {
        Arc::clone(&self.open_sessions)
    }

    /// Starts the checkpoint thread, which ends once the writer is dropped. Only the server
    /// calls it: commands beside a running server must not checkpoint against it.
    pub(crate) fn start_checkpoints(&self) -> Result<()> {
        self.start_checkpoints_every([CHECKPOINT_EVERY, IDLE_CHECKPOINT_EVERY], RESTART_AT_PAGES)
    }

    fn start_checkpoints_every(
        &self,
        [busy_every, idle_every]: [Duration; 2],
        restart_at_pages: i64,
    ) -> Result<()> {
        let connection = open(&self.path)?;
        spawn_checkpointer(
            connection,
            Arc::downgrade(&self.state),
            Arc::clone(&self.catch_up),
            Pacing {
                busy_every,
                idle_every,
                restart_at_pages,
            },
        )
    }

    /// Starts a transaction on the writer, in the open group if there is one; `Busy` after
    /// the lock timeout (overload, or a transaction that waits for itself, which would
    /// otherwise hang).
    pub(crate) async fn begin(&self) -> Result<SqliteTx> {
        let state = self.wait().await?;
        SqliteTx::begin(Arc::clone(&self.state), state)
    }

    /// The writer for statements outside any transaction (`Db::write_once`): an open group is
    /// committed first, so they neither join it nor fail with it.
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
        /// Counts a waiting transaction until it has the writer, or gives up.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
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

/// Keeps the WAL short while the writer lives. Every [`CHECKPOINT_EVERY`] (every
/// [`IDLE_CHECKPOINT_EVERY`] once a round finds no new commit) a `PASSIVE` checkpoint copies,
/// beside the running writer, what no reader still needs, and syncs. The WAL starts over
/// from its beginning only when a write transaction begins on a WAL that is copied to its
/// end; under a steady stream of commits that never happens by itself, since each commit
/// lands while the copy runs, and the WAL grew by gigabytes in a minute of writes, with
/// reads slowing down.
///
/// So once the WAL holds [`RESTART_AT_PAGES`], the thread repeats `PASSIVE` until one
/// finishes within [`CAUGHT_UP_WITHIN`], then asks the writer to catch up itself: a group
/// commit runs a `PASSIVE` checkpoint on the writer connection right after its `COMMIT`
/// (`WriterState::flush`), copying the last few milliseconds of commits while no commit can
/// land, and the next transaction writes the WAL from its start. It is the first commit after
/// which no transaction waits to begin, so that none waits for the copy, or one 50 ms later
/// if writers never stop coming. The thread never takes the
/// writer's lock: when it did (a `RESTART` under the lock), every writer waited 6–24 ms each
/// time, mostly for the thread to be scheduled again around its syncs (BENCHMARKS.md, cause
/// 15). A long read (a backup, `audit verify`) keeps the WAL from starting over until it
/// ends, and nothing waits for it.
fn spawn_checkpointer(
    connection: Connection,
    writer: Weak<Mutex<WriterState>>,
    catch_up: Arc<AtomicBool>,
    pacing: Pacing,
) -> Result<()> {
    // A `PASSIVE` checkpoint: the pages in the WAL, and how long it took.
    let passive = move || -> rusqlite::Result<(i64, Duration)> {
        let started = std::time::Instant::now();
        let pages = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(1)
        })?;
        Ok((pages, started.elapsed()))
    };
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut every = pacing.idle_every;
            // The WAL's pages at the last round: unchanged means nothing was committed since.
            let mut pages_before = -1;
            loop {
                std::thread::sleep(every);
                if writer.strong_count() == 0 {
                    return;
                }
                let done = passive().map(|(pages, mut took)| {
                    every = if pages == pages_before {
                        pacing.idle_every
                    } else {
                        pacing.busy_every
                    };
                    pages_before = pages;
                    if pages < pacing.restart_at_pages {
                        return;
                    }
                    for _ in 0..CATCH_UP_ROUNDS {
                        if took < CAUGHT_UP_WITHIN {
                            break;
                        }
                        took = passive().map_or(Duration::ZERO, |(_, took)| took);
                    }
                    catch_up.store(true, Ordering::Relaxed);
                });
                if let Err(error) = done {
                    tracing::warn!(%error, "SQLite checkpoint failed; retrying");
                }
            }
        })
        .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
    Ok(())
}

/// When the checkpoint thread runs, and when it asks the writer to catch up.
struct Pacing {
    busy_every: Duration,
    idle_every: Duration,
    restart_at_pages: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The WAL starts over at this many pages in the test, and is checked this often, so
    /// that a second of writes goes through many rounds.
    const TEST_RESTART_AT: i64 = 200;
    const TEST_EVERY: Duration = Duration::from_millis(10);
    /// Pages (about 4 KiB each) written in all, back to back.
    const PAGES_WRITTEN: i64 = 16_000;

    /// Writers at once: transactions wait to begin, so the writer puts its checkpoint off
    /// (`CATCH_UP_PATIENCE`) and may meet the thread's.
    const WRITERS: i64 = 4;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_back_to_back_writes_the_wal_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let probe = rusqlite::Connection::open(&path).unwrap();
        probe
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (b BLOB NOT NULL);")
            .unwrap();
        let writer = Arc::new(SqliteWriter::open(&path, Duration::from_secs(5)).unwrap());
        writer
            .start_checkpoints_every([TEST_EVERY, TEST_EVERY], TEST_RESTART_AT)
            .unwrap();
        // Each transaction writes four rows of a page each, and nothing pauses between them,
        // so the checkpoint thread never finds the WAL copied to its end on its own.
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let writer = Arc::clone(&writer);
                tokio::spawn(async move {
                    for _ in 0..PAGES_WRITTEN / 4 / WRITERS {
                        let tx = writer.begin().await.unwrap();
                        for _ in 0..4 {
                            tx.connection()
                                .execute("INSERT INTO t (b) VALUES (zeroblob(3500))", [])
                                .unwrap();
                        }
                        tx.commit().await.unwrap();
                    }
                })
            })
            .collect();
        // The WAL's header gets new salts each time it starts over. A busy machine (a CI run)
        // may starve the thread for a while, so the test counts new starts rather than
        // bounding the file's size.
        let wal = dir.path().join("wal.db-wal");
        let salts = || -> Option<[u8; 8]> {
            use std::io::Read;
            let mut header = [0u8; 24];
            std::fs::File::open(&wal)
                .ok()?
                .read_exact(&mut header)
                .ok()?;
            header[16..24].try_into().ok()
        };
        let mut seen: Vec<[u8; 8]> = Vec::new();
        while !writers.iter().all(tokio::task::JoinHandle::is_finished) {
            if let Some(now) = salts()
                && seen.last() != Some(&now)
            {
                seen.push(now);
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        for writer in writers {
            writer.await.unwrap();
        }
        let starts = seen.len().saturating_sub(1);
        assert!(
            starts >= 2,
            "after {PAGES_WRITTEN} pages written back to back, the WAL started over {starts} \
             times"
        );
    }
}
