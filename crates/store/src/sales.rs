//! Sales orders in the database: headers and lines, read through the data scope (a customer
//! portal user sees only its own orders).

use std::collections::HashMap;

use steelyard_domain::access::DataScope;
use steelyard_domain::money::{Money, Quantity};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::sales::{SalesOrder, SalesOrderLine, SoStatus};
use uuid::Uuid;

use crate::db::Db;
use crate::document::{Rows, insert_with_lines};
use crate::error::{Result, StoreError};
use crate::master_data::{LINE_TAX_COLUMNS, line_tax_from_row, line_tax_values};
use crate::sql::{Columns, FromColumns, Value, ids_in, query};
use crate::time::{from_micros, parse_uuid, to_micros};
use crate::tx::Tx;

/// Inserts the order and its lines; its number, from the organization's counter, is unique.
pub async fn insert(tx: &mut Tx, order: &SalesOrder) -> Result<()> {
    let header = Rows {
        table: "sales_orders",
        columns: "id, org_id, number, customer_id, location_id, status, notes, total, version, \
                  created_at, updated_at, subtotal, tax_total"
            .into(),
        width: 13,
        values: vec![
            Value::text(order.id.to_string()),
            Value::text(order.organization_id.to_string()),
            Value::from(&order.number),
            Value::text(order.customer_id.to_string()),
            Value::text(order.location_id.to_string()),
            Value::from(order.status.as_str()),
            Value::from(&order.notes),
            Value::from(order.total.scaled()),
            Value::from(order.version),
            Value::from(to_micros(order.created_at)),
            Value::from(to_micros(order.updated_at)),
            Value::from(order.subtotal.scaled()),
            Value::from(order.tax_total.scaled()),
        ],
    };
    let lines = Rows {
        table: "sales_order_lines",
        columns: format!(
            "id, order_id, line_no, product_id, quantity, unit_price, line_total, shipped, \
             {LINE_TAX_COLUMNS}"
        ),
        width: 12,
        values: order
            .lines
            .iter()
            .flat_map(|line| {
                let (tax_id, tax_rate, tax_inclusive, tax_amount) = line_tax_values(&line.tax);
                [
                    Value::text(line.id.to_string()),
                    Value::text(order.id.to_string()),
                    Value::from(i64::from(line.line_no)),
                    Value::text(line.product_id.to_string()),
                    Value::from(line.quantity.scaled()),
                    Value::from(line.unit_price.scaled()),
                    Value::from(line.line_total.scaled()),
                    Value::from(line.shipped.scaled()),
                    Value::from(tax_id),
                    Value::from(tax_rate),
                    Value::from(tax_inclusive),
                    Value::from(tax_amount),
                ]
            })
            .collect(),
    };
    // No conflict target: a number already taken is a unique violation, not a skip.
    insert_with_lines(tx, header, None, lines).await?;
    Ok(())
}

/// Writes the header (status, version, times) and each line's shipped quantity if the stored
/// order is still at `version - 1`.
pub async fn update(tx: &mut Tx, order: &SalesOrder) -> Result<()> {
    let done = query(
        "UPDATE sales_orders SET status = $1, notes = $2, version = $3, updated_at = $4 WHERE id = $5 AND version = $6",
    )
    .bind(order.status.as_str())
    .bind(&order.notes)
    .bind(order.version)
    .bind(to_micros(order.updated_at))
    .bind(order.id.to_string())
    .bind(order.version - 1)
    .execute(tx)
    .await?;
    if done == 0 {
        return Err(StoreError::Stale);
    }
    for line in &order.lines {
        query("UPDATE sales_order_lines SET shipped = $1 WHERE id = $2")
            .bind(line.shipped.scaled())
            .bind(line.id.to_string())
            .execute(tx)
            .await?;
    }
    Ok(())
}

const COLUMNS: &str = "id, org_id, number, customer_id, location_id, status, notes, subtotal, tax_total, total, \
                       version, created_at, updated_at";

fn scope_clause(scope: &DataScope, args: &mut Vec<String>) -> String {
    let mut clause = String::new();
    if let Some(org) = scope.org_id() {
        args.push(org.to_string());
        clause.push_str(&format!(" AND org_id = ${}", args.len()));
    }
    if let DataScope::Partner { partner_id, .. } = scope {
        args.push(partner_id.to_string());
        clause.push_str(&format!(" AND customer_id = ${}", args.len()));
    }
    clause
}

pub async fn get(db: &Db, scope: &DataScope, id: Uuid) -> Result<SalesOrder> {
    let (sql, args) = one(scope, id);
    let mut order: SalesOrder = db
        .read_optional(&sql, &args)
        .await?
        .ok_or(StoreError::NotFound)?;
    let (sql, args) = lines_query(&[order.id]);
    let lines: Vec<OrderLine> = db.read_all(&sql, &args).await?;
    order.lines = lines.into_iter().map(|OrderLine(_, line)| line).collect();
    Ok(order)
}

