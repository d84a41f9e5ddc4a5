//! Documents (an order and its lines, say): their per-organization numbers, writing a header
//! with its lines in as few statements as the engine allows, and reading them back through
//! the data scope. Numbering and writing happen inside the organization's serial section
//! (ADR 0006), where on PostgreSQL every round trip holds up the next document.

use std::collections::HashMap;

use steelyard_domain::access::DataScope;
use steelyard_domain::document::document_number;
use steelyard_domain::page::{Page, PageRequest};
use uuid::Uuid;

use crate::db::{Backend, Db};
use crate::error::{Result, StoreError};
use crate::organizations::escape_like;
use crate::sql::{FromColumns, Value, ids_in, query, scope_clause, values_rows_from};
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
    header: &Rows,
    unique_on: Option<&str>,
    lines: &Rows,
) -> Result<bool> {
    debug_assert_eq!(header.values.len(), header.width, "one header row");
    let insert_header = format!(
        "INSERT INTO {} ({}) VALUES {}{}",
        header.table,
        header.columns,
        values_rows_from(1, 1, header.width),
        on_conflict(unique_on)
    );
    let inserted = match tx.backend() {
        Backend::Postgres => {
            let (sql, args) = with_first_lines(
                format!("WITH header AS ({insert_header} RETURNING 1)"),
                header.values.clone(),
                lines,
                "SELECT COUNT(*) FROM header",
            );
            let (count,): (i64,) = query(sql).bind_all(args).fetch_one(tx).await?;
            count == 1
        }
        Backend::Sqlite => {
            query(insert_header)
                .bind_all(header.values.iter().cloned())
                .execute(tx)
                .await?
                == 1
        }
    };
    if inserted {
        let in_first_statement = match tx.backend() {
            Backend::Postgres => 1,
            Backend::Sqlite => 0,
        };
        insert_remaining_lines(tx, lines, in_first_statement).await?;
    }
    Ok(inserted)
}

/// The unique index of every numbered document table: a number is one document's within its
/// organization.
pub(crate) const NUMBER_KEY: &str = "org_id, number";

/// Inserts a document under the next number of its organization's `doc_type` counter and
/// returns that number, written as [`document_number`] writes it (`doc_type` is the prefix)
/// into the header's `number` column. A number someone chose by hand earlier is skipped:
/// [`NUMBER_KEY`] refuses it, and the counter moves on to the next.
///
/// This is one document's way, SQLite's, where statements run inline and cost no round trip.
/// On PostgreSQL new documents take `batch.rs`'s, which numbers and inserts several in one
/// statement.
pub(crate) async fn insert_with_next_number(
    tx: &mut Tx,
    org_id: Uuid,
    doc_type: &str,
    header: &mut Rows,
    lines: &Rows,
) -> Result<String> {
    let number_column = header
        .columns
        .split(',')
        .position(|column| column.trim() == "number")
        .ok_or_else(|| StoreError::Corrupt(format!("{} has no number column", header.table)))?;
    let mut skipped = 0;
    loop {
        let number = document_number(doc_type, next_number(tx, org_id, doc_type).await?);
        header.values[number_column] = Value::text(&number);
        if insert_with_lines(tx, header, Some(NUMBER_KEY), lines).await? {
            if skipped > 0 {
                // One counter step each: worth knowing about when many numbers were chosen
                // by hand (an import of old numbers, say).
                tracing::info!(%org_id, doc_type, skipped, %number, "skipped numbers chosen by hand");
            }
            return Ok(number);
        }
        skipped += 1;
    }
}

/// ` ON CONFLICT (…) DO NOTHING` on a unique index's columns, or nothing.
fn on_conflict(unique_on: Option<&str>) -> String {
    unique_on
        .map(|columns| format!(" ON CONFLICT ({columns}) DO NOTHING"))
        .unwrap_or_default()
}

/// Completes a PostgreSQL statement that starts `WITH header AS (…)`: the first hundred
/// `lines` are inserted in it only if the header was, and `answer` is its final `SELECT`.
fn with_first_lines(
    mut sql: String,
    mut args: Vec<Value>,
    lines: &Rows,
    answer: &str,
) -> (String, Vec<Value>) {
    debug_assert_eq!(lines.values.len() % lines.width, 0, "whole line rows");
    if let Some(chunk) = lines.values.chunks(LINES_PER_INSERT * lines.width).next() {
        sql.push_str(&format!(
            ", lines AS (INSERT INTO {} ({}) SELECT * FROM (VALUES {}) AS line \
             WHERE EXISTS (SELECT 1 FROM header))",
            lines.table,
            lines.columns,
            values_rows_from(args.len() + 1, chunk.len() / lines.width, lines.width)
        ));
        args.extend_from_slice(chunk);
    }
    sql.push(' ');
    sql.push_str(answer);
    (sql, args)
}

/// The lines an inserted header's statement did not take: all after its first `already`
/// hundred (one on PostgreSQL, see [`with_first_lines`]; none on SQLite).
async fn insert_remaining_lines(tx: &mut Tx, lines: &Rows, already: usize) -> Result<()> {
    for chunk in lines
        .values
        .chunks(LINES_PER_INSERT * lines.width)
        .skip(already)
    {
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            lines.table,
            lines.columns,
            values_rows_from(1, chunk.len() / lines.width, lines.width)
        );
        query(sql).bind_all(chunk.to_vec()).execute(tx).await?;
    }
    Ok(())
}

