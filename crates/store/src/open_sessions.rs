//! On SQLite, sessions found open are remembered, so that the check every request makes (its
//! session open and its user active) reads the database only when something may have changed
//! (docs/adr/0008-open-sessions-in-memory.md).
//!
//! One process serves a SQLite file, and all of its writes go through the one writer
//! connection. A hook on that connection notes every update or delete of a `sessions` or
//! `users` row, whatever statement made it; the `COMMIT` that carries one moves the generation
//! on before anyone waiting for that commit is told, including a commit finished for a request
//! that was dropped meanwhile. An entry remembered under an earlier generation is not trusted
//! again. PostgreSQL, with several instances on one database, reads every time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;
use rusqlite::hooks::Action;
use uuid::Uuid;

/// At most this many sessions are remembered (about 64 bytes each); a full map starts over.
const REMEMBERED: usize = 50_000;

#[derive(Debug, Default)]
pub(crate) struct OpenSessions {
    /// Moves on after every commit that changed or deleted `sessions` or `users` rows.
    generation: AtomicU64,
    /// Set by the writer's hook when such a row changes; cleared by the next commit.
    touched: AtomicBool,
    open: Mutex<HashMap<(Uuid, Uuid), Remembered>>,
}

#[derive(Debug, Clone, Copy)]
struct Remembered {
    /// When the session expires, in microseconds since the epoch (as stored).
    expires_at: i64,
    generation: u64,
}

impl OpenSessions {
    /// Read before the database, and passed to [`remember`](Self::remember) after it: a change
    /// that commits in between leaves the entry already out of date.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Whether the session was found open, for this user, with nothing closed since, and has
    /// not expired by `now` (microseconds).
    pub(crate) fn is_known_open(&self, session_id: Uuid, user_id: Uuid, now: i64) -> bool {
        let current = self.generation();
        self.lock()
            .get(&(session_id, user_id))
            .is_some_and(|entry| entry.generation == current && entry.expires_at > now)
    }

    pub(crate) fn remember(&self, session_id: Uuid, user_id: Uuid, expires_at: i64, seen_at: u64) {
        let mut open = self.lock();
        if seen_at != self.generation() {
            return;
        }
        let key = (session_id, user_id);
        if open.len() >= REMEMBERED && !open.contains_key(&key) {
            open.clear();
        }
        open.insert(
            key,
            Remembered {
                expires_at,
                generation: seen_at,
            },
        );
    }

    /// Installs the hook that notes every update or delete of a `sessions` or `users` row
    /// made on `writer` (inserts cannot close an open session). SQLite does not call it for a
    /// `DELETE` without `WHERE` (its truncate optimization) or for rows an `INSERT OR REPLACE`
    /// deletes; the store makes neither on these tables.
    pub(crate) fn watch(self: &Arc<Self>, writer: &Connection) {
        let sessions = Arc::clone(self);
        writer.update_hook(Some(
            move |action: Action, _database: &str, table: &str, _row: i64| {
                if matches!(action, Action::SQLITE_UPDATE | Action::SQLITE_DELETE)
                    && matches!(table, "sessions" | "users")
                {
                    sessions.touched.store(true, Ordering::SeqCst);
                }
            },
        ));
    }

    /// Called by the writer after every `COMMIT` (or statement outside a transaction), before
    /// anyone waiting for it is told: if it changed sessions or users, nothing remembered so
    /// far is trusted again. After a failed commit it does the same, which costs only reads.
    pub(crate) fn after_commit(&self) {
        if self.touched.swap(false, Ordering::SeqCst) {
            self.something_closed();
        }
    }

    fn something_closed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(Uuid, Uuid), Remembered>> {
        // The map holds no invariant a panic could break half-way.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_known_open_only_until_something_closes_or_it_expires() {
        let sessions = OpenSessions::default();
        let (session, user) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(!sessions.is_known_open(session, user, 0));

        sessions.remember(session, user, 1_000, sessions.generation());
        assert!(sessions.is_known_open(session, user, 999));
        assert!(!sessions.is_known_open(session, user, 1_000), "expired");
        assert!(
            !sessions.is_known_open(session, Uuid::now_v7(), 0),
            "another user"
        );

        sessions.touched.store(true, Ordering::SeqCst);
        sessions.after_commit();
        assert!(!sessions.is_known_open(session, user, 0));
    }

    #[test]
    fn the_writers_hook_closes_on_updates_and_deletes_of_sessions_and_users_only() {
        let sessions = Arc::new(OpenSessions::default());
        let writer = Connection::open_in_memory().unwrap();
        writer
            .execute_batch(
                "CREATE TABLE sessions (id TEXT); CREATE TABLE users (id TEXT); \
                 CREATE TABLE partners (id TEXT);",
            )
            .unwrap();
        sessions.watch(&writer);
        let (session, user) = (Uuid::now_v7(), Uuid::now_v7());
        let remembered = |sessions: &OpenSessions| {
            sessions.remember(session, user, i64::MAX, sessions.generation());
        };
        let closes = |sql: &str| {
            remembered(&sessions);
            writer.execute_batch(sql).unwrap();
            sessions.after_commit();
            !sessions.is_known_open(session, user, 0)
        };
        assert!(!closes(
            "INSERT INTO sessions VALUES ('a'); INSERT INTO users VALUES ('b')"
        ));
        assert!(!closes("UPDATE partners SET id = 'c'"));
        assert!(closes("UPDATE sessions SET id = 'd'"));
        assert!(closes("UPDATE users SET id = 'e'"));
        assert!(closes("DELETE FROM users WHERE id = 'e'"));
    }

    #[test]
    fn a_check_that_raced_a_closing_commit_is_not_remembered_as_open() {
        let sessions = OpenSessions::default();
        let (session, user) = (Uuid::now_v7(), Uuid::now_v7());
        // The check reads the generation, then the database (still open)…
        let seen_at = sessions.generation();
        // …a logout commits meanwhile…
        sessions.touched.store(true, Ordering::SeqCst);
        sessions.after_commit();
        // …and the check's answer is kept, but under the old generation.
        sessions.remember(session, user, i64::MAX, seen_at);
        assert!(!sessions.is_known_open(session, user, 0));
    }
}
