//! Sessions and refresh tokens: issue, rotate (with reuse detection), revoke.

use uuid::Uuid;

use crate::db::Db;
use crate::error::Result;
use crate::sql::{Columns, FromColumns, Value, query};
use crate::time::{now, parse_uuid, to_micros};
use crate::tx::Tx;

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshLookup {
    /// Unknown token, or its session is revoked or expired.
    Invalid,
    /// The token was already rotated: someone replayed it. The session is now revoked.
    Reused { user_id: Uuid, session_id: Uuid },
    /// Rotated: the old token is spent and `new_token_hash` stored in its place.
    Rotated {
        user_id: Uuid,
        session_id: Uuid,
        org_id: Option<Uuid>,
    },
}

/// Opens a session acting in `org_id` (None: a super-admin at platform level).
pub async fn create(
    tx: &mut Tx,
    session_id: Uuid,
    user_id: Uuid,
    org_id: Option<Uuid>,
    lifetime_secs: i64,
    token_hash: &str,
) -> Result<()> {
    let created = to_micros(now());
    query("INSERT INTO sessions (id, user_id, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
    .bind(session_id.to_string())
    .bind(user_id.to_string())
    .bind(org_id.map(|o| o.to_string()))
    .bind(created)
    .bind(created + lifetime_secs * 1_000_000)
    .execute(tx)
    .await?;
    insert_token(tx, session_id, token_hash).await
}

async fn insert_token(tx: &mut Tx, session_id: Uuid, token_hash: &str) -> Result<()> {
    query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
        .bind(token_hash)
        .bind(session_id.to_string())
        .bind(to_micros(now()))
        .execute(tx)
        .await?;
    Ok(())
}

/// Session id, user id, revoked at, expires at, token used at, organization id.
type RefreshRow = (
    String,
    String,
    Option<i64>,
    i64,
    Option<i64>,
    Option<String>,
);

/// Spends `token_hash` and stores `new_token_hash`, or detects a replay and revokes the family.
pub async fn rotate(tx: &mut Tx, token_hash: &str, new_token_hash: &str) -> Result<RefreshLookup> {
    let row: Option<RefreshRow> = query(
        "SELECT s.id, s.user_id, s.revoked_at, s.expires_at, t.used_at, s.org_id \
         FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(tx)
    .await?;
    let Some((session_id, user_id, revoked, expires_at, used, org_id)) = row else {
        return Ok(RefreshLookup::Invalid);
    };
    let session_id = parse_uuid(&session_id)?;
    let user_id = parse_uuid(&user_id)?;
    let org_id = org_id.as_deref().map(parse_uuid).transpose()?;
    if revoked.is_some() || expires_at < to_micros(now()) {
        return Ok(RefreshLookup::Invalid);
    }
    if used.is_some() {
        revoke(tx, session_id, "refresh token reused").await?;
        return Ok(RefreshLookup::Reused {
            user_id,
            session_id,
        });
    }
    let spent =
        query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
            .bind(to_micros(now()))
            .bind(token_hash)
            .execute(tx)
            .await?;
    if spent == 0 {
        // Spent by a concurrent request a moment ago: that is a replay too.
        revoke(tx, session_id, "refresh token reused").await?;
        return Ok(RefreshLookup::Reused {
            user_id,
            session_id,
        });
    }
    insert_token(tx, session_id, new_token_hash).await?;
    Ok(RefreshLookup::Rotated {
        user_id,
        session_id,
        org_id,
    })
}

pub async fn revoke(tx: &mut Tx, session_id: Uuid, reason: &str) -> Result<()> {
    tx.closes_sessions();
    query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(to_micros(now()))
        .bind(reason)
        .bind(session_id.to_string())
        .execute(tx)
        .await?;
    Ok(())
}

/// Waits as long as a commit that closes sessions does before it answers (on PostgreSQL,
/// `session_notices.rs`): for an answer that relies on a close another request committed.
pub async fn settle_closes(backend: crate::Backend) {
    if backend == crate::Backend::Postgres {
        tokio::time::sleep(crate::session_notices::CLOSE_SETTLES).await;
    }
}

/// Revokes every open session of a user; returns how many.
pub async fn revoke_all(tx: &mut Tx, user_id: Uuid, reason: &str) -> Result<u64> {
    tx.closes_sessions();
    let done = query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL")
        .bind(to_micros(now()))
        .bind(reason)
        .bind(user_id.to_string())
        .execute(tx)
        .await?;
    Ok(done)
}

/// Revokes every open session of a user but one (the one that asked); returns how many.
pub async fn revoke_others(tx: &mut Tx, user_id: Uuid, keep: Uuid, reason: &str) -> Result<u64> {
    tx.closes_sessions();
    let done = query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL",
    )
    .bind(to_micros(now()))
    .bind(reason)
    .bind(user_id.to_string())
    .bind(keep.to_string())
    .execute(tx)
    .await?;
    Ok(done)
}

/// Moves a session to another organization (the token exchange of switching organizations).
pub async fn set_org(tx: &mut Tx, session_id: Uuid, org_id: Option<Uuid>) -> Result<()> {
    query("UPDATE sessions SET org_id = $1 WHERE id = $2")
        .bind(org_id.map(|o| o.to_string()))
        .bind(session_id.to_string())
        .execute(tx)
        .await?;
    Ok(())
}

/// Whether a session is open and its user active, in one statement: the check every
/// request with an access token makes.
///
/// A session found open is remembered until it expires or something may have closed it: on
/// SQLite a commit that closes sessions or disables users (`open_sessions.rs`, ADR 0008); on
/// PostgreSQL a notification of one, heard in time (`session_notices.rs`, ADR 0009).
pub async fn is_open_for_active_user(db: &Db, session_id: Uuid, user_id: Uuid) -> Result<bool> {
    let checked_at = to_micros(now());
    if let Some(open) = &db.open_sessions
        && open.is_known_open(session_id, user_id, checked_at)
    {
        return Ok(true);
    }
    let seen_at = db.open_sessions.as_ref().map(|open| open.generation());
    let state: Option<SessionState> = db
        .read_optional(
            "SELECT s.revoked_at, s.expires_at, u.status FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.user_id = $2",
            &[
                Value::text(session_id.to_string()),
                Value::text(user_id.to_string()),
            ],
        )
        .await?;
    let Some(state) = state.filter(|state| {
        state.revoked_at.is_none() && state.expires_at > checked_at && state.user_active
    }) else {
        return Ok(false);
    };
    if let (Some(open), Some(seen_at)) = (&db.open_sessions, seen_at) {
        open.remember(session_id, user_id, state.expires_at, seen_at);
    }
    Ok(true)
}

/// What the per-request check reads of a session and its user.
struct SessionState {
    revoked_at: Option<i64>,
    expires_at: i64,
    user_active: bool,
}

impl FromColumns for SessionState {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        Ok(Self {
            revoked_at: row.get("revoked_at")?,
            expires_at: row.get("expires_at")?,
            user_active: row.get::<String>("status")? == "active",
        })
    }
}

/// Deletes sessions (and their refresh tokens) that expired or were revoked more than `age`
/// ago; returns how many sessions went.
pub async fn purge_ended(db: &Db, age: std::time::Duration) -> Result<u64> {
    let cutoff = to_micros(now()) - i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
    let ended = "SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1";
    let mut tx = db
        .begin(crate::Origin {
            actor: "system".into(),
            request_id: None,
        })
        .await?;
    query(format!(
        "DELETE FROM refresh_tokens WHERE session_id IN ({ended})"
    ))
    .bind(cutoff)
    .execute(&mut tx)
    .await?;
    let done = query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
        .bind(cutoff)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(done)
}