/// Where one kind of document is stored, for reading it back with its lines.
#[derive(Debug)]
pub(crate) struct DocumentTables {
    /// The header table, and the columns its [`FromColumns`] reads.
    pub header: &'static str,
    pub header_columns: &'static str,
    /// The lines table, and the columns (with `order_id`) that [`LineOf`] reads.
    pub lines: &'static str,
    pub line_columns: String,
    /// The header's partner column: a partner-scoped user sees only that partner's documents.
    pub partner_column: &'static str,
}

/// A document header that carries its lines.
pub(crate) trait WithLines: FromColumns {
    type Line;
    fn id(&self) -> Uuid;
    fn set_lines(&mut self, lines: Vec<Self::Line>);
}

/// A stored line, with the id of its document.
pub(crate) struct LineOf<L>(pub Uuid, pub L);

impl DocumentTables {
    /// One document the scope can see, with its lines.
    pub(crate) async fn get<D>(&self, db: &Db, scope: &DataScope, id: Uuid) -> Result<D>
    where
        D: WithLines,
        LineOf<D::Line>: FromColumns,
    {
        let (sql, args) = self.one(scope, id);
        let mut document: D = db
            .read_optional(&sql, &args)
            .await?
            .ok_or(StoreError::NotFound)?;
        let (sql, args) = self.lines_of(&[id]);
        let lines: Vec<LineOf<D::Line>> = db.read_all(&sql, &args).await?;
        document.set_lines(lines.into_iter().map(|LineOf(_, line)| line).collect());
        Ok(document)
    }

    /// The same, read inside a write transaction (for read-modify-write).
    pub(crate) async fn get_in<D>(&self, tx: &mut Tx, scope: &DataScope, id: Uuid) -> Result<D>
    where
        D: WithLines,
        LineOf<D::Line>: FromColumns,
    {
        let (sql, args) = self.one(scope, id);
        let mut document: D = query(&sql)
            .bind_all(args)
            .fetch_optional(tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let (sql, args) = self.lines_of(&[id]);
        let lines: Vec<LineOf<D::Line>> = query(&sql).bind_all(args).fetch_all(tx).await?;
        document.set_lines(lines.into_iter().map(|LineOf(_, line)| line).collect());
        Ok(document)
    }

    /// A page of the documents the scope can see, in id order, each with its lines: those of
    /// `org_id` when given, whose `equal` columns hold the given values, and whose number
    /// contains `number_contains`, ignoring case. The columns are the caller's constants.
    pub(crate) async fn list<D>(
        &self,
        db: &Db,
        scope: &DataScope,
        org_id: Option<Uuid>,
        equal: &[(&'static str, String)],
        number_contains: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<D>>
    where
        D: WithLines,
        LineOf<D::Line>: FromColumns,
    {
        let mut args = Vec::new();
        let mut sql = format!(
            "SELECT {} FROM {} WHERE 1 = 1",
            self.header_columns, self.header
        );
        if let Some(org) = org_id {
            args.push(org.to_string());
            sql.push_str(&format!(" AND org_id = ${}", args.len()));
        }
        sql.push_str(&scope_clause(scope, self.partner_column, &mut args));
        let mut push = |sql: &mut String, clause: &str, value: String| {
            args.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", args.len())));
        };
        for (column, value) in equal {
            push(&mut sql, &format!(" AND {column} = ?"), value.clone());
        }
        if let Some(q) = number_contains {
            let pattern = format!("%{}%", escape_like(&q.to_uppercase()));
            push(&mut sql, " AND UPPER(number) LIKE ? ESCAPE '\\'", pattern);
        }
        if let Some(after) = page.after {
            push(&mut sql, " AND id > ?", after.to_string());
        }
        sql.push_str(&format!(" ORDER BY id LIMIT {}", page.limit + 1));
        let args: Vec<Value> = args.into_iter().map(Value::text).collect();
        let mut documents: Vec<D> = db.read_all(&sql, &args).await?;
        let ids: Vec<Uuid> = documents.iter().map(D::id).collect();
        let mut lines: HashMap<Uuid, Vec<D::Line>> = HashMap::new();
        if !ids.is_empty() {
            let (sql, args) = self.lines_of(&ids);
            for LineOf(id, line) in db.read_all::<LineOf<D::Line>>(&sql, &args).await? {
                lines.entry(id).or_default().push(line);
            }
        }
        for document in &mut documents {
            document.set_lines(lines.remove(&document.id()).unwrap_or_default());
        }
        Ok(Page::from_overfetch(documents, page, D::id))
    }

    /// The query for one document the scope can see, and its arguments.
    fn one(&self, scope: &DataScope, id: Uuid) -> (String, Vec<Value>) {
        let mut args = vec![id.to_string()];
        let clause = scope_clause(scope, self.partner_column, &mut args);
        let sql = format!(
            "SELECT {} FROM {} WHERE id = $1{clause}",
            self.header_columns, self.header
        );
        (sql, args.into_iter().map(Value::text).collect())
    }

    /// The lines of the given documents, by document and line number.
    fn lines_of(&self, ids: &[Uuid]) -> (String, Vec<Value>) {
        let (placeholders, values) = ids_in(ids);
        let sql = format!(
            "SELECT {} FROM {} WHERE order_id IN ({placeholders}) ORDER BY order_id, line_no",
            self.line_columns, self.lines
        );
        (sql, values)
    }
}
