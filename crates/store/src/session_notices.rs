//! On PostgreSQL, how an instance hears that a session may have closed on any instance, so that
//! it can remember open sessions as SQLite does (`open_sessions.rs`, ADR 0009).
//!
//! - **Triggers** on `sessions` and `users` send a notification on [`CHANNEL`] from every
//!   statement that can close a session or disable a user, whatever made it. PostgreSQL
//!   delivers a notification when its transaction commits, to every listener, in commit order.
//! - **A listener** per instance drops what it remembered on each one.
//! - **Heartbeats.** Every [`BEAT_EVERY`] the instance sends a notification of its own carrying
//!   the time it was sent. Hearing it back proves that every notification committed before that
//!   time has been heard. Remembered sessions are trusted only while a heartbeat sent within
//!   `TRUST_FOR` has come back.
//! - **The closing side waits.** A transaction that closes sessions answers [`CLOSE_SETTLES`]
//!   after its `COMMIT` (`Tx::commit`). By then every instance has either heard it, or heard no
//!   heartbeat recent enough to trust its memory, and reads the database.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPoolOptions};
use sqlx::{AnyPool, ConnectOptions};

use crate::error::Result;
use crate::open_sessions::{OpenSessions, TRUST_FOR};

/// The notification channel, one per database.
const CHANNEL: &str = "steelyard_sessions";

/// How often an instance sends itself a heartbeat.
const BEAT_EVERY: Duration = Duration::from_millis(20);

/// How long a transaction that closed sessions waits after its `COMMIT` before it answers:
/// [`TRUST_FOR`], and a margin for the clocks of two machines running at slightly different
/// rates.
pub(crate) const CLOSE_SETTLES: Duration = TRUST_FOR.saturating_add(Duration::from_millis(20));

/// How long the listener and the heartbeats wait after a failure before they connect again,
/// and the longest a heartbeat may take.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long the listener waits after its connection dropped before it reads again.
const RECONNECT_AFTER: Duration = Duration::from_millis(100);
/// The longest a connection may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);
/// A listener that has not heard heartbeats sent successfully for this long is replaced.
const DEAF_AFTER: Duration = Duration::from_secs(2);

/// The triggers, each created unless this schema's table has it. Statement triggers: they
/// fire once per statement, and `UPDATE OF` only for statements that set a column the session
/// check reads (a failed-login count or a new password hash leaves remembered sessions alone).
/// One simple query is one transaction, so the advisory lock keeps instances that start at
/// once from creating them twice; once they exist nothing is locked but that, so a start never
/// waits for the tables. A changed definition will take new names.
const TRIGGERS: &str = "\
SELECT pg_advisory_xact_lock(7461636877);
DO $do$
BEGIN
    SET LOCAL lock_timeout = '10s';
    CREATE OR REPLACE FUNCTION steelyard_sessions_closed_v1() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM pg_notify('steelyard_sessions', 'closed');
        RETURN NULL;
    END $fn$;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'sessions'::regclass
                   AND tgname = 'steelyard_sessions_closed_v1') THEN
        CREATE TRIGGER steelyard_sessions_closed_v1
            AFTER UPDATE OF id, user_id, revoked_at, expires_at OR DELETE OR TRUNCATE
            ON sessions FOR EACH STATEMENT EXECUTE FUNCTION steelyard_sessions_closed_v1();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'users'::regclass
                   AND tgname = 'steelyard_users_closed_v1') THEN
        CREATE TRIGGER steelyard_users_closed_v1
            AFTER UPDATE OF id, status OR DELETE OR TRUNCATE
            ON users FOR EACH STATEMENT EXECUTE FUNCTION steelyard_sessions_closed_v1();
    END IF;
END $do$;";

/// Both triggers on this schema's tables, enabled for ordinary sessions (`O`) or always
/// (`A`): disabled (`D`) or replica-only (`R`) ones fire on no ordinary write.
const TRIGGERS_ENABLED: &str = "SELECT COUNT(*) FROM pg_trigger WHERE tgenabled IN ('O', 'A') \
     AND ((tgrelid = 'sessions'::regclass AND tgname = 'steelyard_sessions_closed_v1') \
       OR (tgrelid = 'users'::regclass AND tgname = 'steelyard_users_closed_v1'))";

