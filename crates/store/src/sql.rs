//! The store's statement vocabulary, shared by both engines: bound values, rows read by column,
//! and a query builder that runs on a write transaction of either engine.
//!
//! On a SQLite file a statement runs on a rusqlite connection on the calling thread (the
//! per-thread readers of `inline.rs`, the writer of `writer.rs`); everywhere else it runs
//! through sqlx. The SQL is the same text for both: `$n` parameters, which SQLite takes as
//! named parameters and PostgreSQL as positional ones.

use std::borrow::Cow;

use sqlx::Row;
use sqlx::any::{Any, AnyArguments, AnyRow};
use sqlx::query::Query as SqlxQuery;

use crate::error::{Result, StoreError};
use crate::tx::Tx;

/// One bound value: the store's tables mix text and integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
}

impl Value {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(Some(text.into()))
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Self::Text(Some(text))
    }
}

impl From<&String> for Value {
    fn from(text: &String) -> Self {
        Self::Text(Some(text.clone()))
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Self::Text(Some(text.to_owned()))
    }
}

impl From<Option<String>> for Value {
    fn from(text: Option<String>) -> Self {
        Self::Text(text)
    }
}

impl From<&Option<String>> for Value {
    fn from(text: &Option<String>) -> Self {
        Self::Text(text.clone())
    }
}

impl From<Option<&str>> for Value {
    fn from(text: Option<&str>) -> Self {
        Self::Text(text.map(str::to_owned))
    }
}

impl From<i64> for Value {
    fn from(int: i64) -> Self {
        Self::Int(Some(int))
    }
}

impl From<Option<i64>> for Value {
    fn from(int: Option<i64>) -> Self {
        Self::Int(int)
    }
}

/// A result row of either engine, read by column name or position.
pub trait Columns {
    fn get<T: Column>(&self, name: &str) -> Result<T>;
    fn at<T: Column>(&self, index: usize) -> Result<T>;
}

/// A column type both engines decode: text, integers, and their `Option`s.
pub trait Column:
    for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + rusqlite::types::FromSql
{
}

impl<T> Column for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + rusqlite::types::FromSql
{
}

impl Columns for AnyRow {
    fn get<T: Column>(&self, name: &str) -> Result<T> {
        Ok(self.try_get::<T, _>(name)?)
    }

    fn at<T: Column>(&self, index: usize) -> Result<T> {
        Ok(self.try_get::<T, _>(index)?)
    }
}

/// A rusqlite row with its statement's column names, read once per query. rusqlite's own
/// lookup by name asks SQLite for every column's name on every `get` (a C call, `strlen` and a
/// UTF-8 check each): about 6% of the server's CPU in the benchmark's mix. As there, the
/// first column of a name wins.
struct NamedRow<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    names: &'r [String],
}

impl Columns for NamedRow<'_, '_> {
    fn get<T: Column>(&self, name: &str) -> Result<T> {
        let index = self
            .names
            .iter()
            .position(|column| column.eq_ignore_ascii_case(name))
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(name.to_owned()))?;
        self.at(index)
    }

    fn at<T: Column>(&self, index: usize) -> Result<T> {
        Ok(self.row.get::<_, T>(index)?)
    }
}

/// A record built from one row of either engine.
pub trait FromColumns: Sized {
    fn from_columns<R: Columns>(row: &R) -> Result<Self>;
}

/// A row of one or a few unnamed columns (`SELECT COUNT(*)`, `RETURNING last`), by position.
macro_rules! positional_row {
    ($($name:ident $index:tt),+) => {
        impl<$($name: Column),+> FromColumns for ($($name,)+) {
            fn from_columns<R: Columns>(row: &R) -> Result<Self> {
                Ok(($(row.at::<$name>($index)?,)+))
            }
        }
    };
}

positional_row!(A 0);
positional_row!(A 0, B 1);
positional_row!(A 0, B 1, C 2);
positional_row!(A 0, B 1, C 2, D 3);
positional_row!(A 0, B 1, C 2, D 3, E 4);
positional_row!(A 0, B 1, C 2, D 3, E 4, F 5);

/// `rows` rows of `columns` parameters for a multi-row `VALUES`, numbered from `$1`:
/// `($1, $2), ($3, $4)`.
pub(crate) fn values_rows(rows: usize, columns: usize) -> String {
    values_rows_from(1, rows, columns)
}

