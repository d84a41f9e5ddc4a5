//! Users and sign-in: the first administrator, password checks, and the actor a user becomes.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Serialize;
use steelyard_domain::access::{Actor, DataScope};
use steelyard_domain::event::NewEvent;
use steelyard_store::sessions::{self, RefreshLookup};
use steelyard_store::users::{self, UserRow};
use uuid::Uuid;

use crate::{App, Ctx, Error, Result};

/// Platform-wide events (users, sign-ins of super-admins) chain under the nil organization id.
pub const PLATFORM_ORG: Uuid = Uuid::nil();
pub const MIN_PASSWORD_LEN: usize = 12;

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub status: String,
    pub is_super_admin: bool,
    pub scope: String,
}

impl From<&UserRow> for User {
    fn from(row: &UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email.clone(),
            display_name: row.display_name.clone(),
            status: row.status.clone(),
            is_super_admin: row.is_super_admin,
            scope: if row.is_super_admin {
                "SUPER_ADMIN"
            } else {
                "INTERNAL"
            }
            .into(),
        }
    }
}

/// The password policy: at least 12 characters, not all of one kind of character.
pub fn check_password_policy(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err("must be at least 12 characters");
    }
    let kinds = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if kinds.iter().filter(|k| **k).count() < 2 {
        return Err("must mix at least two of: lower case, upper case, digits, symbols");
    }
    Ok(())
}

/// Hashes with argon2id off the async threads (it is deliberately slow).
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Internal(format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A random password that meets the policy, for generated accounts.
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let body: String = (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{body}-7a")
}

/// Creates a super-admin with these credentials if no user has that email. Returns the user
/// when one was created.
pub async fn ensure_super_admin(app: &App, email: &str, password: &str) -> Result<Option<User>> {
    if users::find_by_email(&app.db, email).await?.is_some() {
        return Ok(None);
    }
    if let Err(why) = check_password_policy(password) {
        return Err(Error::Validation(steelyard_domain::FieldErrors::single(
            "password", "weak", why,
        )));
    }
    let now = steelyard_store::now();
    let row = UserRow {
        id: steelyard_domain::new_id(),
        email: email.trim().to_owned(),
        display_name: "Administrator".into(),
        password_hash: hash_password(password.to_owned()).await?,
        status: "active".into(),
        is_super_admin: true,
        version: 1,
        created_at: now,
    };
    let ctx = Ctx::system();
    let mut tx = app.begin(&ctx).await?;
    match users::insert(&mut tx, &row).await {
        // Another instance created it at the same moment: fine.
        Err(steelyard_store::StoreError::Duplicate(_)) => return Ok(None),
        other => other?,
    }
    let user = User::from(&row);
    tx.record(NewEvent::of_change(
        PLATFORM_ORG,
        "user",
        row.id,
        "user.created",
        None,
        &user,
    ));
    app.commit(tx).await?;
    Ok(Some(user))
}

/// Whether any user exists (the first start creates an administrator when none does).
pub async fn has_users(app: &App) -> Result<bool> {
    Ok(users::count(&app.db).await? > 0)
}

/// Checks an email and password. Every failure is the same `None`, so callers cannot tell an
/// unknown email from a wrong password.
pub async fn authenticate(app: &App, email: &str, password: &str) -> Result<Option<UserRow>> {
    let found = users::find_by_email(&app.db, email).await?;
    let Some(user) = found else {
        // Spend the same time as a real check, so response times do not reveal accounts.
        let _ = verify_password(password.to_owned(), DUMMY_HASH.to_owned()).await;
        return Ok(None);
    };
    let ok = verify_password(password.to_owned(), user.password_hash.clone()).await;
    Ok((ok && user.status == "active").then_some(user))
}

pub async fn get_user(app: &App, id: Uuid) -> Result<UserRow> {
    users::get(&app.db, id).await.map_err(|e| match e {
        steelyard_store::StoreError::NotFound => Error::NotFound("user"),
        other => other.into(),
    })
}

/// The actor a signed-in user becomes.
pub fn actor_of(user: &UserRow) -> Actor {
    if user.is_super_admin {
        Actor::user(user.id, DataScope::All, [])
    } else {
        Actor::user(user.id, DataScope::Organization(PLATFORM_ORG), [])
    }
}

/// An argon2id hash of a random string, verified against when the email is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9S3xFQ0bkMqTjvHTQ3Dd3S5nVxHZ5Qb2dQbT6tVbN0k";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_policy_wants_length_and_variety() {
        assert!(check_password_policy("short1A!").is_err());
        assert!(check_password_policy("aaaaaaaaaaaaaaaa").is_err());
        assert!(check_password_policy("correct-horse-battery").is_ok());
        assert!(check_password_policy(&generate_password()).is_ok());
    }
}

/// How long a sign-in session (and so its refresh tokens) lives without re-entering the password.
pub const SESSION_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// A new session's id and the refresh token that opens it (shown to the client once).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub session_id: Uuid,
    pub refresh_token: String,
}

/// What a refresh token bought.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub user: UserRow,
    pub session_id: Uuid,
    pub refresh_token: String,
}

/// A random refresh token and the hash under which it is stored.
fn new_refresh_token() -> (String, String) {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Opens a session for a user who just proved their password, and records the sign-in.
pub async fn start_session(app: &App, ctx: &Ctx, user: &UserRow) -> Result<NewSession> {
    let (refresh_token, hash) = new_refresh_token();
    let session_id = steelyard_domain::new_id();
    let mut tx = app.begin(ctx).await?;
    sessions::create(&mut tx, session_id, user.id, SESSION_LIFETIME_SECS, &hash).await?;
    tx.record(sign_in_event(
        user.id,
        "user.login_succeeded",
        serde_json::json!({"session_id": session_id}),
    ));
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
    tx.record(sign_in_event(
        aggregate,
        "user.login_failed",
        serde_json::json!({"email": email}),
    ));
    app.commit(tx).await?;
    Ok(())
}

fn sign_in_event(user_id: Uuid, kind: &'static str, data: serde_json::Value) -> NewEvent {
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
    let (refresh_token, new_hash) = new_refresh_token();
    let mut tx = app.begin(ctx).await?;
    let outcome = sessions::rotate(&mut tx, &token_hash(presented), &new_hash).await?;
    match outcome {
        RefreshLookup::Invalid => Ok(None),
        RefreshLookup::Reused {
            user_id,
            session_id,
        } => {
            tx.record(sign_in_event(
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
        } => {
            app.commit(tx).await?;
            let user = users::get(&app.db, user_id).await?;
            if user.status != "active" {
                return Ok(None);
            }
            Ok(Some(Refreshed {
                user,
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
        tx.record(sign_in_event(
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
    tx.record(sign_in_event(
        user_id,
        "user.logged_out_everywhere",
        serde_json::json!({"sessions": revoked}),
    ));
    app.commit(tx).await?;
    Ok(revoked)
}

/// Whether an access token's session is still open.
pub async fn session_is_open(app: &App, session_id: Uuid, user_id: Uuid) -> Result<bool> {
    Ok(sessions::is_open(&app.db, session_id, user_id).await?)
}
