//! Short reads on SQLite, run inline on the calling thread instead of through sqlx.
//!
//! sqlx-sqlite runs each connection on its own thread, so every statement is a hand-off and a
//! wake-up each way; on a two-core machine that, not SQLite, was most of the cost of a GET
//! (BENCHMARKS.md, cause 4). Here each thread that reads keeps its own query-only connection
//! with a statement cache, and a point read or a bounded page runs in a few microseconds
//! without leaving the thread. In WAL mode readers never wait for the writer. PostgreSQL, and
//! SQLite without a file, take the same queries through the sqlx read pool. ADR 0004 says why
//! and where the line is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sqlx::Row;
use sqlx::any::AnyRow;
use thread_local::ThreadLocal;

use crate::db::Db;
use crate::error::{Result, StoreError};

/// One query-only SQLite connection per thread, opened on first use.
pub(crate) struct InlineReader {
    path: PathBuf,
    connections: ThreadLocal<Connection>,
}

impl std::fmt::Debug for InlineReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Statements kept prepared per connection: every hot read fits with room to spare.
const STATEMENT_CACHE: usize = 64;
/// A reader waits this long for a lock (only checkpoints and migrations take one).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl InlineReader {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            connections: ThreadLocal::new(),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        // Read-write at the file level so the WAL index can be mapped like the writer does,
        // and `query_only` so nothing is ever written through it.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "query_only", true)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(connection)
    }

    fn query<T: FromColumns>(&self, sql: &str, args: &[Value]) -> Result<Vec<T>> {
        let connection = self.connections.get_or_try(|| self.open())?;
        let mut statement = connection.prepare_cached(sql)?;
        for (n, arg) in args.iter().enumerate() {
            let name = format!("${}", n + 1);
            let index = statement
                .parameter_index(&name)?
                .ok_or_else(|| StoreError::Corrupt(format!("no parameter {name} in {sql}")))?;
            match arg {
                Value::Text(text) => statement.raw_bind_parameter(index, text)?,
                Value::Int(int) => statement.raw_bind_parameter(index, int)?,
            }
        }
        let mut rows = statement.raw_query();
        let mut items = Vec::new();
        while let Some(row) = rows.next()? {
            items.push(T::from_columns(row)?);
        }
        Ok(items)
    }
}

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

/// A result row of either engine, read by column name.
pub trait Columns {
    fn get<T: Column>(&self, name: &str) -> Result<T>;
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
}

impl Columns for rusqlite::Row<'_> {
    fn get<T: Column>(&self, name: &str) -> Result<T> {
        Ok(rusqlite::Row::get::<_, T>(self, name)?)
    }
}

/// A record built from one row of either engine.
pub trait FromColumns: Sized {
    fn from_columns<R: Columns>(row: &R) -> Result<Self>;
}

impl Db {
    /// Runs a short, bounded read (a point read or one page): inline on SQLite, on the read
    /// pool otherwise. Long scans and anything inside a transaction stay on sqlx.
    pub(crate) async fn read_all<T: FromColumns>(
        &self,
        sql: &str,
        args: &[Value],
    ) -> Result<Vec<T>> {
        if let Some(inline) = self.inline.as_deref() {
            return inline.query(sql, args);
        }
        let mut query = sqlx::query(sql);
        for arg in args {
            query = match arg {
                Value::Text(text) => query.bind(text.as_deref()),
                Value::Int(int) => query.bind(*int),
            };
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.iter().map(T::from_columns).collect()
    }

    /// The first row of a short read, if any (see [`Db::read_all`]).
    pub(crate) async fn read_optional<T: FromColumns>(
        &self,
        sql: &str,
        args: &[Value],
    ) -> Result<Option<T>> {
        Ok(self.read_all(sql, args).await?.into_iter().next())
    }
}
