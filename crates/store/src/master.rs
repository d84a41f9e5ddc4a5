//! Master-data tables (commodities, taxes, accounts, departments, employees), written once:
//! each kind names its table and its own columns; insert, the versioned update, the scoped
//! get and the filtered, searchable, paged list are shared.
//!
//! Every such table has `id, org_id, code, code_key, name, name_key`, then the kind's own
//! columns, then `status, version, created_at, updated_at, archived_at`.

use steelyard_domain::access::DataScope;
use steelyard_domain::master::{MasterRecord, RecordMeta, code_key};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::record::RecordStatus;
use steelyard_domain::text::search_key;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::organizations::escape_like;
use crate::time::{from_micros, parse_uuid, to_micros};
use crate::tx::Tx;

use crate::sql::FromColumns;
use crate::sql::query;
pub use crate::sql::{Column, Columns, Value};

/// What a list asks for beyond the page: the status, `column IN (values)` conditions, and the
/// `q=` text searched in the code and the name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub status: Option<RecordStatus>,
    pub any_of: Vec<(&'static str, Vec<Value>)>,
    pub q: Option<String>,
}

/// How one kind of master record is kept.
pub trait MasterTable: MasterRecord + Send + Sync + Unpin + 'static {
    const TABLE: &'static str;
    /// The kind's own columns, in the order of [`MasterTable::field_values`].
    const FIELD_COLUMNS: &'static [&'static str];
    /// The list filter of the kind.
    type Filter: Send + Sync;

    fn code(fields: &Self::Fields) -> &str;
    fn name(fields: &Self::Fields) -> &str;
    fn field_values(fields: &Self::Fields) -> Result<Vec<Value>>;
    fn fields_from_row<R: Columns>(row: &R) -> Result<Self::Fields>;
    fn conditions(filter: &Self::Filter) -> Conditions;
}

/// Every column, in the order of [`row_values`].
fn columns<T: MasterTable>() -> Vec<&'static str> {
    let mut all = vec!["id", "org_id", "code", "code_key", "name", "name_key"];
    all.extend_from_slice(T::FIELD_COLUMNS);
    all.extend_from_slice(&[
        "status",
        "version",
        "created_at",
        "updated_at",
        "archived_at",
    ]);
    all
}

fn row_values<T: MasterTable>(record: &T) -> Result<Vec<Value>> {
    let fields = record.fields();
    let meta = record.meta();
    let mut values = vec![
        Value::text(record.id().to_string()),
        Value::text(record.organization_id().to_string()),
        Value::text(T::code(fields)),
        Value::text(code_key(T::code(fields))),
        Value::text(T::name(fields)),
        Value::text(search_key(T::name(fields))),
    ];
    values.extend(T::field_values(fields)?);
    values.extend([
        Value::text(meta.status.as_str()),
        Value::Int(Some(meta.version)),
        Value::Int(Some(to_micros(meta.created_at))),
        Value::Int(Some(to_micros(meta.updated_at))),
        Value::Int(meta.archived_at.map(to_micros)),
    ]);
    Ok(values)
}

pub async fn insert<T: MasterTable>(tx: &mut Tx, record: &T) -> Result<()> {
    let columns = columns::<T>();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        T::TABLE,
        columns.join(", "),
        placeholders.join(", ")
    );
    query(&sql)
        .bind_all(row_values(record)?)
        .execute(tx)
        .await?;
    Ok(())
}

