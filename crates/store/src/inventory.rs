//! Locations, the stock ledger, stock levels and valuations in the database.

use sqlx::Row;
use steelyard_domain::inventory::{
    Location, LocationKind, MoveKind, StockLevel, StockMove, Valuation,
};
use steelyard_domain::money::{Money, Quantity};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::record::RecordStatus;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::sql::{Columns, FromColumns, Value, query};
use crate::time::{from_micros, parse_uuid, to_micros};
use crate::tx::Tx;

const LOCATION_COLUMNS: &str =
    "id, org_id, code, name, kind, parent_id, status, version, created_at, updated_at";

pub async fn insert_location(tx: &mut Tx, l: &Location) -> Result<()> {
    query(format!("INSERT INTO locations ({LOCATION_COLUMNS}, code_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
        .bind(l.id.to_string())
        .bind(l.organization_id.to_string())
        .bind(&l.code)
        .bind(&l.name)
        .bind(l.kind.as_str())
        .bind(l.parent_id.map(|p| p.to_string()))
        .bind(l.status.as_str())
        .bind(l.version)
        .bind(to_micros(l.created_at))
        .bind(to_micros(l.updated_at))
        .bind(l.code.to_lowercase())
        .execute(tx)
        .await?;
    Ok(())
}

/// One location of `org_id` (None: any organization, for super-admins), inside a write
/// transaction.
pub async fn location_in(tx: &mut Tx, org_id: Option<Uuid>, id: Uuid) -> Result<Location> {
    let (sql, args) = one_location(org_id, id);
    query(&sql)
        .bind_all(args)
        .fetch_optional(tx)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn get_location(db: &Db, org_id: Option<Uuid>, id: Uuid) -> Result<Location> {
    let (sql, args) = one_location(org_id, id);
    db.read_optional(&sql, &args)
        .await?
        .ok_or(StoreError::NotFound)
}

fn one_location(org_id: Option<Uuid>, id: Uuid) -> (String, Vec<Value>) {
    match org_id {
        Some(org) => (
            format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE id = $1 AND org_id = $2"),
            vec![Value::text(id.to_string()), Value::text(org.to_string())],
        ),
        None => (
            format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE id = $1"),
            vec![Value::text(id.to_string())],
        ),
    }
}

/// The organization's location of a virtual kind.
pub async fn virtual_location(tx: &mut Tx, org_id: Uuid, kind: LocationKind) -> Result<Location> {
    query(format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE org_id = $1 AND kind = $2 ORDER BY id LIMIT 1"))
        .bind(org_id.to_string())
        .bind(kind.as_str())
        .fetch_optional(tx)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn list_locations(
    db: &Db,
    org_id: Option<Uuid>,
    page: PageRequest,
) -> Result<Page<Location>> {
    let mut sql = format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE 1 = 1");
    let mut args = Vec::new();
    if let Some(org) = org_id {
        args.push(org.to_string());
        sql.push_str(&format!(" AND org_id = ${}", args.len()));
    }
    if let Some(after) = page.after {
        args.push(after.to_string());
        sql.push_str(&format!(" AND id > ${}", args.len()));
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {}", page.limit + 1));
    let args: Vec<Value> = args.into_iter().map(Value::text).collect();
    let items: Vec<Location> = db.read_all(&sql, &args).await?;
    Ok(Page::from_overfetch(items, page, |l| l.id))
}

impl FromColumns for Location {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("location {what}"));
        Ok(Location {
            id: parse_uuid(&row.get::<String>("id")?)?,
            organization_id: parse_uuid(&row.get::<String>("org_id")?)?,
            code: row.get("code")?,
            name: row.get("name")?,
            kind: LocationKind::parse(&row.get::<String>("kind")?).map_err(|_| corrupt("kind"))?,
            parent_id: row
                .get::<Option<String>>("parent_id")?
                .as_deref()
                .map(parse_uuid)
                .transpose()?,
            status: RecordStatus::parse(&row.get::<String>("status")?)
                .map_err(|_| corrupt("status"))?,
            version: row.get("version")?,
            created_at: from_micros(row.get("created_at")?)?,
            updated_at: from_micros(row.get("updated_at")?)?,
        })
    }
}

/// `quantity, average_cost, value` of `product_valuations`.
impl FromColumns for Valuation {
    fn from_columns<R: Columns>(row: &R) -> Result<Self> {
        Ok(Valuation {
            quantity: Quantity::from_scaled(row.at(0)?),
            average_cost: Money::from_scaled(row.at(1)?),
            value: Money::from_scaled(row.at(2)?),
        })
    }
}

/// Appends a move to the ledger.
pub async fn insert_move(tx: &mut Tx, m: &StockMove) -> Result<()> {
    query(
        "INSERT INTO stock_moves (id, org_id, product_id, from_location_id, to_location_id, quantity, unit_cost, kind, \
         reference, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(m.id.to_string())
    .bind(m.organization_id.to_string())
    .bind(m.product_id.to_string())
    .bind(m.from_location_id.to_string())
    .bind(m.to_location_id.to_string())
    .bind(m.quantity.scaled())
    .bind(m.unit_cost.scaled())
    .bind(m.kind.as_str())
    .bind(&m.reference)
    .bind(to_micros(m.created_at))
    .execute(tx)
    .await?;
    Ok(())
}

/// Adds stock to an internal location.
pub async fn add_stock(
    tx: &mut Tx,
    org_id: Uuid,
    product_id: Uuid,
    location_id: Uuid,
    quantity: Quantity,
) -> Result<()> {
    query(
        "INSERT INTO stock_levels (org_id, product_id, location_id, on_hand, reserved) VALUES ($1, $2, $3, $4, 0) \
         ON CONFLICT (product_id, location_id) DO UPDATE SET on_hand = stock_levels.on_hand + excluded.on_hand",
    )
    .bind(org_id.to_string())
    .bind(product_id.to_string())
    .bind(location_id.to_string())
    .bind(quantity.scaled())
    .execute(tx)
    .await?;
    Ok(())
}

/// Takes stock out of an internal location if enough is available (on hand less reserved);
/// returns false, changing nothing, when it is not. One conditional UPDATE, so two
/// transactions can never both take the last units.
pub async fn take_stock(
    tx: &mut Tx,
    product_id: Uuid,
    location_id: Uuid,
    quantity: Quantity,
) -> Result<bool> {
    let done = query(
        "UPDATE stock_levels SET on_hand = on_hand - $1 WHERE product_id = $2 AND location_id = $3 AND on_hand - reserved >= $1",
    )
    .bind(quantity.scaled())
    .bind(product_id.to_string())
    .bind(location_id.to_string())
    .execute(tx)
    .await?;
    Ok(done == 1)
}

/// Reserves stock if enough is available (on hand less reserved); false, changing nothing,
/// when not. One conditional UPDATE: concurrent reservations can never oversell.
pub async fn reserve(
    tx: &mut Tx,
    product_id: Uuid,
    location_id: Uuid,
    quantity: Quantity,
) -> Result<bool> {
    let done = query(
        "UPDATE stock_levels SET reserved = reserved + $1 WHERE product_id = $2 AND location_id = $3 AND on_hand - reserved >= $1",
    )
    .bind(quantity.scaled())
    .bind(product_id.to_string())
    .bind(location_id.to_string())
    .execute(tx)
    .await?;
    Ok(done == 1)
}

/// Gives back a reservation (shipped, cancelled or closed orders); an error, changing nothing,
/// if less is reserved than that.
pub async fn release(
    tx: &mut Tx,
    product_id: Uuid,
    location_id: Uuid,
    quantity: Quantity,
) -> Result<()> {
    let done = query("UPDATE stock_levels SET reserved = reserved - $1 WHERE product_id = $2 AND location_id = $3 AND reserved >= $1")
        .bind(quantity.scaled())
        .bind(product_id.to_string())
        .bind(location_id.to_string())
        .execute(tx)
        .await?;
    if done == 0 {
        // Less is reserved than the order says it holds: the books disagree; stop.
        return Err(StoreError::Corrupt(format!(
            "release of {quantity} exceeds what is reserved for product {product_id}"
        )));
    }
    Ok(())
}

/// A product's valuation.
pub async fn valuation(db: &Db, product_id: Uuid) -> Result<Valuation> {
    let valuation = db
        .read_optional(
            "SELECT quantity, average_cost, value FROM product_valuations WHERE product_id = $1",
            &[Value::text(product_id.to_string())],
        )
        .await?;
    Ok(valuation.unwrap_or(Valuation::EMPTY))
}

/// A product's valuation, locked for the rest of the transaction (FOR UPDATE on PostgreSQL;
/// SQLite's write lock covers it): concurrent moves of one product queue here instead of
/// overwriting each other's valuation.
pub async fn lock_valuation(tx: &mut Tx, org_id: Uuid, product_id: Uuid) -> Result<Valuation> {
    query(
        "INSERT INTO product_valuations (product_id, org_id, quantity, average_cost, value) VALUES ($1, $2, 0, 0, 0) \
         ON CONFLICT (product_id) DO NOTHING",
    )
    .bind(product_id.to_string())
    .bind(org_id.to_string())
    .execute(tx)
    .await?;
    let lock = match tx.backend() {
        crate::Backend::Postgres => " FOR UPDATE",
        crate::Backend::Sqlite => "",
    };
    query(format!(
        "SELECT quantity, average_cost, value FROM product_valuations WHERE product_id = $1{lock}"
    ))
    .bind(product_id.to_string())
    .fetch_one(tx)
    .await
}

pub async fn put_valuation(
    tx: &mut Tx,
    org_id: Uuid,
    product_id: Uuid,
    v: &Valuation,
) -> Result<()> {
    query(
        "INSERT INTO product_valuations (product_id, org_id, quantity, average_cost, value) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (product_id) DO UPDATE SET quantity = excluded.quantity, average_cost = excluded.average_cost, \
         value = excluded.value",
    )
    .bind(product_id.to_string())
    .bind(org_id.to_string())
    .bind(v.quantity.scaled())
    .bind(v.average_cost.scaled())
    .bind(v.value.scaled())
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn levels(
    db: &Db,
    org_id: Uuid,
    product_id: Option<Uuid>,
    location_id: Option<Uuid>,
    after: Option<(Uuid, Uuid)>,
    limit: u32,
) -> Result<Vec<StockLevel>> {
    let mut sql =
        "SELECT product_id, location_id, on_hand, reserved FROM stock_levels WHERE org_id = $1"
            .to_owned();
    let mut args = vec![org_id.to_string()];
    if let Some(p) = product_id {
        args.push(p.to_string());
        sql.push_str(&format!(" AND product_id = ${}", args.len()));
    }
    if let Some(l) = location_id {
        args.push(l.to_string());
        sql.push_str(&format!(" AND location_id = ${}", args.len()));
    }
    if let Some((product, location)) = after {
        args.push(product.to_string());
        args.push(location.to_string());
        let (p, l) = (args.len() - 1, args.len());
        sql.push_str(&format!(
            " AND (product_id > ${p} OR (product_id = ${p} AND location_id > ${l}))"
        ));
    }
    sql.push_str(&format!(" ORDER BY product_id, location_id LIMIT {limit}"));
    let mut query = sqlx::query(&sql);
    for arg in &args {
        query = query.bind(arg);
    }
    let rows = query.fetch_all(&db.read).await?;
    rows.iter()
        .map(|row| {
            let on_hand = Quantity::from_scaled(row.try_get(2)?);
            let reserved = Quantity::from_scaled(row.try_get(3)?);
            Ok(StockLevel {
                product_id: parse_uuid(&row.try_get::<String, _>(0)?)?,
                location_id: parse_uuid(&row.try_get::<String, _>(1)?)?,
                on_hand,
                reserved,
                available: on_hand.checked_sub(reserved).unwrap_or(Quantity::ZERO),
            })
        })
        .collect()
}

/// Total on hand of a product across internal locations (inside a write transaction). SUM
/// is cast back to BIGINT: PostgreSQL widens a sum of BIGINT to NUMERIC.
pub async fn total_on_hand(tx: &mut Tx, product_id: Uuid) -> Result<Quantity> {
    let (total,) = query(
        "SELECT CAST(COALESCE(SUM(on_hand), 0) AS BIGINT) FROM stock_levels WHERE product_id = $1",
    )
    .bind(product_id.to_string())
    .fetch_one(tx)
    .await?;
    Ok(Quantity::from_scaled(total))
}

pub async fn moves(
    db: &Db,
    org_id: Uuid,
    product_id: Option<Uuid>,
    page: PageRequest,
) -> Result<Page<StockMove>> {
    let mut sql = "SELECT id, org_id, product_id, from_location_id, to_location_id, quantity, unit_cost, kind, reference, \
                   created_at FROM stock_moves WHERE org_id = $1"
        .to_owned();
    let mut args = vec![org_id.to_string()];
    if let Some(p) = product_id {
        args.push(p.to_string());
        sql.push_str(&format!(" AND product_id = ${}", args.len()));
    }
    if let Some(after) = page.after {
        args.push(after.to_string());
        sql.push_str(&format!(" AND id > ${}", args.len()));
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {}", page.limit + 1));
    let mut query = sqlx::query(&sql);
    for arg in &args {
        query = query.bind(arg);
    }
    let rows = query.fetch_all(&db.read).await?;
    let items = rows
        .iter()
        .map(|row| {
            Ok(StockMove {
                id: parse_uuid(&row.try_get::<String, _>(0)?)?,
                organization_id: parse_uuid(&row.try_get::<String, _>(1)?)?,
                product_id: parse_uuid(&row.try_get::<String, _>(2)?)?,
                from_location_id: parse_uuid(&row.try_get::<String, _>(3)?)?,
                to_location_id: parse_uuid(&row.try_get::<String, _>(4)?)?,
                quantity: Quantity::from_scaled(row.try_get(5)?),
                unit_cost: Money::from_scaled(row.try_get(6)?),
                kind: MoveKind::parse(&row.try_get::<String, _>(7)?)
                    .ok_or_else(|| StoreError::Corrupt("move kind".into()))?,
                reference: row.try_get(8)?,
                created_at: from_micros(row.try_get(9)?)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, page, |m| m.id))
}

/// Where the kept stock levels disagree with the ledger: (product, location, kept, from ledger).
pub async fn ledger_mismatches(db: &Db) -> Result<Vec<(Uuid, Uuid, i64, i64)>> {
    // The ledger's balance per internal location: moves in minus moves out.
    let rows = sqlx::query(
        "WITH flows AS ( \
             SELECT product_id, to_location_id AS location_id, quantity AS delta FROM stock_moves \
             UNION ALL SELECT product_id, from_location_id, -quantity FROM stock_moves), \
         ledger AS ( \
             SELECT f.product_id, f.location_id, CAST(SUM(f.delta) AS BIGINT) AS balance FROM flows f \
             JOIN locations l ON l.id = f.location_id WHERE l.kind = 'internal' GROUP BY f.product_id, f.location_id) \
         SELECT COALESCE(s.product_id, g.product_id), COALESCE(s.location_id, g.location_id), \
                COALESCE(s.on_hand, 0), COALESCE(g.balance, 0) \
         FROM stock_levels s FULL OUTER JOIN ledger g ON g.product_id = s.product_id AND g.location_id = s.location_id \
         WHERE COALESCE(s.on_hand, 0) <> COALESCE(g.balance, 0)",
    )
    .fetch_all(&db.read)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                parse_uuid(&row.try_get::<String, _>(0)?)?,
                parse_uuid(&row.try_get::<String, _>(1)?)?,
                row.try_get(2)?,
                row.try_get(3)?,
            ))
        })
        .collect()
}