/// Where to listen; kept apart from `Db`'s `Debug`, since the URL may hold a password.
pub(crate) struct SessionNotices {
    options: PgConnectOptions,
    /// Whether both triggers were found enabled after the migrations; without them nothing
    /// remembered is trusted.
    triggers_on: AtomicBool,
}

impl std::fmt::Debug for SessionNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionNotices")
    }
}

impl SessionNotices {
    pub(crate) fn new(url: &str) -> Result<Self> {
        let options =
            PgConnectOptions::from_str(url)?.log_statements(tracing::log::LevelFilter::Trace);
        Ok(Self {
            options,
            triggers_on: AtomicBool::new(false),
        })
    }

    /// Creates the triggers unless they exist (after the migrations, on every start), and
    /// notes whether both are enabled: a restore with `--disable-triggers` or an `ALTER TABLE
    /// … DISABLE TRIGGER` would leave closes unheard.
    pub(crate) async fn install(&self, pool: &AnyPool) -> Result<()> {
        sqlx::raw_sql(TRIGGERS).execute(pool).await?;
        let (enabled,): (i64,) = sqlx::query_as(TRIGGERS_ENABLED).fetch_one(pool).await?;
        self.triggers_on.store(enabled == 2, Ordering::SeqCst);
        Ok(())
    }

    /// Starts the listener and the heartbeats; both end once `sessions` is dropped. Without
    /// the triggers it starts nothing, and every session check reads the database.
    pub(crate) fn start(&self, sessions: &Arc<OpenSessions>) {
        if !self.triggers_on.load(Ordering::SeqCst) {
            tracing::warn!(
                "the triggers that announce closed sessions are missing or disabled: every session check reads the database"
            );
            return;
        }
        let instance = uuid::Uuid::now_v7().simple().to_string();
        tokio::spawn(listen(
            self.options.clone(),
            Arc::downgrade(sessions),
            instance.clone(),
        ));
        tokio::spawn(beat(
            self.options.clone(),
            Arc::downgrade(sessions),
            instance,
        ));
    }
}

/// Hears notifications until `sessions` is dropped. A lost connection may have lost
/// notifications, so the remembered sessions go both when the loss is seen and once the
/// listener hears again. A listener that stops hearing its own heartbeats for
/// [`DEAF_AFTER`], while they are being sent, is replaced.
async fn listen(options: PgConnectOptions, sessions: Weak<OpenSessions>, instance: String) {
    let Some(mut stopped) = sessions.upgrade().map(|open| open.stopped()) else {
        return;
    };
    let own_beat = format!("beat {instance} ");
    let mut listener: Option<(PgListener, u64)> = None;
    let mut lost = true;
    // No strong handle is held across a wait, so that dropping the database stops this task.
    loop {
        if listener.is_none() {
            let connected = tokio::select! {
                _ = stopped.changed() => return,
                connected = tokio::time::timeout(CONNECT_WITHIN, connect_listener(&options)) => connected,
            };
            let Some(open) = sessions.upgrade() else {
                return;
            };
            match connected {
                Ok(Ok(connected)) => listener = Some((connected, open.clock())),
                Ok(Err(error)) => warn_and_forget(&open, &error.to_string()),
                Err(_) => warn_and_forget(&open, "connecting took too long"),
            }
            drop(open);
            if listener.is_none() && !pause(&mut stopped, RETRY_AFTER).await {
                return;
            }
            continue;
        }
        let Some((connected, since)) = listener.as_mut() else {
            continue;
        };
        let since = *since;
        // `try_recv` is cancelled only where the listener is dropped with it: it is not
        // cancel-safe.
        let heard = tokio::select! {
            _ = stopped.changed() => return,
            () = deaf(&sessions, since) => Err(sqlx::Error::Protocol("own heartbeats are not heard back".into())),
            heard = connected.try_recv() => heard,
        };
        let Some(open) = sessions.upgrade() else {
            return;
        };
        match heard {
            Ok(Some(notification)) => {
                if lost {
                    open.something_closed();
                    lost = false;
                }
                let payload = notification.payload();
                match payload.strip_prefix(&own_beat) {
                    Some(sent_at) => {
                        if let Ok(sent_at) = sent_at.parse() {
                            open.heard_beat(sent_at);
                        }
                    }
                    // Another instance's heartbeat closes nothing.
                    None if payload.starts_with("beat ") => {}
                    None => open.something_closed(),
                }
            }
            // The connection dropped; `try_recv` has connected again, or the next one will.
            // What was sent meanwhile is lost.
            Ok(None) => {
                open.something_closed();
                lost = true;
                drop(open);
                if !pause(&mut stopped, RECONNECT_AFTER).await {
                    return;
                }
            }
            Err(error) => {
                warn_and_forget(&open, &error.to_string());
                lost = true;
                listener = None;
                drop(open);
                if !pause(&mut stopped, RETRY_AFTER).await {
                    return;
                }
            }
        }
    }
}