/// Writes `record` if the stored row is still at `version - 1`; `Stale` otherwise.
pub async fn update<T: MasterTable>(tx: &mut Tx, record: &T) -> Result<()> {
    let columns = columns::<T>();
    // $1 is id and $2 org_id (the WHERE); created_at never changes, so it is checked too.
    let assignments: Vec<String> = columns
        .iter()
        .enumerate()
        .skip(2)
        .filter(|(_, c)| **c != "created_at")
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    let created_at = columns.iter().position(|c| *c == "created_at").unwrap_or(0) + 1;
    let sql = format!(
        "UPDATE {} SET {} WHERE id = $1 AND org_id = $2 AND created_at = ${created_at} AND version = ${}",
        T::TABLE,
        assignments.join(", "),
        columns.len() + 1
    );
    let mut values = row_values(record)?;
    values.push(Value::Int(Some(record.meta().version - 1)));
    let done = query(&sql).bind_all(values).execute(tx).await?;
    if done == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

pub async fn get<T: MasterTable>(db: &Db, scope: &DataScope, id: Uuid) -> Result<T> {
    let (sql, values) = one::<T>(scope, id);
    let record: Option<Record<T>> = db.read_optional(&sql, &values).await?;
    record
        .map(|Record(record)| record)
        .ok_or(StoreError::NotFound)
}

pub async fn get_in<T: MasterTable>(tx: &mut Tx, scope: &DataScope, id: Uuid) -> Result<T> {
    let (sql, values) = one::<T>(scope, id);
    let record: Option<Record<T>> = query(&sql).bind_all(values).fetch_optional(tx).await?;
    record
        .map(|Record(record)| record)
        .ok_or(StoreError::NotFound)
}

/// The query for one record the scope can see, and its arguments.
fn one<T: MasterTable>(scope: &DataScope, id: Uuid) -> (String, Vec<Value>) {
    let mut sql = format!(
        "SELECT {} FROM {} WHERE id = $1",
        columns::<T>().join(", "),
        T::TABLE
    );
    let mut values = vec![Value::text(id.to_string())];
    if let Some(org) = scope.org_id() {
        sql.push_str(" AND org_id = $2");
        values.push(Value::text(org.to_string()));
    }
    (sql, values)
}

/// A page of the records the scope can see, of `org_id` when given (every organization
/// otherwise: super-admins working at platform level), in id order.
pub async fn list<T: MasterTable>(
    db: &Db,
    scope: &DataScope,
    org_id: Option<Uuid>,
    filter: &T::Filter,
    page: PageRequest,
) -> Result<Page<T>> {
    let conditions = T::conditions(filter);
    let mut values: Vec<Value> = Vec::new();
    let mut sql = format!(
        "SELECT {} FROM {} WHERE 1 = 1",
        columns::<T>().join(", "),
        T::TABLE
    );
    let mut push = |sql: &mut String, clause: &str, value: Value| {
        values.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", values.len())));
    };
    if let Some(org) = org_id.or(scope.org_id()) {
        push(&mut sql, " AND org_id = ?", Value::text(org.to_string()));
    }
    if let Some(status) = conditions.status {
        push(&mut sql, " AND status = ?", Value::text(status.as_str()));
    }
    for (column, options) in conditions.any_of {
        if options.is_empty() {
            continue;
        }
        let mut alternatives = Vec::new();
        for option in options {
            let mut clause = String::new();
            push(&mut clause, &format!("{column} = ?"), option);
            alternatives.push(clause);
        }
        sql.push_str(&format!(" AND ({})", alternatives.join(" OR ")));
    }
    if let Some(q) = conditions
        .q
        .as_deref()
        .map(search_key)
        .filter(|q| !q.is_empty())
    {
        let pattern = format!("%{}%", escape_like(&q));
        push(
            &mut sql,
            " AND (name_key LIKE ? ESCAPE '\\'",
            Value::text(pattern.clone()),
        );
        push(
            &mut sql,
            " OR code_key LIKE ? ESCAPE '\\')",
            Value::text(pattern),
        );
    }
    if let Some(after) = page.after {
        push(&mut sql, " AND id > ?", Value::text(after.to_string()));
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {}", page.limit + 1));
    let records: Vec<Record<T>> = db.read_all(&sql, &values).await?;
    let items = records.into_iter().map(|Record(record)| record).collect();
    Ok(Page::from_overfetch(items, page, |r: &T| r.id()))
}

/// A record of kind `T` read from a row of either engine.
struct Record<T>(T);

impl<T: MasterTable> FromColumns for Record<T> {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        let meta = RecordMeta {
            status: RecordStatus::parse(&row.get::<String>("status")?)
                .map_err(|_| corrupt::<T>("status"))?,
            version: row.get("version")?,
            created_at: from_micros(row.get("created_at")?)?,
            updated_at: from_micros(row.get("updated_at")?)?,
            archived_at: row
                .get::<Option<i64>>("archived_at")?
                .map(from_micros)
                .transpose()?,
        };
        Ok(Record(T::assemble(
            parse_uuid(&row.get::<String>("id")?)?,
            parse_uuid(&row.get::<String>("org_id")?)?,
            T::fields_from_row(row)?,
            meta,
        )))
    }
}

/// A stored value of a `T` that no longer reads back.
pub fn corrupt<T: MasterTable>(what: &str) -> StoreError {
    StoreError::Corrupt(format!("{} {what}", T::NOUN))
}
