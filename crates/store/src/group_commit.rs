//! Group commit on SQLite's one writer: a transaction that finishes while others wait for the
//! writer leaves its work in the open database transaction, the waiting ones add theirs, and
//! one `COMMIT` covers them all (docs/adr/0007-sqlite-group-commit.md).
//!
//! Each service transaction ("member") runs inside a `SAVEPOINT` of the group's transaction,
//! so a member that fails or is dropped rolls back only its own work. A member that finishes
//! releases its savepoint and the writer, and queues for the writer again. The writer's lock
//! is first come, first served, so by the time a member gets it back, every transaction that
//! was waiting when it finished has run and joined; it then commits the group and tells the
//! others. With nobody waiting it gets the writer back at once: an idle server commits each
//! transaction alone, as before. No member is answered before its group is committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::error::Result;
use crate::open_sessions::OpenSessions;

/// The most members one `COMMIT` covers: it bounds how long the first one waits for the rest.
const GROUP_LIMIT: usize = 32;

/// How long the checkpoint the thread asked for waits for a moment when no transaction waits
/// to begin, before it runs anyway.
const CATCH_UP_PATIENCE: Duration = Duration::from_millis(50);

/// How a group ended, as each member is told it.
type Outcome = std::result::Result<(), rusqlite::Error>;

/// The writer connection and the group transaction open on it, if any.
pub(crate) struct WriterState {
    connection: Connection,
    group: Option<Group>,
    /// Set by the checkpoint thread: a group commit also checkpoints (`writer.rs`).
    catch_up: Arc<AtomicBool>,
    /// When a commit first saw `catch_up` set but left it for later, because transactions
    /// were waiting to begin.
    catch_up_seen: Option<Instant>,
    /// Transactions waiting for the writer to begin (`SqliteWriter::wait`).
    waiting: Arc<AtomicUsize>,
    /// Groups committed so far (tests read it to see that transactions were grouped).
    commits: u64,
    /// Told after every commit, before its members are (`open_sessions.rs`).
    open_sessions: Arc<OpenSessions>,
}

/// An open group transaction.
struct Group {
    /// Members whose work is released into the transaction and who wait for its end.
    members: usize,
    ended: watch::Sender<Option<Outcome>>,
}

impl WriterState {
    pub(crate) fn new(
        connection: Connection,
        catch_up: Arc<AtomicBool>,
        waiting: Arc<AtomicUsize>,
        open_sessions: Arc<OpenSessions>,
    ) -> Self {
        Self {
            connection,
            group: None,
            catch_up,
            catch_up_seen: None,
            waiting,
            commits: 0,
            open_sessions,
        }
    }

    /// Runs one statement outside any transaction (`Db::write_once`; the caller flushed any
    /// open group first). How many rows it changed.
    pub(crate) fn execute_alone(&self, sql: &str, args: &[crate::sql::Value]) -> Result<u64> {
        let changed = crate::sql::sqlite_execute(&self.connection, sql, args);
        self.open_sessions.after_commit();
        changed
    }

    #[cfg(test)]
    pub(crate) fn commits(&self) -> u64 {
        self.commits
    }

    /// Commits the open group, if any, and tells its members how it ended. Whoever holds the
    /// writer with no member running may call it: a member that got the writer back, or
    /// `SqliteWriter::lock` before statements outside any transaction. After a commit it also
    /// runs the checkpoint the checkpoint thread asked for, when it is due
    /// ([`Self::catch_up_due`]).
    pub(crate) fn flush(&mut self) -> Outcome {
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        let outcome = if self.connection.is_autocommit() {
            Err(rolled_back())
        } else {
            self.connection.execute_batch("COMMIT").inspect_err(|_| {
                if !self.connection.is_autocommit() {
                    let _ = self.connection.execute_batch("ROLLBACK");
                }
            })
        };
        // Before anyone is told, so that no request after this commit trusts a session it
        // closed; this runs even when the member that asked for it was dropped.
        self.open_sessions.after_commit();
        group.ended.send_replace(Some(shared(&outcome)));
        if outcome.is_ok() {
            self.commits += 1;
            if self.catch_up_due() {
                self.checkpoint();
            }
        }
        outcome
    }

    /// Whether to run the checkpoint the thread asked for after this commit: when no
    /// transaction waits to begin, so that nobody waits for it, or once it has been put off
    /// for [`CATCH_UP_PATIENCE`] (a writer that is never idle).
    fn catch_up_due(&mut self) -> bool {
        if !self.catch_up.load(Ordering::Relaxed) {
            return false;
        }
        let seen = *self.catch_up_seen.get_or_insert_with(Instant::now);
        if self.waiting.load(Ordering::Relaxed) > 0 && seen.elapsed() < CATCH_UP_PATIENCE {
            return false;
        }
        self.catch_up.store(false, Ordering::Relaxed);
        self.catch_up_seen = None;
        true
    }

