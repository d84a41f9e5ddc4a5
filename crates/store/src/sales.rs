//! Sales orders in the database: headers and lines under the organization's next number, and
//! reads through the data scope (a customer portal user sees only its own orders).

use std::sync::LazyLock;

use steelyard_domain::access::DataScope;
use steelyard_domain::event::EventRecord;
use steelyard_domain::money::{Money, Quantity};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::sales::{SalesOrder, SalesOrderLine, SoStatus};
use uuid::Uuid;

use crate::batch::{self, Creation, new_document};
use crate::db::Db;
use crate::document::{DocumentTables, LineOf, Rows, WithLines};
use crate::error::{Result, StoreError};
use crate::master_data::{LINE_TAX_COLUMNS, line_tax_from_row, line_tax_values};
use crate::sql::{Columns, FromColumns, Value, query};
use crate::time::{from_micros, parse_uuid, to_micros};
use crate::tx::Tx;

/// Creates the order under the organization's next automatic sales order number (a number
/// someone chose by hand earlier is skipped), with its lines and events, and commits: on
/// PostgreSQL together with the organization's other new documents waiting (`batch.rs`).
pub async fn create(
    db: &Db,
    creation: Creation<SalesOrder>,
) -> Result<(SalesOrder, Vec<EventRecord>)> {
    batch::create(db, creation).await
}

new_document!(SalesOrder, "SO", rows);

/// The order's header row and line rows.
fn rows(order: &SalesOrder) -> (Rows, Rows) {
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
    (header, lines)
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

/// Where orders are stored; a customer's portal user sees only the customer's own.
static TABLES: LazyLock<DocumentTables> = LazyLock::new(|| DocumentTables {
    header: "sales_orders",
    header_columns: COLUMNS,
    lines: "sales_order_lines",
    line_columns: format!(
        "id, order_id, line_no, product_id, quantity, unit_price, line_total, shipped, \
         {LINE_TAX_COLUMNS}"
    ),
    partner_column: "customer_id",
});

impl WithLines for SalesOrder {
    type Line = SalesOrderLine;
    fn id(&self) -> Uuid {
        self.id
    }
    fn set_lines(&mut self, lines: Vec<SalesOrderLine>) {
        self.lines = lines;
    }
}

pub async fn get(db: &Db, scope: &DataScope, id: Uuid) -> Result<SalesOrder> {
    TABLES.get(db, scope, id).await
}

/// One order, read inside a write transaction (for read-modify-write).
pub async fn get_in(tx: &mut Tx, scope: &DataScope, id: Uuid) -> Result<SalesOrder> {
    TABLES.get_in(tx, scope, id).await
}

impl FromColumns for LineOf<SalesOrderLine> {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        let line_total = Money::from_scaled(row.get("line_total")?);
        Ok(LineOf(
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
    let mut equal = Vec::new();
    if let Some(status) = filter.status {
        equal.push(("status", status.as_str().to_owned()));
    }
    if let Some(customer) = filter.customer_id {
        equal.push(("customer_id", customer.to_string()));
    }
    TABLES
        .list(db, scope, org_id, &equal, filter.q.as_deref(), page)
        .await
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
