//! Integration tokens: long-lived, scoped, revocable; only their hash is stored.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::sql::{Value, query};
use crate::time::{from_micros, now, parse_uuid, to_micros};
use crate::tx::Tx;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The organization the token acts in (None for a super-admin's platform token).
    pub org_id: Option<Uuid>,
    pub name: String,
    pub permissions: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

const COLUMNS: &str =
    "id, user_id, org_id, name, permissions, created_at, expires_at, last_used_at, revoked_at";

pub async fn insert(tx: &mut Tx, token: &ApiTokenRow, token_hash: &str) -> Result<()> {
    query(format!("INSERT INTO api_tokens ({COLUMNS}, token_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(token.id.to_string())
        .bind(token.user_id.to_string())
        .bind(token.org_id.map(|o| o.to_string()))
        .bind(&token.name)
        .bind(token.permissions.join(","))
        .bind(to_micros(token.created_at))
        .bind(token.expires_at.map(to_micros))
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(token_hash)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn list_for_user(db: &Db, user_id: Uuid) -> Result<Vec<ApiTokenRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id"
    ))
    .bind(user_id.to_string())
    .fetch_all(&db.read)
    .await?;
    rows.iter().map(from_row).collect()
}

/// A live token by hash: not revoked, not expired.
pub async fn find_live(db: &Db, token_hash: &str) -> Result<Option<ApiTokenRow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)"
    ))
    .bind(token_hash)
    .bind(to_micros(now()))
    .fetch_optional(&db.read)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Revokes one of the user's tokens; NotFound when the user has no such live token.
pub async fn revoke(tx: &mut Tx, user_id: Uuid, id: Uuid) -> Result<()> {
    let done = query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
        .bind(to_micros(now()))
        .bind(id.to_string())
        .bind(user_id.to_string())
        .execute(tx)
        .await?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Notes a use, at most once a minute per token so reads stay cheap.
pub async fn touch(db: &Db, id: Uuid) -> Result<()> {
    let at = to_micros(now());
    db.write_once(
        "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        &[
            Value::Int(Some(at)),
            Value::text(id.to_string()),
            Value::Int(Some(at - 60_000_000)),
        ],
    )
    .await?;
    Ok(())
}

fn from_row(row: &AnyRow) -> Result<ApiTokenRow> {
    let permissions: String = row.try_get("permissions")?;
    let time = |name: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        row.try_get::<Option<i64>, _>(name)?
            .map(from_micros)
            .transpose()
    };
    Ok(ApiTokenRow {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        user_id: parse_uuid(&row.try_get::<String, _>("user_id")?)?,
        org_id: row
            .try_get::<Option<String>, _>("org_id")?
            .as_deref()
            .map(parse_uuid)
            .transpose()?,
        name: row.try_get("name")?,
        permissions: permissions
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: from_micros(row.try_get("created_at")?)?,
        expires_at: time("expires_at")?,
        last_used_at: time("last_used_at")?,
        revoked_at: time("revoked_at")?,
    })
}