    /// Copies the last commits from the WAL into the database while nothing can commit, so
    /// that the next transaction writes the WAL from its start. The group's members are told
    /// their outcome first; only the caller, and writers that queue meanwhile, wait for this.
    /// If the checkpoint thread is copying at that moment, this one finds SQLite's checkpoint
    /// lock taken and does nothing; the request then stands for the next commit, or the WAL
    /// would not start over this time.
    fn checkpoint(&mut self) {
        let busy = self
            .connection
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                row.get::<_, i64>(0)
            });
        match busy {
            Ok(0) => {}
            Ok(_) => self.catch_up.store(true, Ordering::Relaxed),
            Err(error) => tracing::warn!(%error, "the SQLite writer's checkpoint failed"),
        }
    }

    /// Ends the open group without committing: its members are told `error`.
    fn fail_group(&mut self, error: &rusqlite::Error) {
        if let Some(group) = self.group.take() {
            tracing::error!(%error, members = group.members, "a SQLite group transaction failed");
            group.ended.send_replace(Some(Err(shared_error(error))));
        }
        if !self.connection.is_autocommit()
            && let Err(error) = self.connection.execute_batch("ROLLBACK")
        {
            tracing::error!(%error, "rolling back a failed SQLite group transaction failed");
        }
    }

    /// After a member's work is undone: a group holding nobody else's work ends here.
    fn end_if_empty(&mut self) {
        if self.group.as_ref().is_some_and(|group| group.members == 0) {
            self.group = None;
            if let Err(error) = self.connection.execute_batch("ROLLBACK") {
                tracing::error!(%error, "rolling back an empty SQLite group transaction failed");
            }
        }
    }
}

/// One service transaction on the writer: a savepoint in the group's transaction, from
/// [`SqliteTx::begin`] until [`SqliteTx::commit`]. Dropped before that, its work is undone.
pub(crate) struct SqliteTx {
    state: OwnedMutexGuard<WriterState>,
    writer: Arc<Mutex<WriterState>>,
    open: bool,
}

impl std::fmt::Debug for SqliteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTx")
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl SqliteTx {
    /// Joins the open group, or opens one (`BEGIN IMMEDIATE`), on the writer `state` just
    /// taken from `writer`.
    pub(crate) fn begin(
        writer: Arc<Mutex<WriterState>>,
        mut state: OwnedMutexGuard<WriterState>,
    ) -> Result<Self> {
        if state.group.is_some() && state.connection.is_autocommit() {
            // SQLite rolled the group back on an error of its own (a full disk, say).
            state.fail_group(&rolled_back());
        }
        if state.group.is_none() {
            if !state.connection.is_autocommit() {
                // Only if an earlier rollback failed: end that transaction rather than refuse
                // every write from now on.
                state.connection.execute_batch("ROLLBACK")?;
            }
            state.connection.execute_batch("BEGIN IMMEDIATE")?;
            let (ended, _) = watch::channel(None);
            state.group = Some(Group { members: 0, ended });
        }
        if let Err(error) = state.connection.execute_batch("SAVEPOINT member") {
            state.end_if_empty();
            return Err(error.into());
        }
        Ok(Self {
            state,
            writer,
            open: true,
        })
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.state.connection
    }

    /// Adds this transaction's work to its group and returns once the group is committed.
    /// If the group fails, every member in it fails with the same error.
    pub(crate) async fn commit(mut self) -> Result<()> {
        let state = &mut *self.state;
        if state.connection.is_autocommit() {
            // A statement of this transaction failed so badly that SQLite ended the group.
            self.open = false;
            let error = rolled_back();
            state.fail_group(&error);
            return Err(error.into());
        }
        state.connection.execute_batch("RELEASE member")?;
        self.open = false;
        let Some(group) = state.group.as_mut() else {
            return Err(rolled_back().into());
        };
        group.members += 1;
        if group.members >= GROUP_LIMIT {
            return Ok(state.flush()?);
        }
        let ended = group.ended.subscribe();
        let writer = Arc::clone(&self.writer);
        drop(self); // frees the writer for the transactions waiting for it
        GroupWait {
            writer,
            ended,
            settled: false,
        }
        .until_committed()
        .await
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let state = &mut *self.state;
        if state.connection.is_autocommit() {
            state.fail_group(&rolled_back());
            return;
        }
        match state
            .connection
            .execute_batch("ROLLBACK TO member; RELEASE member")
        {
            Ok(()) => state.end_if_empty(),
            Err(error) => state.fail_group(&error),
        }
    }
}

/// A member waiting for its group's end.
struct GroupWait {
    writer: Arc<Mutex<WriterState>>,
    ended: watch::Receiver<Option<Outcome>>,
    settled: bool,
}

impl GroupWait {
    async fn until_committed(mut self) -> Result<()> {
        let mut told = self.ended.clone();
        let outcome = tokio::select! {
            biased;
            ended = told.wait_for(Option::is_some) => {
                ended.ok().and_then(|outcome| outcome.as_ref().map(shared))
            }
            mut state = Arc::clone(&self.writer).lock_owned() => {
                // Every transaction that waited when this one finished has run: commit.
                let ended = self.ended.borrow().as_ref().map(shared);
                Some(ended.unwrap_or_else(|| state.flush()))
            }
        };
        self.settled = true;
        // No outcome: the group's sender went away without a word (a panic mid-flush).
        outcome.unwrap_or_else(|| Err(rolled_back()))?;
        Ok(())
    }
}

impl Drop for GroupWait {
    /// A member cancelled while its group is open (its client went away) still has its work
    /// in the group: someone must commit it, or it waits for the next write.
    fn drop(&mut self) {
        if self.settled || self.ended.borrow().is_some() {
            return;
        }
        let writer = Arc::clone(&self.writer);
        let ended = self.ended.clone();
        let flush = move |mut state: OwnedMutexGuard<WriterState>| {
            if ended.borrow().is_none() {
                let _ = state.flush();
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { flush(writer.lock_owned().await) });
            }
            Err(_) => flush(writer.blocking_lock_owned()),
        }
    }
}

fn rolled_back() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("the group transaction was rolled back".into()),
    )
}

/// The same outcome for another member (`rusqlite::Error` is not `Clone`).
fn shared(outcome: &Outcome) -> Outcome {
    outcome.as_ref().map(|_| ()).map_err(shared_error)
}

fn shared_error(error: &rusqlite::Error) -> rusqlite::Error {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests;
