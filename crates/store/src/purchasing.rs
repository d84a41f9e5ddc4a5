//! Purchase orders in the database: headers and lines, per-organization numbers, and reads
//! through the data scope (a vendor portal user sees only its own orders).

use std::sync::LazyLock;

use sqlx::Row;
use steelyard_domain::access::DataScope;
use steelyard_domain::event::EventRecord;
use steelyard_domain::money::{Money, Quantity};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::purchase::{PoStatus, PurchaseOrder, PurchaseOrderLine};
use uuid::Uuid;

use crate::batch::{self, Creation, new_document};
use crate::db::Db;
use crate::document::{DocumentTables, LineOf, NUMBER_KEY, Rows, WithLines, insert_with_lines};
use crate::error::{Result, StoreError};
use crate::master_data::{LINE_TAX_COLUMNS, line_tax_from_row, line_tax_values};
use crate::sql::{Columns, FromColumns, Value, query};
use crate::time::{from_micros, parse_uuid, to_micros};
use crate::tx::Tx;

/// Inserts the order and its lines, unless its number is taken in the organization: then
/// nothing is written and the answer is false. The unique index decides, so two transactions
/// can never both take a number, and no lookup plan is involved.
pub async fn insert(tx: &mut Tx, po: &PurchaseOrder) -> Result<bool> {
    let (header, lines) = rows(po);
    insert_with_lines(tx, &header, Some(NUMBER_KEY), &lines).await
}

/// Creates the order under the organization's next automatic purchase order number (a number
/// someone chose by hand earlier is skipped), with its lines and events, and commits: on
/// PostgreSQL together with the organization's other new documents waiting (`batch.rs`).
pub async fn create(
    db: &Db,
    creation: Creation<PurchaseOrder>,
) -> Result<(PurchaseOrder, Vec<EventRecord>)> {
    batch::create(db, creation).await
}

new_document!(PurchaseOrder, "PO", rows);

