//! Storage failures, sorted into what callers can act on.

/// What went wrong in the store. `NotFound`, `Duplicate` and `Stale` are expected outcomes a
/// service turns into 404, 409 and 412; `Database` is unexpected and becomes a logged 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the row; the text names the constraint.
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// The row changed since the caller read it.
    #[error("stale version")]
    Stale,
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// No connection came free within the acquire timeout (overload).
    #[error("every database connection is busy")]
    Busy,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A failure of an inline SQLite statement (`inline.rs`, `writer.rs`).
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// The same outcome for another caller that shares it (the members of a failed batch).
    /// The driver's errors cannot be cloned; their copy keeps the message, and stays a 500.
    pub(crate) fn clone_for_answer(&self) -> Self {
        match self {
            Self::NotFound => Self::NotFound,
            Self::Duplicate(name) => Self::Duplicate(name.clone()),
            Self::Stale => Self::Stale,
            Self::Corrupt(text) => Self::Corrupt(text.clone()),
            Self::Busy => Self::Busy,
            other => Self::Database(sqlx::Error::Protocol(other.to_string())),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let Some(db_error) = error.as_database_error()
            && db_error.is_unique_violation()
        {
            let name = db_error
                .constraint()
                .unwrap_or_else(|| db_error.message())
                .to_owned();
            return Self::Duplicate(name);
        }
        if matches!(error, sqlx::Error::RowNotFound) {
            return Self::NotFound;
        }
        if matches!(error, sqlx::Error::PoolTimedOut) {
            return Self::Busy;
        }
        Self::Database(error)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        // The extended codes of a unique index and of a primary key.
        const UNIQUE: i32 = 2067;
        const PRIMARY_KEY: i32 = 1555;
        match &error {
            rusqlite::Error::SqliteFailure(failure, message)
                if matches!(failure.extended_code, UNIQUE | PRIMARY_KEY) =>
            {
                // "UNIQUE constraint failed: table.column": as telling as PostgreSQL's name.
                Self::Duplicate(message.clone().unwrap_or_else(|| failure.to_string()))
            }
            _ => match error.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    Self::Busy
                }
                _ => Self::Sqlite(error),
            },
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
