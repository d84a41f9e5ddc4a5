//! On SQLite, sessions found open are remembered, so that the check every request makes (its
//! session open and its user active) reads the database only when something may have changed
//! (docs/adr/0008-open-sessions-in-memory.md).
//!
//! One process serves a SQLite file, and all of its writes go through the one writer
//! connection. A hook on that connection notes every update or delete of a `sessions` or
//! `users` row, whatever statement made it; the `COMMIT` that carries one moves the generation
//! on before anyone waiting for that commit is told, including a commit finished for a request
//! that was dropped meanwhile. An entry remembered under an earlier generation is not trusted
//! again.
//!
//! On PostgreSQL several instances serve one database, so no instance sees every commit. There
//! the generation moves when this instance hears, through PostgreSQL's notifications, that a
//! session may have closed anywhere, and remembered sessions are trusted only while the
//! instance can show that it hears them promptly (`session_notices.rs`, ADR 0009).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::hooks::Action;
use uuid::Uuid;

/// At most this many sessions are remembered (about 64 bytes each); a full map starts over.
const REMEMBERED: usize = 50_000;

/// PostgreSQL: heartbeats go on this long after the last session check, then pause.
const KEEP_BEATING_FOR: Duration = Duration::from_secs(1);

/// PostgreSQL: remembered sessions are trusted only while a heartbeat this instance sent at
/// most this long ago has come back (`session_notices.rs`).
pub(crate) const TRUST_FOR: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
pub(crate) struct OpenSessions {
    /// Moves on after every commit that changed or deleted `sessions` or `users` rows.
    generation: AtomicU64,
    /// Set by the writer's hook when such a row changes; cleared by the next commit.
    touched: AtomicBool,
    open: Mutex<HashMap<(Uuid, Uuid), Remembered>>,
    /// Checks answered from memory so far.
    answered: AtomicU64,
    /// PostgreSQL only: the heartbeats this instance heard back (None on SQLite, where the
    /// writer sees every commit itself).
    heard: Option<Heard>,
}

/// When this instance last heard its own heartbeat through PostgreSQL's notifications.
#[derive(Debug)]
struct Heard {
    started: Instant,
    /// When (microseconds after `started`, plus one; 0 for never) the latest heartbeat heard
    /// back was sent. Every notification committed before it was sent has been heard.
    beat_sent_at: AtomicU64,
    /// When the latest heartbeat was sent successfully (the listener's watchdog).
    last_sent: AtomicU64,
    /// When a session check last came in: an idle instance sends no heartbeats.
    last_checked: AtomicU64,
    /// Dropped with the sessions: the listener then stops (`session_notices.rs`).
    stop: tokio::sync::watch::Sender<()>,
}

#[derive(Debug, Clone, Copy)]
struct Remembered {
    /// When the session expires, in microseconds since the epoch (as stored).
    expires_at: i64,
    generation: u64,
}

impl OpenSessions {
    /// For PostgreSQL: nothing remembered is trusted until heartbeats are heard
    /// ([`Self::heard_beat`]).
    pub(crate) fn heard_through_notifications() -> Self {
        Self {
            heard: Some(Heard {
                started: Instant::now(),
                beat_sent_at: AtomicU64::new(0),
                last_sent: AtomicU64::new(0),
                last_checked: AtomicU64::new(0),
                stop: tokio::sync::watch::channel(()).0,
            }),
            ..Self::default()
        }
    }

    /// Now, on the clock heartbeats carry: microseconds since these sessions were created.
    pub(crate) fn clock(&self) -> u64 {
        self.heard.as_ref().map_or(0, |heard| {
            u64::try_from(heard.started.elapsed().as_micros()).unwrap_or(u64::MAX)
        })
    }

    /// Changes (to an error) once these sessions are dropped.
    pub(crate) fn stopped(&self) -> tokio::sync::watch::Receiver<()> {
        match &self.heard {
            Some(heard) => heard.stop.subscribe(),
            None => tokio::sync::watch::channel(()).1,
        }
    }

    /// A heartbeat sent at `sent_at` ([`Self::clock`]) came back: every notification
    /// committed before then has been heard.
    pub(crate) fn heard_beat(&self, sent_at: u64) {
        if let Some(heard) = &self.heard {
            // Never later than now: a bogus time must not make memory trusted for long.
            let sent_at = sent_at.min(self.clock());
            heard
                .beat_sent_at
                .fetch_max(sent_at.saturating_add(1), Ordering::SeqCst);
        }
    }

