//! Documents (an order and its lines, say): their per-organization numbers, and writing a
//! header with its lines in as few statements as the engine allows. Both happen inside the
//! organization's serial section (ADR 0006), where on PostgreSQL every round trip holds up
//! the next document.

use uuid::Uuid;

use crate::db::Backend;
use crate::error::Result;
use crate::sql::{Value, query, values_rows_from};
use crate::tx::Tx;

/// The next number of `doc_type` in the organization, allocated in the caller's transaction
/// (one upsert, so concurrent creators never share a number).
pub async fn next_number(tx: &mut Tx, org_id: Uuid, doc_type: &str) -> Result<i64> {
    tx.enter_serial_section(org_id).await;
    let (last,) = query(
        "INSERT INTO document_numbers (org_id, doc_type, last) VALUES ($1, $2, 1) \
         ON CONFLICT (org_id, doc_type) DO UPDATE SET last = document_numbers.last + 1 RETURNING last",
    )
    .bind(org_id.to_string())
    .bind(doc_type)
    .fetch_one(tx)
    .await?;
    Ok(last)
}

/// Rows for one table: its columns and every row's values, row after row in column order.
#[derive(Debug)]
pub(crate) struct Rows {
    pub table: &'static str,
    /// The column list, comma-separated, as it goes into the `INSERT`.
    pub columns: String,
    /// Values per row: the number of columns.
    pub width: usize,
    pub values: Vec<Value>,
}

/// Lines per multi-row `INSERT`: 100 × 14 values stays far below both engines' limits on
/// bound parameters (SQLite 32,766, PostgreSQL 65,535).
const LINES_PER_INSERT: usize = 100;

/// Inserts `header` (one row) and then `lines`. With `unique_on` (a unique index's columns),
/// a header that collides there is not inserted, nor are its lines, and the answer is false;
/// the index decides, so two transactions never both take the same key.
///
/// On PostgreSQL the header and its first hundred lines are one statement, a data-modifying
/// `WITH` whose lines are inserted only if the header was. SQLite has no data-modifying
/// `WITH`, and needs none: its statements run inline and cost no round trip.
pub(crate) async fn insert_with_lines(
    tx: &mut Tx,
    header: Rows,
    unique_on: Option<&str>,
    lines: Rows,
) -> Result<bool> {
    debug_assert_eq!(header.values.len(), header.width, "one header row");
    debug_assert_eq!(lines.values.len() % lines.width, 0, "whole line rows");
    let on_conflict = unique_on
        .map(|columns| format!(" ON CONFLICT ({columns}) DO NOTHING"))
        .unwrap_or_default();
    let insert_header = format!(
        "INSERT INTO {} ({}) VALUES {}{on_conflict}",
        header.table,
        header.columns,
        values_rows_from(1, 1, header.width)
    );
    let mut chunks = lines.values.chunks(LINES_PER_INSERT * lines.width);
    let inserted = match tx.backend() {
        Backend::Postgres => {
            let mut sql = format!("WITH header AS ({insert_header} RETURNING 1)");
            let mut args = header.values;
            if let Some(chunk) = chunks.next() {
                sql.push_str(&format!(
                    ", lines AS (INSERT INTO {} ({}) SELECT * FROM (VALUES {}) AS line \
                     WHERE EXISTS (SELECT 1 FROM header))",
                    lines.table,
                    lines.columns,
                    values_rows_from(args.len() + 1, chunk.len() / lines.width, lines.width)
                ));
                args.extend_from_slice(chunk);
            }
            sql.push_str(" SELECT COUNT(*) FROM header");
            let (count,): (i64,) = query(sql).bind_all(args).fetch_one(tx).await?;
            count == 1
        }
        Backend::Sqlite => {
            query(insert_header)
                .bind_all(header.values)
                .execute(tx)
                .await?
                == 1
        }
    };
    if !inserted {
        return Ok(false);
    }
    for chunk in chunks {
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            lines.table,
            lines.columns,
            values_rows_from(1, chunk.len() / lines.width, lines.width)
        );
        query(sql).bind_all(chunk.to_vec()).execute(tx).await?;
    }
    Ok(true)
}
