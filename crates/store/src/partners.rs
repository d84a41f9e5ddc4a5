//! Business partners in the database, read through the actor's data scope: INTERNAL actors
//! see their organization's partners, EXTERNAL (partner portal) actors only their own partner.

use steelyard_domain::access::DataScope;
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::partner::{Partner, PartnerFilter, PartnerKind};
use steelyard_domain::record::RecordStatus;
use steelyard_domain::text::search_key;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::organizations::escape_like;
use crate::sql::{Columns, FromColumns, Value, query, scope_clause};
use crate::time::{from_micros, parse_uuid, to_micros};
use crate::tx::Tx;

const COLUMNS: &str = "id, org_id, name, kind, tax_id, email, phone, payment_terms_days, currency, contacts, \
                       addresses, status, version, created_at, updated_at, archived_at";

pub async fn insert(tx: &mut Tx, p: &Partner) -> Result<()> {
    query(format!(
        "INSERT INTO partners ({COLUMNS}, name_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    ))
    .bind(p.id.to_string())
    .bind(p.organization_id.to_string())
    .bind(&p.name)
    .bind(p.kind.as_str())
    .bind(&p.tax_id)
    .bind(&p.email)
    .bind(&p.phone)
    .bind(i64::from(p.payment_terms_days))
    .bind(&p.currency)
    .bind(json(&p.contacts)?)
    .bind(json(&p.addresses)?)
    .bind(p.status.as_str())
    .bind(p.version)
    .bind(to_micros(p.created_at))
    .bind(to_micros(p.updated_at))
    .bind(p.archived_at.map(to_micros))
    .bind(search_key(&p.name))
    .execute(tx)
    .await?;
    Ok(())
}

/// Writes `p` if the stored row is still at `p.version - 1`; `Stale` otherwise.
pub async fn update(tx: &mut Tx, p: &Partner) -> Result<()> {
    let done = query(
        "UPDATE partners SET name = $1, name_key = $2, kind = $3, tax_id = $4, email = $5, phone = $6, \
         payment_terms_days = $7, currency = $8, contacts = $9, addresses = $10, status = $11, version = $12, \
         updated_at = $13, archived_at = $14 WHERE id = $15 AND org_id = $16 AND version = $17",
    )
    .bind(&p.name)
    .bind(search_key(&p.name))
    .bind(p.kind.as_str())
    .bind(&p.tax_id)
    .bind(&p.email)
    .bind(&p.phone)
    .bind(i64::from(p.payment_terms_days))
    .bind(&p.currency)
    .bind(json(&p.contacts)?)
    .bind(json(&p.addresses)?)
    .bind(p.status.as_str())
    .bind(p.version)
    .bind(to_micros(p.updated_at))
    .bind(p.archived_at.map(to_micros))
    .bind(p.id.to_string())
    .bind(p.organization_id.to_string())
    .bind(p.version - 1)
    .execute(tx)
    .await?;
    if done == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

pub async fn get(db: &Db, scope: &DataScope, id: Uuid) -> Result<Partner> {
    let (sql, args) = one(scope, id);
    let args: Vec<Value> = args.into_iter().map(Value::text).collect();
    db.read_optional(&sql, &args)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn get_in(tx: &mut Tx, scope: &DataScope, id: Uuid) -> Result<Partner> {
    let (sql, args) = one(scope, id);
    query(&sql)
        .bind_all(args.into_iter().map(Value::from))
        .fetch_optional(tx)
        .await?
        .ok_or(StoreError::NotFound)
}

/// The query for one partner the scope can see, and its arguments.
fn one(scope: &DataScope, id: Uuid) -> (String, Vec<String>) {
    let mut args = vec![id.to_string()];
    let clause = scope_clause(scope, "id", &mut args);
    (
        format!("SELECT {COLUMNS} FROM partners WHERE id = $1{clause}"),
        args,
    )
}

/// A page of the partners the scope can see, of `org_id` when given (every organization
/// otherwise: super-admins working at platform level), in id order.
pub async fn list(
    db: &Db,
    scope: &DataScope,
    org_id: Option<Uuid>,
    filter: &PartnerFilter,
    page: PageRequest,
) -> Result<Page<Partner>> {
    let mut args = Vec::new();
    let mut sql = format!("SELECT {COLUMNS} FROM partners WHERE 1 = 1");
    if let Some(org_id) = org_id {
        args.push(org_id.to_string());
        sql.push_str(" AND org_id = $1");
    }
    sql.push_str(&scope_clause(scope, "id", &mut args));
    let mut push = |sql: &mut String, clause: &str, value: String| {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(status) = filter.status {
        push(&mut sql, " AND status = ?", status.as_str().to_owned());
    }
    match filter.kind {
        Some(PartnerKind::Both) => push(&mut sql, " AND kind = ?", "both".into()),
        Some(kind) => {
            push(&mut sql, " AND (kind = ?", kind.as_str().to_owned());
            sql.push_str(" OR kind = 'both')");
        }
        None => {}
    }
    if let Some(q) = filter
        .q
        .as_deref()
        .map(search_key)
        .filter(|q| !q.is_empty())
    {
        push(
            &mut sql,
            " AND name_key LIKE ? ESCAPE '\\'",
            format!("%{}%", escape_like(&q)),
        );
    }
    if let Some(after) = page.after {
        push(&mut sql, " AND id > ?", after.to_string());
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {}", page.limit + 1));
    let args: Vec<Value> = args.into_iter().map(Value::text).collect();
    let items = db.read_all::<Partner>(&sql, &args).await?;
    Ok(Page::from_overfetch(items, page, |p| p.id))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl FromColumns for Partner {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        let text = |name: &str| -> Result<String> { row.get::<String>(name) };
        let corrupt = |what: &str| StoreError::Corrupt(format!("partner {what}"));
        Ok(Partner {
            id: parse_uuid(&text("id")?)?,
            organization_id: parse_uuid(&text("org_id")?)?,
            name: text("name")?,
            kind: PartnerKind::parse(&text("kind")?).map_err(|_| corrupt("kind"))?,
            tax_id: row.get("tax_id")?,
            email: row.get("email")?,
            phone: row.get("phone")?,
            payment_terms_days: u32::try_from(row.get::<i64>("payment_terms_days")?)
                .map_err(|_| corrupt("terms"))?,
            currency: row.get("currency")?,
            contacts: serde_json::from_str(&text("contacts")?).map_err(|_| corrupt("contacts"))?,
            addresses: serde_json::from_str(&text("addresses")?)
                .map_err(|_| corrupt("addresses"))?,
            status: RecordStatus::parse(&text("status")?).map_err(|_| corrupt("status"))?,
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
