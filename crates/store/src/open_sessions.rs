//! On SQLite, sessions found open are remembered, so that the check every request makes (its
//! session open and its user active) reads the database only when something may have changed
//! (docs/adr/0008-open-sessions-in-memory.md).
//!
//! One process serves a SQLite file, so every change that can close a session or disable a
//! user commits in this process. Each such transaction marks itself
//! ([`Tx::closes_sessions`](crate::Tx::closes_sessions)) and, once committed and before it is
//! answered, moves the generation on; an entry remembered under an earlier generation is not
//! trusted again. PostgreSQL, with several instances on one database, reads every time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

/// At most this many sessions are remembered (about 64 bytes each); a full map starts over.
const REMEMBERED: usize = 50_000;

#[derive(Debug, Default)]
pub(crate) struct OpenSessions {
    /// Moves on after every commit that closed sessions or disabled users.
    generation: AtomicU64,
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
        if open.len() >= REMEMBERED {
            open.clear();
        }
        open.insert(
            (session_id, user_id),
            Remembered {
                expires_at,
                generation: seen_at,
            },
        );
    }

    /// Called after a commit that closed sessions or disabled users: nothing remembered so far
    /// is trusted again.
    pub(crate) fn something_closed(&self) {
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

        sessions.something_closed();
        assert!(!sessions.is_known_open(session, user, 0));
    }

    #[test]
    fn a_check_that_raced_a_closing_commit_is_not_remembered_as_open() {
        let sessions = OpenSessions::default();
        let (session, user) = (Uuid::now_v7(), Uuid::now_v7());
        // The check reads the generation, then the database (still open)…
        let seen_at = sessions.generation();
        // …a logout commits meanwhile…
        sessions.something_closed();
        // …and the check's answer is kept, but under the old generation.
        sessions.remember(session, user, i64::MAX, seen_at);
        assert!(!sessions.is_known_open(session, user, 0));
    }
}