/// As [`values_rows`], numbered from `$first`, for values that follow others in a statement.
pub(crate) fn values_rows_from(first: usize, rows: usize, columns: usize) -> String {
    let row = |r: usize| {
        let params: Vec<String> = (first + r * columns..first + (r + 1) * columns)
            .map(|p| format!("${p}"))
            .collect();
        format!("({})", params.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// PostgreSQL: rows passed as one JSON parameter, `$param`, and read back as a table: the
/// `FROM` item `json_to_recordset($param::json) AS alias(column type, …)` and the parameter's
/// value. Unlike a `VALUES` list, the statement's text is the same for any number of rows, so
/// it is prepared once (BENCHMARKS.md, cause 32). `columns` name the values of each row, in
/// order; their types are the first row's (`Text` is `text`, `Int` is `bigint`).
pub(crate) fn json_recordset(
    param: usize,
    alias: &str,
    columns: &[&str],
    rows: &[&[Value]],
) -> (String, Value) {
    let mut json = Vec::with_capacity(rows.len() * columns.len() * 24);
    json.push(b'[');
    for (r, row) in rows.iter().enumerate() {
        debug_assert_eq!(row.len(), columns.len(), "one value per column");
        debug_assert!(
            rows[0]
                .iter()
                .zip(row.iter())
                .all(|(a, b)| std::mem::discriminant(a) == std::mem::discriminant(b)),
            "every row's column has the first row's type"
        );
        json.extend_from_slice(if r == 0 { b"{" } else { b",{" });
        for (c, (column, value)) in columns.iter().zip(row.iter()).enumerate() {
            if c > 0 {
                json.push(b',');
            }
            // Column names are the store's constants: plain identifiers, nothing to escape.
            json.push(b'"');
            json.extend_from_slice(column.as_bytes());
            json.extend_from_slice(b"\":");
            match value {
                Value::Text(Some(text)) => {
                    serde_json::to_writer(&mut json, text).expect("a string serializes")
                }
                Value::Int(Some(number)) => json.extend_from_slice(number.to_string().as_bytes()),
                Value::Text(None) | Value::Int(None) => json.extend_from_slice(b"null"),
            }
        }
        json.push(b'}');
    }
    json.push(b']');
    let types: Vec<String> = match rows.first() {
        Some(first) => columns
            .iter()
            .zip(first.iter())
            .map(|(column, value)| match value {
                Value::Text(_) => format!("{column} text"),
                Value::Int(_) => format!("{column} bigint"),
            })
            .collect(),
        None => columns
            .iter()
            .map(|column| format!("{column} text"))
            .collect(),
    };
    let from = format!(
        "json_to_recordset(${param}::json) AS {alias}({})",
        types.join(", ")
    );
    let json = String::from_utf8(json).expect("JSON written from strings is UTF-8");
    (from, Value::Text(Some(json)))
}

/// The conditions that keep a read inside the data scope, appended to a `WHERE`, with their
/// arguments pushed onto `args`: the organization for INTERNAL actors and, for EXTERNAL ones,
/// also their partner in `partner_column` (`id` for partners themselves, `vendor_id` or
/// `customer_id` for a partner's documents).
pub(crate) fn scope_clause(
    scope: &steelyard_domain::access::DataScope,
    partner_column: &str,
    args: &mut Vec<String>,
) -> String {
    let mut clause = String::new();
    if let Some(org) = scope.org_id() {
        args.push(org.to_string());
        clause.push_str(&format!(" AND org_id = ${}", args.len()));
    }
    if let steelyard_domain::access::DataScope::Partner { partner_id, .. } = scope {
        args.push(partner_id.to_string());
        clause.push_str(&format!(" AND {partner_column} = ${}", args.len()));
    }
    clause
}

/// An `IN (…)` list of the ids, numbered from `$1`, and their values.
///
/// The list is padded to a power of two by repeating the last id, which matches nothing more.
/// Each length is a statement of its own to the driver's per-connection cache of prepared
/// statements (100 on PostgreSQL): a page of orders reading the lines of 1 to 50 orders would
/// otherwise prepare up to 50 texts of one query and push the others out.
pub(crate) fn ids_in(ids: &[uuid::Uuid]) -> (String, Vec<Value>) {
    let padded = ids.len().max(1).next_power_of_two();
    let placeholders: Vec<String> = (1..=padded).map(|i| format!("${i}")).collect();
    let last = ids.last().copied().unwrap_or_default();
    let values = (0..padded)
        .map(|i| Value::text(ids.get(i).copied().unwrap_or(last).to_string()))
        .collect();
    (placeholders.join(", "), values)
}

/// The statement as sqlx runs it, with `args` bound in order.
pub(crate) fn sqlx_query<'q>(
    sql: &'q str,
    args: &'q [Value],
) -> SqlxQuery<'q, Any, AnyArguments<'q>> {
    let mut query = sqlx::query(sql);
    for arg in args {
        query = match arg {
            Value::Text(text) => query.bind(text.as_deref()),
            Value::Int(int) => query.bind(*int),
        };
    }
    query
}

/// Prepares (from the connection's cache) and binds a statement on a rusqlite connection.
fn sqlite_statement<'c>(
    connection: &'c rusqlite::Connection,
    sql: &str,
    args: &[Value],
) -> Result<rusqlite::CachedStatement<'c>> {
    let mut statement = connection.prepare_cached(sql)?;
    // SQLite numbers the parameters in order of first appearance, not by the number in `$n`:
    // read each one's name once (looking names up would be quadratic in a wide INSERT).
    let count = statement.parameter_count();
    if count != args.len() {
        return Err(StoreError::Corrupt(format!(
            "{} values for {count} parameters in {sql}",
            args.len()
        )));
    }
    for index in 1..=count {
        let arg = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$')?.parse::<usize>().ok())
            .and_then(|n| args.get(n.checked_sub(1)?))
            .ok_or_else(|| {
                StoreError::Corrupt(format!("parameter {index} of {sql} is not $1…${count}"))
            })?;
        match arg {
            Value::Text(text) => statement.raw_bind_parameter(index, text)?,
            Value::Int(int) => statement.raw_bind_parameter(index, int)?,
        }
    }
    Ok(statement)
}

