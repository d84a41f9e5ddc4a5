//! Products in the database, scoped to the actor's organization.

use steelyard_domain::access::DataScope;
use steelyard_domain::money::{Money, Quantity};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::product::{Product, ProductFilter, UnitConversion};
use steelyard_domain::record::RecordStatus;
use steelyard_domain::text::search_key;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::organizations::escape_like;
use crate::sql::{Columns, FromColumns, Value, ids_in, query};
use crate::time::{from_micros, parse_uuid, to_micros};
use crate::tx::Tx;

const COLUMNS: &str = "id, org_id, sku, name, category, tracked, stock_unit, purchase_unit, purchase_factor, \
                       sales_unit, sales_factor, standard_cost, list_price, low_stock_threshold, status, version, \
                       created_at, updated_at, archived_at";

fn values(p: &Product) -> Vec<Value> {
    use Value::{Int, Text};
    vec![
        Text(Some(p.id.to_string())),
        Text(Some(p.organization_id.to_string())),
        Text(Some(p.sku.clone())),
        Text(Some(p.name.clone())),
        Text(p.category.clone()),
        Int(Some(i64::from(p.tracked))),
        Text(Some(p.stock_unit.clone())),
        Text(p.purchase_unit.as_ref().map(|c| c.unit.clone())),
        Int(p.purchase_unit.as_ref().map(|c| c.factor.scaled())),
        Text(p.sales_unit.as_ref().map(|c| c.unit.clone())),
        Int(p.sales_unit.as_ref().map(|c| c.factor.scaled())),
        Int(Some(p.standard_cost.scaled())),
        Int(Some(p.list_price.scaled())),
        Int(p.low_stock_threshold.map(Quantity::scaled)),
        Text(Some(p.status.as_str().into())),
        Int(Some(p.version)),
        Int(Some(to_micros(p.created_at))),
        Int(Some(to_micros(p.updated_at))),
        Int(p.archived_at.map(to_micros)),
        Text(Some(p.sku.to_lowercase())),
        Text(Some(search_key(&p.name))),
    ]
}

pub async fn insert(tx: &mut Tx, p: &Product) -> Result<()> {
    let placeholders: Vec<String> = (1..=21).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO products ({COLUMNS}, sku_key, name_key) VALUES ({})",
        placeholders.join(", ")
    );
    query(&sql).bind_all(values(p)).execute(tx).await?;
    Ok(())
}

/// Writes `p` if the stored row is still at `p.version - 1`; `Stale` otherwise.
pub async fn update(tx: &mut Tx, p: &Product) -> Result<()> {
    // Every column of `values` but created_at ($17), which never changes; it is still bound
    // and checked, so the placeholders stay in one numbering with `insert`.
    let sql = "UPDATE products SET sku = $3, name = $4, category = $5, tracked = $6, stock_unit = $7, \
               purchase_unit = $8, purchase_factor = $9, sales_unit = $10, sales_factor = $11, standard_cost = $12, \
               list_price = $13, low_stock_threshold = $14, status = $15, version = $16, updated_at = $18, \
               archived_at = $19, sku_key = $20, name_key = $21 \
               WHERE id = $1 AND org_id = $2 AND created_at = $17 AND version = $22";
    let mut all = values(p);
    all.push(Value::Int(Some(p.version - 1)));
    let done = query(sql).bind_all(all).execute(tx).await?;
    if done == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

pub async fn get(db: &Db, scope: &DataScope, id: Uuid) -> Result<Product> {
    let (sql, args) = one(scope, id);
    db.read_optional(&sql, &args)
        .await?
        .ok_or(StoreError::NotFound)
}

/// The products among `ids` that the scope can see, in no particular order (ids it cannot
/// see, or that do not exist, are simply missing). One statement for a whole order's lines.
pub async fn get_many(db: &Db, scope: &DataScope, ids: &[Uuid]) -> Result<Vec<Product>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (placeholders, mut args) = ids_in(ids);
    let mut sql = format!("SELECT {COLUMNS} FROM products WHERE id IN ({placeholders})");
    if let Some(org) = scope.org_id() {
        args.push(Value::text(org.to_string()));
        sql.push_str(&format!(" AND org_id = ${}", args.len()));
    }
    db.read_all(&sql, &args).await
}

