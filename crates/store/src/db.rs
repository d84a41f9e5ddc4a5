//! Connecting to SQLite or PostgreSQL, migrating, and the pools behind both.
//!
//! SQLite gets one writer connection (`writer.rs`) and readers (`inline.rs`, and a sqlx pool for
//! long reads): writes queue in-process instead of failing with "database is locked", and WAL
//! lets readers run beside the writer. The sqlx writer pool on SQLite only migrates. PostgreSQL
//! uses one pool for both.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor, Row};

use crate::error::{Result, StoreError};
use crate::open_sessions::OpenSessions;
use crate::session_notices::SessionNotices;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Where the data lives: a SQLite file in the data dir, or a database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    SqliteFile(PathBuf),
    Url(String),
}

impl DbTarget {
    /// `DATABASE_URL` when set, else `steelyard.db` in the data dir.
    pub fn select(database_url: Option<&str>, data_dir: &Path) -> Self {
        match database_url.filter(|url| !url.trim().is_empty()) {
            Some(url) => Self::Url(url.trim().to_owned()),
            None => Self::SqliteFile(data_dir.join("steelyard.db")),
        }
    }

    pub fn backend(&self) -> Option<Backend> {
        match self {
            Self::SqliteFile(_) => Some(Backend::Sqlite),
            Self::Url(url) if url.starts_with("sqlite:") => Some(Backend::Sqlite),
            Self::Url(url)
                if url.starts_with("postgres://") || url.starts_with("postgresql://") =>
            {
                Some(Backend::Postgres)
            }
            Self::Url(_) => None,
        }
    }

    /// The target without credentials, for logs and `check-config`.
    pub fn redacted(&self) -> String {
        match self {
            Self::SqliteFile(path) => format!("sqlite file {}", path.display()),
            Self::Url(url) => redact_url(url),
        }
    }

    /// The SQLite file, when the target is one (not an in-memory database).
    fn sqlite_path(&self) -> Option<PathBuf> {
        match self {
            Self::SqliteFile(path) => Some(path.clone()),
            Self::Url(url) => {
                let rest = url
                    .strip_prefix("sqlite://")
                    .or(url.strip_prefix("sqlite:"))?;
                let path = rest.split('?').next().unwrap_or_default();
                (!path.is_empty() && !path.starts_with(":memory:") && !url.contains("mode=memory"))
                    .then(|| PathBuf::from(path))
            }
        }
    }

    fn url(&self) -> String {
        match self {
            Self::SqliteFile(path) => format!("sqlite://{}?mode=rwc", path.display()),
            Self::Url(url) => url.clone(),
        }
    }
}

/// Hides the password of a `scheme://user:password@host/…` URL.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            if credentials.contains(':') {
                format!("{scheme}://{user}:****@{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            }
        }
        None => url.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Pool sizes and timeouts.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// PostgreSQL connections, or SQLite reader connections.
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// An applied migration, for `/health/detailed`.
#[derive(Debug, Clone)]
pub struct MigrationInfo {
    pub version: i64,
    pub description: String,
}

/// The database: a reader pool and a writer pool (the same pool on PostgreSQL).
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) read: AnyPool,
    pub(crate) write: AnyPool,
    /// SQLite files only: short reads without the sqlx hand-off (`inline.rs`).
    pub(crate) inline: Option<std::sync::Arc<crate::inline::InlineReader>>,
    /// SQLite files only: write transactions without the sqlx hand-off (`writer.rs`).
    pub(crate) writer: Option<std::sync::Arc<crate::writer::SqliteWriter>>,
    /// PostgreSQL only: this instance's queue in front of each organization's serial section
    /// (`serial.rs`).
    pub(crate) serial: Option<std::sync::Arc<crate::serial::SerialQueues>>,
    /// PostgreSQL only: new documents waiting to be written together (`batch.rs`).
    pub(crate) batches: Option<std::sync::Arc<crate::batch::DocumentBatches>>,
    /// Sessions found open: on a SQLite file until the writer commits a change to sessions or
    /// users; on PostgreSQL until this instance hears of one (`open_sessions.rs`).
    pub(crate) open_sessions: Option<std::sync::Arc<crate::open_sessions::OpenSessions>>,
    /// PostgreSQL only: where this instance hears of closed sessions (`session_notices.rs`).
    notices: Option<std::sync::Arc<SessionNotices>>,
    /// This instance's committed events, for its subscribers (`bus.rs`).
    pub(crate) bus: crate::bus::Bus,
    backend: Backend,
    max_connections: u32,
}

