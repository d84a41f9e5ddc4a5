//! Times are stored as microseconds since the Unix epoch, the finest unit both engines keep.

use chrono::{DateTime, Utc};

use crate::StoreError;

pub fn to_micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {micros} out of range")))
}

/// Now, truncated to what the database keeps, so a value reads back equal to what was written.
pub fn now() -> DateTime<Utc> {
    let micros = Utc::now().timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

pub fn parse_uuid(raw: &str) -> Result<uuid::Uuid, StoreError> {
    raw.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad id {raw:?}")))
}