/// The order's header row and line rows.
fn rows(po: &PurchaseOrder) -> (Rows, Rows) {
    let header = Rows {
        table: "purchase_orders",
        columns: "id, org_id, number, vendor_id, status, notes, total, version, created_at, \
                  updated_at, confirmed_at, subtotal, tax_total"
            .into(),
        width: 13,
        values: vec![
            Value::text(po.id.to_string()),
            Value::text(po.organization_id.to_string()),
            Value::from(&po.number),
            Value::text(po.vendor_id.to_string()),
            Value::from(po.status.as_str()),
            Value::from(&po.notes),
            Value::from(po.total.scaled()),
            Value::from(po.version),
            Value::from(to_micros(po.created_at)),
            Value::from(to_micros(po.updated_at)),
            Value::from(po.confirmed_at.map(to_micros)),
            Value::from(po.subtotal.scaled()),
            Value::from(po.tax_total.scaled()),
        ],
    };
    let lines = Rows {
        table: "purchase_order_lines",
        columns: format!(
            "id, order_id, line_no, product_id, quantity, unit, unit_price, line_total, \
             unit_factor, received, {LINE_TAX_COLUMNS}"
        ),
        width: 14,
        values: po
            .lines
            .iter()
            .flat_map(|line| {
                let (tax_id, tax_rate, tax_inclusive, tax_amount) = line_tax_values(&line.tax);
                [
                    Value::text(line.id.to_string()),
                    Value::text(po.id.to_string()),
                    Value::from(i64::from(line.line_no)),
                    Value::text(line.product_id.to_string()),
                    Value::from(line.quantity.scaled()),
                    Value::from(&line.unit),
                    Value::from(line.unit_price.scaled()),
                    Value::from(line.line_total.scaled()),
                    Value::from(line.unit_factor.scaled()),
                    Value::from(line.received.scaled()),
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

/// Writes the header (status, version, times) and each line's received quantity if the stored
/// order is still at `version - 1`.
pub async fn update(tx: &mut Tx, po: &PurchaseOrder) -> Result<()> {
    let done = query(
        "UPDATE purchase_orders SET status = $1, notes = $2, version = $3, updated_at = $4, confirmed_at = $5 \
         WHERE id = $6 AND version = $7",
    )
    .bind(po.status.as_str())
    .bind(&po.notes)
    .bind(po.version)
    .bind(to_micros(po.updated_at))
    .bind(po.confirmed_at.map(to_micros))
    .bind(po.id.to_string())
    .bind(po.version - 1)
    .execute(tx)
    .await?;
    if done == 0 {
        return Err(StoreError::Stale);
    }
    for line in &po.lines {
        query("UPDATE purchase_order_lines SET received = $1 WHERE id = $2")
            .bind(line.received.scaled())
            .bind(line.id.to_string())
            .execute(tx)
            .await?;
    }
    Ok(())
}

const COLUMNS: &str = "id, org_id, number, vendor_id, status, notes, subtotal, tax_total, total, version, created_at, \
                       updated_at, confirmed_at";

/// Where orders are stored; a vendor's portal user sees only the vendor's own.
static TABLES: LazyLock<DocumentTables> = LazyLock::new(|| DocumentTables {
    header: "purchase_orders",
    header_columns: COLUMNS,
    lines: "purchase_order_lines",
    line_columns: format!(
        "id, order_id, line_no, product_id, quantity, unit, unit_price, line_total, unit_factor, \
         received, {LINE_TAX_COLUMNS}"
    ),
    partner_column: "vendor_id",
});

impl WithLines for PurchaseOrder {
    type Line = PurchaseOrderLine;
    fn id(&self) -> Uuid {
        self.id
    }
    fn set_lines(&mut self, lines: Vec<PurchaseOrderLine>) {
        self.lines = lines;
    }
}

pub async fn get(db: &Db, scope: &DataScope, id: Uuid) -> Result<PurchaseOrder> {
    TABLES.get(db, scope, id).await
}

/// One order, read inside a write transaction (for read-modify-write).
pub async fn get_in(tx: &mut Tx, scope: &DataScope, id: Uuid) -> Result<PurchaseOrder> {
    TABLES.get_in(tx, scope, id).await
}

impl FromColumns for LineOf<PurchaseOrderLine> {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        let line_total = Money::from_scaled(row.get("line_total")?);
        Ok(LineOf(
            parse_uuid(&row.get::<String>("order_id")?)?,
            PurchaseOrderLine {
                id: parse_uuid(&row.get::<String>("id")?)?,
                line_no: u32::try_from(row.get::<i64>("line_no")?).unwrap_or(0),
                product_id: parse_uuid(&row.get::<String>("product_id")?)?,
                quantity: Quantity::from_scaled(row.get("quantity")?),
                unit: row.get("unit")?,
                unit_price: Money::from_scaled(row.get("unit_price")?),
                line_total,
                tax: line_tax_from_row(row, line_total)?,
                unit_factor: Quantity::from_scaled(row.get("unit_factor")?),
                received: Quantity::from_scaled(row.get("received")?),
            },
        ))
    }
}

/// Filters of the purchase order list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoFilter {
    pub status: Option<PoStatus>,
    pub vendor_id: Option<Uuid>,
    /// Number contains, ignoring case.
    pub q: Option<String>,
}

pub async fn list(
    db: &Db,
    scope: &DataScope,
    org_id: Option<Uuid>,
    filter: &PoFilter,
    page: PageRequest,
) -> Result<Page<PurchaseOrder>> {
    let mut equal = Vec::new();
    if let Some(status) = filter.status {
        equal.push(("status", status.as_str().to_owned()));
    }
    if let Some(vendor) = filter.vendor_id {
        equal.push(("vendor_id", vendor.to_string()));
    }
    TABLES
        .list(db, scope, org_id, &equal, filter.q.as_deref(), page)
        .await
}

/// Whether an order with this number exists in the organization.
pub async fn number_exists(db: &Db, org_id: Uuid, number: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT COUNT(*) FROM purchase_orders WHERE org_id = $1 AND UPPER(number) = $2",
    )
    .bind(org_id.to_string())
    .bind(number.trim().to_uppercase())
    .fetch_one(&db.read)
    .await?;
    Ok(row.try_get::<i64, _>(0)? > 0)
}

/// The order's header; its lines are read separately.
impl FromColumns for PurchaseOrder {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        Ok(PurchaseOrder {
            id: parse_uuid(&row.get::<String>("id")?)?,
            organization_id: parse_uuid(&row.get::<String>("org_id")?)?,
            number: row.get("number")?,
            vendor_id: parse_uuid(&row.get::<String>("vendor_id")?)?,
            status: PoStatus::parse(&row.get::<String>("status")?)
                .map_err(|_| StoreError::Corrupt("po status".into()))?,
            notes: row.get("notes")?,
            lines: Vec::new(),
            subtotal: Money::from_scaled(row.get("subtotal")?),
            tax_total: Money::from_scaled(row.get("tax_total")?),
            total: Money::from_scaled(row.get("total")?),
            version: row.get("version")?,
            created_at: from_micros(row.get("created_at")?)?,
            updated_at: from_micros(row.get("updated_at")?)?,
            confirmed_at: row
                .get::<Option<i64>>("confirmed_at")?
                .map(from_micros)
                .transpose()?,
        })
    }
}