impl Db {
    pub async fn connect(target: &DbTarget, settings: &PoolSettings) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = target.backend().ok_or_else(|| {
            StoreError::Corrupt(format!(
                "unsupported database URL {}: use postgres://… or sqlite://…",
                target.redacted()
            ))
        })?;
        if let DbTarget::SqliteFile(path) = target
            && let Some(dir) = path.parent()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create data dir {}: {e}", dir.display()))
            })?;
        }
        let options = AnyConnectOptions::from_str(&target.url())?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let db = match backend {
            Backend::Postgres => {
                // No ping before every checkout: it doubled the round trips of each
                // statement. A connection that died fails its statement and is discarded.
                let pool = AnyPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    .test_before_acquire(false)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // A page read at random costs little more than one read in order
                            // when the data is cached or on SSD. At the default (4) the planner
                            // scans a table of a few hundred rows whole for `id IN (…)`, and a
                            // generic plan rebuilds the list for every row: a quarter of
                            // PostgreSQL's CPU per purchase order (BENCHMARKS.md, cause 33).
                            conn.execute("SET random_page_cost = 1.1").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                Self {
                    read: pool.clone(),
                    write: pool,
                    inline: None,
                    writer: None,
                    serial: Some(std::sync::Arc::default()),
                    batches: Some(std::sync::Arc::default()),
                    open_sessions: Some(std::sync::Arc::new(
                        OpenSessions::heard_through_notifications(),
                    )),
                    notices: Some(std::sync::Arc::new(SessionNotices::new(&target.url())?)),
                    bus: crate::bus::Bus::default(),
                    backend,
                    max_connections: settings.max_connections,
                }
            }
            Backend::Sqlite => {
                let write_timeout = settings.acquire_timeout * 6;
                let write = sqlite_pool(1, write_timeout)
                    .connect_with(options.clone())
                    .await?;
                write.execute("PRAGMA journal_mode = WAL").await?;
                let path = target.sqlite_path();
                let writer = match &path {
                    Some(path) => Some(std::sync::Arc::new(crate::writer::SqliteWriter::open(
                        path,
                        write_timeout,
                    )?)),
                    None => None,
                };
                let open_sessions = writer.as_ref().map(|writer| writer.open_sessions());
                let read = sqlite_pool(settings.max_connections, settings.acquire_timeout)
                    .connect_with(options)
                    .await?;
                Self {
                    read,
                    write,
                    inline: path
                        .map(|path| std::sync::Arc::new(crate::inline::InlineReader::new(&path))),
                    writer,
                    serial: None,
                    batches: None,
                    open_sessions,
                    notices: None,
                    bus: crate::bus::Bus::default(),
                    backend,
                    max_connections: settings.max_connections + 1,
                }
            }
        };
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This instance's committed events: every transaction's, published by its commit.
    pub fn bus(&self) -> &crate::bus::Bus {
        &self.bus
    }

    /// Applies pending migrations; safe to run from several instances at once on PostgreSQL
    /// (sqlx takes an advisory lock); on SQLite the single writer connection serializes them.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.write).await?;
        if let Some(notices) = &self.notices {
            notices.install(&self.write).await?;
        }
        Ok(())
    }

    /// Migrations this binary knows that the database has not applied yet.
    pub async fn pending_migrations(&self) -> Result<Vec<MigrationInfo>> {
        let applied: Vec<i64> = self
            .applied_migrations()
            .await?
            .iter()
            .map(|m| m.version)
            .collect();
        Ok(MIGRATOR
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| MigrationInfo {
                version: m.version,
                description: m.description.to_string(),
            })
            .collect())
    }

    pub async fn applied_migrations(&self) -> Result<Vec<MigrationInfo>> {
        let rows = sqlx::query(
            "SELECT version, description FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        )
        .fetch_all(&self.read)
        .await;
        match rows {
            Ok(rows) => rows
                .iter()
                .map(|row| {
                    Ok(MigrationInfo {
                        version: row.try_get(0)?,
                        description: row.try_get(1)?,
                    })
                })
                .collect(),
            // No migrations table yet: nothing applied.
            Err(sqlx::Error::Database(_)) => Ok(Vec::new()),
            Err(other) => Err(other.into()),
        }
    }

    /// One round trip to the database, for `/ready`. It uses a reader: on SQLite the single
    /// writer may be busy with real work, which is no reason to call the node unready.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    pub fn pool_stats(&self) -> PoolStats {
        let mut size = self.read.size();
        let mut idle = self.read.num_idle() as u32;
        if self.backend == Backend::Sqlite {
            size += self.write.size();
            idle += self.write.num_idle() as u32;
        }
        PoolStats {
            size,
            idle,
            max: self.max_connections,
        }
    }

    /// Waits for checked-out connections to return, then closes every connection.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    /// Starts the background work a long-running server needs from the store: on a SQLite file,
    /// the WAL checkpoints (`writer.rs`); on PostgreSQL, hearing of closed sessions
    /// (`session_notices.rs`), without which no remembered session is trusted. Commands that
    /// open the database briefly skip it.
    pub fn start_background_work(&self) -> Result<()> {
        if let (Some(notices), Some(sessions)) = (&self.notices, &self.open_sessions) {
            notices.start(sessions);
        }
        match &self.writer {
            Some(writer) => writer.start_checkpoints(),
            None => Ok(()),
        }
    }

    /// One write statement outside any transaction (bookkeeping with no event, such as a
    /// failed-login count): on SQLite's writer, or the pool. How many rows it changed.
    pub(crate) async fn write_once(&self, sql: &str, args: &[crate::sql::Value]) -> Result<u64> {
        if let Some(writer) = &self.writer {
            // Off the async workers: the purges among these can change many rows.
            let writer = writer.lock().await?;
            let (sql, args) = (sql.to_owned(), args.to_vec());
            return tokio::task::spawn_blocking(move || writer.execute_alone(&sql, &args))
                .await
                .map_err(|e| StoreError::Corrupt(format!("a write task failed: {e}")))?;
        }
        Ok(crate::sql::sqlx_query(sql, args)
            .execute(&self.write)
            .await?
            .rows_affected())
    }

    /// How many session checks were answered from memory (`open_sessions.rs`).
    pub fn sessions_answered_from_memory(&self) -> u64 {
        self.open_sessions
            .as_ref()
            .map_or(0, |sessions| sessions.answered())
    }

    /// The pool for reads that need no transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }
}

fn sqlite_pool(max_connections: u32, acquire_timeout: Duration) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        // A SQLite connection is a file handle: there is nothing to ping.
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;",
                )
                .await?;
                Ok(())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/erp"),
            "postgres://app:****@db:5432/erp"
        );
        assert_eq!(redact_url("postgres://app@db/erp"), "postgres://app@db/erp");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn the_database_url_wins_over_the_data_dir() {
        let dir = Path::new("/var/lib/steelyard");
        assert_eq!(
            DbTarget::select(None, dir),
            DbTarget::SqliteFile(dir.join("steelyard.db"))
        );
        assert_eq!(
            DbTarget::select(Some("postgres://x/y"), dir).backend(),
            Some(Backend::Postgres)
        );
        assert_eq!(DbTarget::select(Some("mysql://x/y"), dir).backend(), None);
    }
}