/// One order, read inside a write transaction (for read-modify-write).
pub async fn get_in(tx: &mut Tx, scope: &DataScope, id: Uuid) -> Result<SalesOrder> {
    let (sql, args) = one(scope, id);
    let mut order: SalesOrder = query(&sql)
        .bind_all(args)
        .fetch_optional(tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let (sql, args) = lines_query(&[order.id]);
    let lines: Vec<OrderLine> = query(&sql).bind_all(args).fetch_all(tx).await?;
    order.lines = lines.into_iter().map(|OrderLine(_, line)| line).collect();
    Ok(order)
}

/// The query for one order the scope can see, and its arguments.
fn one(scope: &DataScope, id: Uuid) -> (String, Vec<Value>) {
    let mut args = vec![id.to_string()];
    let clause = scope_clause(scope, &mut args);
    let sql = format!("SELECT {COLUMNS} FROM sales_orders WHERE id = $1{clause}");
    (sql, args.into_iter().map(Value::text).collect())
}

/// The lines of the given orders, in order and line number.
fn lines_query(ids: &[Uuid]) -> (String, Vec<Value>) {
    let (placeholders, values) = ids_in(ids);
    let sql = format!(
        "SELECT id, order_id, line_no, product_id, quantity, unit_price, line_total, shipped, {LINE_TAX_COLUMNS} \
         FROM sales_order_lines WHERE order_id IN ({placeholders}) ORDER BY order_id, line_no"
    );
    (sql, values)
}

/// A line with the id of its order.
struct OrderLine(Uuid, SalesOrderLine);

impl FromColumns for OrderLine {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        let line_total = Money::from_scaled(row.get("line_total")?);
        Ok(OrderLine(
            parse_uuid(&row.get::<String>("order_id")?)?,
            SalesOrderLine {
                id: parse_uuid(&row.get::<String>("id")?)?,
                line_no: u32::try_from(row.get::<i64>("line_no")?).unwrap_or(0),
                product_id: parse_uuid(&row.get::<String>("product_id")?)?,
                quantity: Quantity::from_scaled(row.get("quantity")?),
                unit_price: Money::from_scaled(row.get("unit_price")?),
                line_total,
                tax: line_tax_from_row(row, line_total)?,
                shipped: Quantity::from_scaled(row.get("shipped")?),
            },
        ))
    }
}

/// Filters of the sales order list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoFilter {
    pub status: Option<SoStatus>,
    pub customer_id: Option<Uuid>,
    /// Number contains, ignoring case.
    pub q: Option<String>,
}

pub async fn list(
    db: &Db,
    scope: &DataScope,
    org_id: Option<Uuid>,
    filter: &SoFilter,
    page: PageRequest,
) -> Result<Page<SalesOrder>> {
    let mut args = Vec::new();
    let mut sql = format!("SELECT {COLUMNS} FROM sales_orders WHERE 1 = 1");
    if let Some(org) = org_id {
        args.push(org.to_string());
        sql.push_str(&format!(" AND org_id = ${}", args.len()));
    }
    sql.push_str(&scope_clause(scope, &mut args));
    let mut push = |sql: &mut String, clause: &str, value: String| {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(status) = filter.status {
        push(&mut sql, " AND status = ?", status.as_str().into());
    }
    if let Some(customer) = filter.customer_id {
        push(&mut sql, " AND customer_id = ?", customer.to_string());
    }
    if let Some(q) = &filter.q {
        let pattern = format!("%{}%", crate::organizations::escape_like(&q.to_uppercase()));
        push(&mut sql, " AND UPPER(number) LIKE ? ESCAPE '\\'", pattern);
    }
    if let Some(after) = page.after {
        push(&mut sql, " AND id > ?", after.to_string());
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {}", page.limit + 1));
    let args: Vec<Value> = args.into_iter().map(Value::text).collect();
    let mut orders: Vec<SalesOrder> = db.read_all(&sql, &args).await?;
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let mut lines: HashMap<Uuid, Vec<SalesOrderLine>> = HashMap::new();
    if !ids.is_empty() {
        let (sql, args) = lines_query(&ids);
        for OrderLine(order_id, line) in db.read_all::<OrderLine>(&sql, &args).await? {
            lines.entry(order_id).or_default().push(line);
        }
    }
    for order in &mut orders {
        order.lines = lines.remove(&order.id).unwrap_or_default();
    }
    Ok(Page::from_overfetch(orders, page, |o| o.id))
}

impl FromColumns for SalesOrder {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        Ok(SalesOrder {
            id: parse_uuid(&row.get::<String>("id")?)?,
            organization_id: parse_uuid(&row.get::<String>("org_id")?)?,
            number: row.get("number")?,
            customer_id: parse_uuid(&row.get::<String>("customer_id")?)?,
            location_id: parse_uuid(&row.get::<String>("location_id")?)?,
            status: SoStatus::parse(&row.get::<String>("status")?)
                .map_err(|_| StoreError::Corrupt("order status".into()))?,
            notes: row.get("notes")?,
            lines: Vec::new(),
            subtotal: Money::from_scaled(row.get("subtotal")?),
            tax_total: Money::from_scaled(row.get("tax_total")?),
            total: Money::from_scaled(row.get("total")?),
            version: row.get("version")?,
            created_at: from_micros(row.get("created_at")?)?,
            updated_at: from_micros(row.get("updated_at")?)?,
        })
    }
}
