//! Sign-in sessions: opening one, rotating its refresh token (with reuse detection), closing
//! one or all, and the audit events of each.

use steelyard_domain::access::Actor;
use steelyard_domain::event::NewEvent;
use steelyard_store::sessions::{self, RefreshLookup};
use steelyard_store::users::{self, UserRow};
use uuid::Uuid;

use crate::identity::PLATFORM_ORG;
use crate::{App, Ctx, Error, Result};

/// How long a sign-in session (and so its refresh tokens) lives without re-entering the password.
pub const SESSION_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// A new session's id and the refresh token that opens it (shown to the client once).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub session_id: Uuid,
    pub refresh_token: String,
}

/// What a refresh token bought: the actor the new access token is for.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub actor: Actor,
    pub session_id: Uuid,
    pub refresh_token: String,
}

/// A random secret (`prefix` + 32 random bytes, base64url) and the hash it is stored under.
pub fn new_secret(prefix: &str) -> (String, String) {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    let token = format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Opens a session for a user who just proved their password, acting as `actor`, and records
/// the sign-in.
pub async fn start(app: &App, ctx: &Ctx, user: &UserRow, actor: &Actor) -> Result<NewSession> {
    let (refresh_token, hash) = new_secret("");
    let session_id = steelyard_domain::new_id();
    let mut tx = app.begin(ctx).await?;
    sessions::create(
        &mut tx,
        session_id,
        user.id,
        actor.acting_org,
        SESSION_LIFETIME_SECS,
        &hash,
    )
    .await?;
    let data = serde_json::json!({"session_id": session_id, "organization_id": actor.acting_org});
    tx.record(event(user.id, "user.login_succeeded", data));
    app.commit(tx).await?;
    Ok(NewSession {
        session_id,
        refresh_token,
    })
}

/// Records a failed sign-in (the aggregate is the user when the email is known).
pub async fn record_failed_login(app: &App, ctx: &Ctx, email: &str) -> Result<()> {
    let known = users::find_by_email(&app.db, email).await?;
    let aggregate = known.as_ref().map_or(Uuid::nil(), |u| u.id);
    let mut tx = app.begin(ctx).await?;
    tx.record(event(
        aggregate,
        "user.login_failed",
        serde_json::json!({"email": email}),
    ));
    app.commit(tx).await?;
    Ok(())
}

fn event(user_id: Uuid, kind: &'static str, data: serde_json::Value) -> NewEvent {
    NewEvent {
        org_id: PLATFORM_ORG,
        aggregate_type: "user",
        aggregate_id: user_id,
        kind,
        data,
        changes: serde_json::json!({}),
    }
}

/// Rotates a refresh token. A token presented twice revokes its whole session (someone holds
/// a stolen copy); every failure is the same `None`.
pub async fn refresh(app: &App, ctx: &Ctx, presented: &str) -> Result<Option<Refreshed>> {
    let (refresh_token, new_hash) = new_secret("");
    let mut tx = app.begin(ctx).await?;
    match sessions::rotate(&mut tx, &token_hash(presented), &new_hash).await? {
        RefreshLookup::Invalid => Ok(None),
        RefreshLookup::Reused {
            user_id,
            session_id,
        } => {
            tx.record(event(
                user_id,
                "user.refresh_token_reused",
                serde_json::json!({"session_id": session_id}),
            ));
            app.commit(tx).await?;
            tracing::warn!(%user_id, %session_id, "refresh token reused: session revoked");
            Ok(None)
        }
        RefreshLookup::Rotated {
            user_id,
            session_id,
            org_id,
        } => {
            // Checked before committing: a refused refresh changes nothing.
            let user = users::get(&app.db, user_id).await?;
            if user.status != "active" {
                return Ok(None);
            }
            // Roles are read again, so a changed or removed membership applies from here on.
            let Some(actor) = crate::access::actor_for(app, &user, org_id).await? else {
                return Ok(None);
            };
            app.commit(tx).await?;
            Ok(Some(Refreshed {
                actor,
                session_id,
                refresh_token,
            }))
        }
    }
}

/// Ends one session: its refresh tokens stop working, and so do its access tokens.
pub async fn logout(app: &App, ctx: &Ctx, session_id: Uuid) -> Result<()> {
    let mut tx = app.begin(ctx).await?;
    sessions::revoke(&mut tx, session_id, "logout").await?;
    if let Some(user_id) = ctx.actor.user_id {
        tx.record(event(
            user_id,
            "user.logged_out",
            serde_json::json!({"session_id": session_id}),
        ));
    }
    app.commit(tx).await?;
    Ok(())
}

/// Ends every session of the caller.
pub async fn logout_all(app: &App, ctx: &Ctx) -> Result<u64> {
    let user_id = ctx.actor.user_id.ok_or(Error::NotFound("user"))?;
    let mut tx = app.begin(ctx).await?;
    let revoked = sessions::revoke_all(&mut tx, user_id, "logout-all").await?;
    tx.record(event(
        user_id,
        "user.logged_out_everywhere",
        serde_json::json!({"sessions": revoked}),
    ));
    app.commit(tx).await?;
    Ok(revoked)
}

/// Whether the session is open and its user active (one read; every request makes it).
pub async fn is_open_for_active_user(app: &App, session_id: Uuid, user_id: Uuid) -> Result<bool> {
    Ok(sessions::is_open_for_active_user(&app.db, session_id, user_id).await?)
}

/// Changes the caller's password after checking the current one, and closes every other
/// session of theirs (a stolen session does not survive a password change).
pub async fn change_password(
    app: &App,
    ctx: &Ctx,
    session_id: Uuid,
    current: &str,
    new: &str,
) -> Result<()> {
    let user_id = ctx.actor.user_id.ok_or(Error::NotFound("user"))?;
    let user = users::get(&app.db, user_id).await?;
    if let Err(why) = crate::identity::check_password_policy(new) {
        return Err(Error::Validation(steelyard_domain::FieldErrors::single(
            "new_password",
            "weak",
            why,
        )));
    }
    if new == current {
        return Err(Error::Validation(steelyard_domain::FieldErrors::single(
            "new_password",
            "unchanged",
            "must differ from the current password",
        )));
    }
    if crate::identity::authenticate(app, &user.email, current)
        .await?
        .is_none()
    {
        return Err(Error::Validation(steelyard_domain::FieldErrors::single(
            "current_password",
            "wrong",
            "is not your current password",
        )));
    }
    let hash = crate::identity::hash_password(new.to_owned()).await?;
    let mut tx = app.begin(ctx).await?;
    users::set_password(&mut tx, user_id, &hash).await?;
    let closed = sessions::revoke_others(&mut tx, user_id, session_id, "password changed").await?;
    tx.record(event(
        user_id,
        "user.password_changed",
        serde_json::json!({"other_sessions_closed": closed}),
    ));
    app.commit(tx).await?;
    Ok(())
}
