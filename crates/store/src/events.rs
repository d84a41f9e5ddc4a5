//! Reading the event log: per aggregate for history, and whole chains for `audit verify`.

use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::any::AnyRow;
use steelyard_domain::event::{ChainBreak, ChainVerifier, EventRecord};
use uuid::Uuid;

use crate::db::Db;
use crate::error::Result;
use crate::time::{from_micros, parse_uuid};

const COLUMNS: &str = "org_id, seq, id, aggregate_type, aggregate_id, kind, actor, request_id, \
                       occurred_at, data, changes, prev_hash, hash";

/// Every event of one aggregate, oldest first.
pub async fn for_aggregate(
    db: &Db,
    org_id: Uuid,
    aggregate_type: &str,
    aggregate_id: Uuid,
) -> Result<Vec<EventRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM events WHERE org_id = $1 AND aggregate_type = $2 AND aggregate_id = $3 ORDER BY seq"
    ))
    .bind(org_id.to_string())
    .bind(aggregate_type)
    .bind(aggregate_id.to_string())
    .fetch_all(&db.read)
    .await?;
    rows.iter().map(from_row).collect()
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub organizations: u64,
    pub events: u64,
    /// The first break found, with the organization it is in.
    pub first_break: Option<(Uuid, ChainBreak)>,
}

/// Walks every organization's chain in seq order, streaming rows, and stops at the first
/// break. Also checks each chain head against its last event, so a deleted tail is found.
pub async fn verify_all(db: &Db) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        organizations: 0,
        events: 0,
        first_break: None,
    };
    let sql = format!("SELECT {COLUMNS} FROM events ORDER BY org_id, seq");
    let mut stream = sqlx::query(&sql).fetch(&db.read);
    let mut current: Option<(Uuid, ChainVerifier)> = None;
    let mut heads_to_check = Vec::new();
    while let Some(row) = stream.try_next().await? {
        let event = from_row(&row)?;
        if current.as_ref().is_none_or(|(org, _)| *org != event.org_id) {
            if let Some((org, verifier)) = current.take() {
                heads_to_check.push((org, verifier.last_seq()));
            }
            report.organizations += 1;
            current = Some((event.org_id, ChainVerifier::default()));
        }
        let (org, verifier) = current.as_mut().expect("set above");
        report.events += 1;
        if let Err(broken) = verifier.check(&event) {
            report.first_break = Some((*org, broken));
            return Ok(report);
        }
    }
    drop(stream);
    if let Some((org, verifier)) = current.take() {
        heads_to_check.push((org, verifier.last_seq()));
    }
    let heads = sqlx::query("SELECT org_id, last_seq FROM event_chain_heads ORDER BY org_id")
        .fetch_all(&db.read)
        .await?;
    for head in heads {
        let org = parse_uuid(&head.try_get::<String, _>(0)?)?;
        let head_seq: i64 = head.try_get(1)?;
        let verified = heads_to_check
            .iter()
            .find(|(o, _)| *o == org)
            .map_or(0, |(_, seq)| *seq);
        if verified != head_seq {
            report.first_break = Some((
                org,
                ChainBreak::Missing {
                    previous: verified,
                    seq: verified + 1,
                    seq_found: head_seq,
                },
            ));
            break;
        }
    }
    Ok(report)
}

fn from_row(row: &AnyRow) -> Result<EventRecord> {
    Ok(EventRecord {
        org_id: parse_uuid(&row.try_get::<String, _>("org_id")?)?,
        seq: row.try_get("seq")?,
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: parse_uuid(&row.try_get::<String, _>("aggregate_id")?)?,
        kind: row.try_get("kind")?,
        actor: row.try_get("actor")?,
        request_id: row.try_get("request_id")?,
        occurred_at: from_micros(row.try_get("occurred_at")?)?,
        data: row.try_get("data")?,
        changes: row.try_get("changes")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
