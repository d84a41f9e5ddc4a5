//! Users and instance secrets. Users are platform-wide (a user may belong to several
//! organizations), so these queries are scoped by the caller, not by an organization filter.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
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
    sqlx::query(&format!(
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
    .execute(tx.conn())
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

fn from_row(row: &AnyRow) -> Result<UserRow> {
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

/// The secret stored under `name`, or `generated` stored now if there was none. Every
/// instance on the same database gets the same value.
pub async fn instance_secret(db: &Db, name: &str, generated: &str) -> Result<String> {
    sqlx::query("INSERT INTO instance_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(generated)
        .bind(to_micros(crate::time::now()))
        .execute(&db.write)
        .await?;
    let row = sqlx::query("SELECT value FROM instance_secrets WHERE name = $1")
        .bind(name)
        .fetch_one(&db.write)
        .await?;
    Ok(row.try_get(0)?)
}
