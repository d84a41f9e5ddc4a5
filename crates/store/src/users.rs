//! Users and instance secrets. Users are platform-wide (a user may belong to several
//! organizations), so these queries are scoped by the caller, not by an organization filter.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::sql::{Value, query};
use crate::time::{from_micros, parse_uuid, to_micros};
use crate::tx::Tx;

/// A stored user, password hash included; never serialized to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub status: String,
    pub is_super_admin: bool,
    pub version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

const COLUMNS: &str =
    "id, email, display_name, password_hash, status, is_super_admin, version, created_at";

pub async fn insert(tx: &mut Tx, user: &UserRow) -> Result<()> {
    query(format!(
        "INSERT INTO users ({COLUMNS}, email_key, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(user.id.to_string())
    .bind(&user.email)
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(&user.status)
    .bind(i64::from(user.is_super_admin))
    .bind(user.version)
    .bind(to_micros(user.created_at))
    .bind(user.email.to_lowercase())
    .bind(to_micros(user.created_at))
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<UserRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE email_key = $1"))
        .bind(email.trim().to_lowercase())
        .fetch_optional(&db.read)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get(db: &Db, id: Uuid) -> Result<UserRow> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&db.read)
        .await?
        .ok_or(StoreError::NotFound)?;
    from_row(&row)
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) FROM users")
        .fetch_one(&db.read)
        .await?
        .try_get(0)?)
}

pub(crate) fn from_row(row: &AnyRow) -> Result<UserRow> {
    Ok(UserRow {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        status: row.try_get("status")?,
        is_super_admin: row.try_get::<i64, _>("is_super_admin")? != 0,
        version: row.try_get("version")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

/// Sets a user's status (`active` or `disabled`) if the row is still at `version`.
pub async fn set_status(tx: &mut Tx, id: Uuid, status: &str, version: i64) -> Result<()> {
    tx.closes_sessions();
    let done = query("UPDATE users SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4")
        .bind(status)
        .bind(to_micros(crate::time::now()))
        .bind(id.to_string())
        .bind(version)
        .execute(tx)
        .await?;
    if done == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

/// Replaces a user's password hash.
pub async fn set_password(tx: &mut Tx, id: Uuid, password_hash: &str) -> Result<()> {
    query(
        "UPDATE users SET password_hash = $1, version = version + 1, updated_at = $2 WHERE id = $3",
    )
    .bind(password_hash)
    .bind(to_micros(crate::time::now()))
    .bind(id.to_string())
    .execute(tx)
    .await?;
    Ok(())
}

/// Sign-in throttling state of an account: failures in a row, and locked until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub failed_logins: i64,
    pub locked_until: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn login_throttle(db: &Db, id: Uuid) -> Result<LoginThrottle> {
    let row = sqlx::query("SELECT failed_logins, locked_until FROM users WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&db.read)
        .await?;
    Ok(LoginThrottle {
        failed_logins: row.try_get(0)?,
        locked_until: row
            .try_get::<Option<i64>, _>(1)?
            .map(from_micros)
            .transpose()?,
    })
}

/// Counts one more failure and locks the account until `locked_until` (None: no lock yet).
pub async fn record_login_failure(
    db: &Db,
    id: Uuid,
    locked_until: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<()> {
    db.write_once(
        "UPDATE users SET failed_logins = failed_logins + 1, locked_until = $1 WHERE id = $2",
        &[
            Value::Int(locked_until.map(to_micros)),
            Value::text(id.to_string()),
        ],
    )
    .await?;
    Ok(())
}

pub async fn reset_login_failures(db: &Db, id: Uuid) -> Result<()> {
    db.write_once(
        "UPDATE users SET failed_logins = 0, locked_until = NULL \
         WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
        &[Value::text(id.to_string())],
    )
    .await?;
    Ok(())
}

/// The secret stored under `name`, or `generated` stored now if there was none. Every
/// instance on the same database gets the same value.
pub async fn instance_secret(db: &Db, name: &str, generated: &str) -> Result<String> {
    db.write_once(
        "INSERT INTO instance_secrets (name, value, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
        &[
            Value::text(name),
            Value::text(generated),
            Value::Int(Some(to_micros(crate::time::now()))),
        ],
    )
    .await?;
    let stored: Option<(String,)> = db
        .read_optional(
            "SELECT value FROM instance_secrets WHERE name = $1",
            &[Value::text(name)],
        )
        .await?;
    stored.map(|(value,)| value).ok_or(StoreError::NotFound)
}
