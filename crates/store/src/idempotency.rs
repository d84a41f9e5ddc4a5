//! Idempotency keys: the first response to a keyed POST, kept so a retry gets it again.

use sqlx::Row;

use crate::db::Db;
use crate::error::Result;
use crate::sql::{Value, query};
use crate::time;
use crate::tx::Tx;

/// A stored response. `fingerprint` identifies the request it answered, so the same key sent
/// with a different request is told apart from a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Whose key it is (actor and organization): keys of different callers never meet.
    pub scope: String,
    pub key: String,
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
}

pub async fn find(db: &Db, scope: &str, key: &str) -> Result<Option<IdempotencyRecord>> {
    let row = sqlx::query(
        "SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = $1 AND idem_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(&db.read)
    .await?;
    row.map(|row| {
        Ok(IdempotencyRecord {
            scope: scope.to_owned(),
            key: key.to_owned(),
            fingerprint: row.try_get(0)?,
            status: u16::try_from(row.try_get::<i64, _>(1)?).unwrap_or(200),
            body: row.try_get(2)?,
        })
    })
    .transpose()
}

pub(crate) async fn insert(tx: &mut Tx, record: &IdempotencyRecord) -> Result<()> {
    query(
        "INSERT INTO idempotency_keys (scope, idem_key, fingerprint, status, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&record.scope)
    .bind(&record.key)
    .bind(&record.fingerprint)
    .bind(i64::from(record.status))
    .bind(&record.body)
    .bind(time::to_micros(time::now()))
    .execute(tx)
    .await?;
    Ok(())
}

/// Forgets keys older than `max_age`; a retry after that is a new request.
pub async fn purge_older_than(db: &Db, max_age: std::time::Duration) -> Result<u64> {
    let cutoff =
        time::to_micros(time::now()) - i64::try_from(max_age.as_micros()).unwrap_or(i64::MAX);
    db.write_once(
        "DELETE FROM idempotency_keys WHERE created_at < $1",
        &[Value::Int(Some(cutoff))],
    )
    .await
}