/// Runs a query on a rusqlite connection and maps every row.
pub(crate) fn sqlite_rows<T: FromColumns>(
    connection: &rusqlite::Connection,
    sql: &str,
    args: &[Value],
) -> Result<Vec<T>> {
    let mut statement = sqlite_statement(connection, sql, args)?;
    let names: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut rows = statement.raw_query();
    let mut items = Vec::new();
    while let Some(row) = rows.next()? {
        let row = NamedRow { row, names: &names };
        items.push(T::from_columns(&row)?);
    }
    Ok(items)
}

/// Runs a statement that returns no rows on a rusqlite connection; how many rows it changed.
pub(crate) fn sqlite_execute(
    connection: &rusqlite::Connection,
    sql: &str,
    args: &[Value],
) -> Result<u64> {
    let changed = sqlite_statement(connection, sql, args)?.raw_execute()?;
    Ok(changed as u64)
}

/// A statement and its arguments, built like a sqlx query and run on a [`Tx`].
#[derive(Debug, Clone)]
pub(crate) struct Query<'q> {
    sql: Cow<'q, str>,
    args: Vec<Value>,
}

pub(crate) fn query<'q>(sql: impl Into<Cow<'q, str>>) -> Query<'q> {
    Query {
        sql: sql.into(),
        args: Vec::new(),
    }
}

impl Query<'_> {
    pub(crate) fn bind(mut self, value: impl Into<Value>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Binds every value of `values`, in order.
    pub(crate) fn bind_all(mut self, values: impl IntoIterator<Item = Value>) -> Self {
        self.args.extend(values);
        self
    }

    /// Runs the statement; how many rows it changed.
    pub(crate) async fn execute(self, tx: &mut Tx) -> Result<u64> {
        tx.execute(&self.sql, &self.args).await
    }

    pub(crate) async fn fetch_all<T: FromColumns>(self, tx: &mut Tx) -> Result<Vec<T>> {
        tx.fetch_all(&self.sql, &self.args).await
    }

    pub(crate) async fn fetch_optional<T: FromColumns>(self, tx: &mut Tx) -> Result<Option<T>> {
        Ok(self.fetch_all(tx).await?.into_iter().next())
    }

    /// The first row; `NotFound` when there is none.
    pub(crate) async fn fetch_one<T: FromColumns>(self, tx: &mut Tx) -> Result<T> {
        self.fetch_optional(tx).await?.ok_or(StoreError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_values_number_their_parameters_row_after_row() {
        assert_eq!(values_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_rows(1, 1), "($1)");
        assert_eq!(values_rows_from(4, 2, 2), "($4, $5), ($6, $7)");
        let ids = [uuid::Uuid::nil(), uuid::Uuid::max()];
        let (placeholders, values) = ids_in(&ids);
        assert_eq!(placeholders, "$1, $2");
        assert_eq!(values[1], Value::text(ids[1].to_string()));
    }

    #[test]
    fn id_lists_come_in_few_lengths_and_pad_with_the_last_id() {
        let ids: Vec<uuid::Uuid> = (0..9).map(|_| uuid::Uuid::now_v7()).collect();
        let lengths: Vec<usize> = [1, 2, 3, 5, 8, 9]
            .iter()
            .map(|&n| ids_in(&ids[..n]).1.len())
            .collect();
        assert_eq!(lengths, [1, 2, 4, 8, 8, 16]);
        let (placeholders, values) = ids_in(&ids[..3]);
        assert_eq!(placeholders, "$1, $2, $3, $4");
        assert_eq!(values[2], Value::text(ids[2].to_string()));
        assert_eq!(values[3], values[2]);
    }
}
