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
use thread_local::ThreadLocal;

use crate::db::Db;
use crate::error::Result;
use crate::sql::{FromColumns, Value, sqlite_rows, sqlx_query};

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
        sqlite_rows(connection, sql, args)
    }
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
        let rows = sqlx_query(sql, args).fetch_all(&self.read).await?;
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
