//! Organizations in the database, always read through the actor's data scope.

use sqlx::Row;
use steelyard_domain::access::DataScope;
use steelyard_domain::organization::{OrgStatus, Organization};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::text::search_key;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::sql::{Columns, FromColumns, Value, query};
use crate::time::{from_micros, parse_uuid, to_micros};
use crate::tx::Tx;

const COLUMNS: &str = "id, name, legal_name, tax_id, base_currency, status, version, created_at, \
                       updated_at, archived_at";

pub use steelyard_domain::organization::OrganizationFilter;

pub async fn insert(tx: &mut Tx, org: &Organization) -> Result<()> {
    query(format!(
        "INSERT INTO organizations ({COLUMNS}, name_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(org.id.to_string())
    .bind(&org.name)
    .bind(&org.legal_name)
    .bind(&org.tax_id)
    .bind(&org.base_currency)
    .bind(org.status.as_str())
    .bind(org.version)
    .bind(to_micros(org.created_at))
    .bind(to_micros(org.updated_at))
    .bind(org.archived_at.map(to_micros))
    .bind(search_key(&org.name))
    .execute(tx)
    .await?;
    Ok(())
}

/// Writes `org` if the stored row is still at `org.version - 1`; `Stale` otherwise.
pub async fn update(tx: &mut Tx, org: &Organization) -> Result<()> {
    let done = query(
        "UPDATE organizations SET name = $1, name_key = $2, legal_name = $3, tax_id = $4, \
         base_currency = $5, status = $6, version = $7, updated_at = $8, archived_at = $9 \
         WHERE id = $10 AND version = $11",
    )
    .bind(&org.name)
    .bind(search_key(&org.name))
    .bind(&org.legal_name)
    .bind(&org.tax_id)
    .bind(&org.base_currency)
    .bind(org.status.as_str())
    .bind(org.version)
    .bind(to_micros(org.updated_at))
    .bind(org.archived_at.map(to_micros))
    .bind(org.id.to_string())
    .bind(org.version - 1)
    .execute(tx)
    .await?;
    if done == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

/// One organization the scope can see.
/// The oldest active organization, where a super-admin works until they pick another.
pub async fn oldest_active(db: &Db) -> Result<Option<Uuid>> {
    let row = sqlx::query(
        "SELECT id FROM organizations WHERE status = 'active' ORDER BY created_at, id LIMIT 1",
    )
    .fetch_optional(&db.read)
    .await?;
    row.map(|row| parse_uuid(&row.try_get::<String, _>(0)?))
        .transpose()
}

/// Whether any organization exists, archived ones included.
pub async fn any(db: &Db) -> Result<bool> {
    Ok(sqlx::query("SELECT id FROM organizations LIMIT 1")
        .fetch_optional(&db.read)
        .await?
        .is_some())
}

pub async fn get(db: &Db, scope: &DataScope, id: Uuid) -> Result<Organization> {
    if !scope.sees_org(id) {
        return Err(StoreError::NotFound);
    }
    db.read_optional(&one(), &[Value::text(id.to_string())])
        .await?
        .ok_or(StoreError::NotFound)
}

/// One organization, read inside a write transaction (for read-modify-write).
pub async fn get_in(tx: &mut Tx, scope: &DataScope, id: Uuid) -> Result<Organization> {
    if !scope.sees_org(id) {
        return Err(StoreError::NotFound);
    }
    query(one())
        .bind(id.to_string())
        .fetch_optional(tx)
        .await?
        .ok_or(StoreError::NotFound)
}

fn one() -> String {
    format!("SELECT {COLUMNS} FROM organizations WHERE id = $1")
}

/// A page of the organizations the scope can see, in id order.
pub async fn list(
    db: &Db,
    scope: &DataScope,
    filter: &OrganizationFilter,
    page: PageRequest,
) -> Result<Page<Organization>> {
    let mut sql = format!("SELECT {COLUMNS} FROM organizations WHERE 1 = 1");
    let mut args: Vec<String> = Vec::new();
    let mut bind = |sql: &mut String, clause: &str, value: String| {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(org_id) = scope.org_id() {
        bind(&mut sql, " AND id = ?", org_id.to_string());
    }
    if let Some(status) = filter.status {
        bind(&mut sql, " AND status = ?", status.as_str().to_owned());
    }
    if let Some(q) = filter
        .q
        .as_deref()
        .map(search_key)
        .filter(|q| !q.is_empty())
    {
        bind(
            &mut sql,
            " AND name_key LIKE ? ESCAPE '\\'",
            format!("%{}%", escape_like(&q)),
        );
    }
    if let Some(after) = page.after {
        bind(&mut sql, " AND id > ?", after.to_string());
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {}", page.limit + 1));
    let args: Vec<Value> = args.into_iter().map(Value::text).collect();
    let items: Vec<Organization> = db.read_all(&sql, &args).await?;
    Ok(Page::from_overfetch(items, page, |org| org.id))
}

/// Escapes LIKE's wildcards so a search for `50%` means the text "50%".
pub(crate) fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl FromColumns for Organization {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        let status: String = row.get("status")?;
        Ok(Organization {
            id: parse_uuid(&row.get::<String>("id")?)?,
            name: row.get("name")?,
            legal_name: row.get("legal_name")?,
            tax_id: row.get("tax_id")?,
            base_currency: row.get("base_currency")?,
            status: OrgStatus::parse(&status)
                .map_err(|_| StoreError::Corrupt(format!("status {status:?}")))?,
            version: row.get("version")?,
            created_at: from_micros(row.get("created_at")?)?,
            updated_at: from_micros(row.get("updated_at")?)?,
            archived_at: row
                .get::<Option<i64>>("archived_at")?
                .map(from_micros)
                .transpose()?,
        })
    }
}