    /// When the latest heartbeat heard back was sent ([`Self::clock`]; 0 for none).
    pub(crate) fn beat_heard_at(&self) -> u64 {
        self.heard.as_ref().map_or(0, |heard| {
            heard.beat_sent_at.load(Ordering::SeqCst).saturating_sub(1)
        })
    }

    /// A heartbeat sent at `sent_at` reached PostgreSQL.
    pub(crate) fn beat_sent(&self, sent_at: u64) {
        if let Some(heard) = &self.heard {
            heard.last_sent.fetch_max(sent_at, Ordering::Relaxed);
        }
    }

    /// When the latest heartbeat that reached PostgreSQL was sent.
    pub(crate) fn beat_sent_at(&self) -> u64 {
        self.heard
            .as_ref()
            .map_or(0, |heard| heard.last_sent.load(Ordering::Relaxed))
    }

    /// Whether a session check came in within the last [`KEEP_BEATING_FOR`].
    pub(crate) fn checked_lately(&self) -> bool {
        let Some(heard) = &self.heard else {
            return false;
        };
        let window = u64::try_from(KEEP_BEATING_FOR.as_micros()).unwrap_or(u64::MAX);
        self.clock()
            .saturating_sub(heard.last_checked.load(Ordering::Relaxed))
            < window
    }

    /// Whether what is remembered may be trusted at `now` ([`Self::clock`]): always on SQLite;
    /// on PostgreSQL only if a heartbeat sent at most [`TRUST_FOR`] before `now` came back.
    fn trusted_at(&self, now: u64) -> bool {
        let Some(heard) = &self.heard else {
            return true;
        };
        let last = heard.beat_sent_at.load(Ordering::SeqCst);
        let window = u64::try_from(TRUST_FOR.as_micros()).unwrap_or(u64::MAX);
        last != 0 && now.saturating_sub(last - 1) <= window
    }

    /// Read before the database, and passed to [`remember`](Self::remember) after it: a change
    /// that commits in between leaves the entry already out of date.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Whether the session was found open, for this user, with nothing closed since, and has
    /// not expired by `now` (microseconds).
    pub(crate) fn is_known_open(&self, session_id: Uuid, user_id: Uuid, now: i64) -> bool {
        let clock = self.clock();
        if let Some(heard) = &self.heard {
            heard.last_checked.store(clock, Ordering::Relaxed);
        }
        if !self.trusted_at(clock) {
            return false;
        }
        let current = self.generation();
        let known = self
            .lock()
            .get(&(session_id, user_id))
            .is_some_and(|entry| entry.generation == current && entry.expires_at > now);
        if known {
            self.answered.fetch_add(1, Ordering::Relaxed);
        }
        known
    }

    /// How many checks were answered from memory.
    pub(crate) fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
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

    /// A session may have closed, or this instance may have missed hearing of it: nothing
    /// remembered so far is trusted again.
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

        sessions.touched.store(true, Ordering::SeqCst);
        sessions.after_commit();
        assert!(!sessions.is_known_open(session, user, 0));
    }

    #[test]
    fn on_postgresql_what_is_remembered_is_trusted_only_while_heartbeats_come_back() {
        let sessions = OpenSessions::heard_through_notifications();
        let (session, user) = (Uuid::now_v7(), Uuid::now_v7());
        sessions.remember(session, user, i64::MAX, sessions.generation());
        assert!(
            !sessions.is_known_open(session, user, 0),
            "no heartbeat heard"
        );

        sessions.heard_beat(sessions.clock());
        assert!(sessions.is_known_open(session, user, 0));

        let window = u64::try_from(TRUST_FOR.as_micros()).unwrap();
        let sent = sessions.clock();
        sessions.heard_beat(sent);
        assert!(sessions.trusted_at(sent + window));
        assert!(
            !sessions.trusted_at(sent + window + 1),
            "heard too long ago"
        );
        sessions.heard_beat(sent / 2);
        assert!(
            !sessions.trusted_at(sent + window + 1),
            "an older heartbeat heard late proves nothing newer"
        );
        sessions.heard_beat(u64::MAX);
        assert!(
            !sessions.trusted_at(sessions.clock() + window + 1_000),
            "a heartbeat from the future counts as sent now"
        );

        sessions.something_closed();
        sessions.heard_beat(sessions.clock());
        assert!(!sessions.is_known_open(session, user, 0), "closed");
        assert!(OpenSessions::default().trusted_at(u64::MAX), "SQLite");
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