/// Completes once heartbeats sent successfully for over [`DEAF_AFTER`] have not come back to
/// a listener connected at `since`.
async fn deaf(sessions: &Weak<OpenSessions>, since: u64) {
    let limit = u64::try_from(DEAF_AFTER.as_micros()).unwrap_or(u64::MAX);
    // Checked first: the listener starts this anew after every notification it hears.
    loop {
        let Some(open) = sessions.upgrade() else {
            return;
        };
        let heard = open.beat_heard_at().max(since);
        if open.beat_sent_at().saturating_sub(heard) > limit {
            return;
        }
        drop(open);
        tokio::time::sleep(DEAF_AFTER / 4).await;
    }
}

fn warn_and_forget(sessions: &OpenSessions, error: &str) {
    tracing::warn!(%error, "listening for closed sessions failed; reading each from the database until it works again");
    sessions.something_closed();
}

/// Sleeps `how_long`; false if the instance stopped meanwhile.
async fn pause(stopped: &mut tokio::sync::watch::Receiver<()>, how_long: Duration) -> bool {
    tokio::select! {
        _ = stopped.changed() => false,
        () = tokio::time::sleep(how_long) => true,
    }
}

async fn connect_listener(options: &PgConnectOptions) -> Result<PgListener> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(CONNECT_WITHIN)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Sends a heartbeat every [`BEAT_EVERY`] while session checks come in, until `sessions` is
/// dropped. It runs on a connection of its own, so that it never waits for a pooled one under
/// load, and commits without waiting for the disk: a heartbeat needs no durability.
async fn beat(options: PgConnectOptions, sessions: Weak<OpenSessions>, instance: String) {
    let options = options.options([("synchronous_commit", "off")]);
    let mut ticks = tokio::time::interval(BEAT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connection: Option<PgConnection> = None;
    loop {
        ticks.tick().await;
        let Some(open) = sessions.upgrade() else {
            return;
        };
        if !open.checked_lately() {
            continue;
        }
        let sent_at = open.clock();
        // No strong handle across the wait, so that dropping the database stops this task.
        drop(open);
        let sent = match connection.as_mut() {
            Some(connection) => {
                let payload = format!("beat {instance} {sent_at}");
                let notify = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(payload)
                    .execute(connection);
                match tokio::time::timeout(RETRY_AFTER, notify).await {
                    Ok(Ok(_)) => {
                        if let Some(open) = sessions.upgrade() {
                            open.beat_sent(sent_at);
                        }
                        Ok(())
                    }
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(_) => Err("the heartbeat took too long".to_owned()),
                }
            }
            None => match tokio::time::timeout(CONNECT_WITHIN, options.connect()).await {
                Ok(Ok(connected)) => {
                    connection = Some(connected);
                    Ok(())
                }
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err("connecting took too long".to_owned()),
            },
        };
        if let Err(error) = sent {
            tracing::warn!(%error, "a session heartbeat failed; reading sessions from the database until one is heard");
            connection = None;
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }
}