pub async fn get_in(tx: &mut Tx, scope: &DataScope, id: Uuid) -> Result<Product> {
    let (sql, args) = one(scope, id);
    query(&sql)
        .bind_all(args)
        .fetch_optional(tx)
        .await?
        .ok_or(StoreError::NotFound)
}

/// The query for one product the scope can see, and its arguments.
fn one(scope: &DataScope, id: Uuid) -> (String, Vec<Value>) {
    let mut args = vec![Value::text(id.to_string())];
    let mut sql = format!("SELECT {COLUMNS} FROM products WHERE id = $1");
    if let Some(org) = scope.org_id() {
        args.push(Value::text(org.to_string()));
        sql.push_str(" AND org_id = $2");
    }
    (sql, args)
}

/// A page of products the scope can see, of `org_id` when given, in id order.
pub async fn list(
    db: &Db,
    scope: &DataScope,
    org_id: Option<Uuid>,
    filter: &ProductFilter,
    page: PageRequest,
) -> Result<Page<Product>> {
    let mut args: Vec<Value> = Vec::new();
    let mut sql = format!("SELECT {COLUMNS} FROM products WHERE 1 = 1");
    let mut push = |sql: &mut String, clause: &str, value: Value| {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(org) = org_id.or(scope.org_id()) {
        push(
            &mut sql,
            " AND org_id = ?",
            Value::Text(Some(org.to_string())),
        );
    }
    if let Some(status) = filter.status {
        push(
            &mut sql,
            " AND status = ?",
            Value::Text(Some(status.as_str().into())),
        );
    }
    if let Some(category) = &filter.category {
        push(
            &mut sql,
            " AND category = ?",
            Value::Text(Some(category.clone())),
        );
    }
    if let Some(tracked) = filter.tracked {
        push(
            &mut sql,
            " AND tracked = ?",
            Value::Int(Some(i64::from(tracked))),
        );
    }
    if let Some(q) = filter
        .q
        .as_deref()
        .map(search_key)
        .filter(|q| !q.is_empty())
    {
        let pattern = format!("%{}%", escape_like(&q));
        push(
            &mut sql,
            " AND (name_key LIKE ? ESCAPE '\\'",
            Value::Text(Some(pattern.clone())),
        );
        push(
            &mut sql,
            " OR sku_key LIKE ? ESCAPE '\\')",
            Value::Text(Some(pattern)),
        );
    }
    if let Some(after) = page.after {
        push(
            &mut sql,
            " AND id > ?",
            Value::Text(Some(after.to_string())),
        );
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {}", page.limit + 1));
    let items = db.read_all::<Product>(&sql, &args).await?;
    Ok(Page::from_overfetch(items, page, |p| p.id))
}

impl FromColumns for Product {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("product {what}"));
        let conversion = |unit: &str, factor: &str| -> Result<Option<UnitConversion>> {
            Ok(
                match (
                    row.get::<Option<String>>(unit)?,
                    row.get::<Option<i64>>(factor)?,
                ) {
                    (Some(unit), Some(factor)) => Some(UnitConversion {
                        unit,
                        factor: Quantity::from_scaled(factor),
                    }),
                    _ => None,
                },
            )
        };
        Ok(Product {
            id: parse_uuid(&row.get::<String>("id")?)?,
            organization_id: parse_uuid(&row.get::<String>("org_id")?)?,
            sku: row.get("sku")?,
            name: row.get("name")?,
            category: row.get("category")?,
            tracked: row.get::<i64>("tracked")? != 0,
            stock_unit: row.get("stock_unit")?,
            purchase_unit: conversion("purchase_unit", "purchase_factor")?,
            sales_unit: conversion("sales_unit", "sales_factor")?,
            standard_cost: Money::from_scaled(row.get("standard_cost")?),
            list_price: Money::from_scaled(row.get("list_price")?),
            low_stock_threshold: row
                .get::<Option<i64>>("low_stock_threshold")?
                .map(Quantity::from_scaled),
            status: RecordStatus::parse(&row.get::<String>("status")?)
                .map_err(|_| corrupt("status"))?,
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
