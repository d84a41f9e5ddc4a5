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

/// The seq of an organization's newest event (0 before its first).
pub async fn head_seq(db: &Db, org_id: Uuid) -> Result<i64> {
    let row = sqlx::query("SELECT last_seq FROM event_chain_heads WHERE org_id = $1")
        .bind(org_id.to_string())
        .fetch_optional(&db.read)
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<i64, _>(0)?,
        None => 0,
    })
}

/// Filters of the events list; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<Uuid>,
    pub kind: Option<String>,
    pub actor: Option<String>,
    /// Inclusive lower bound of `occurred_at`.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Exclusive upper bound of `occurred_at`.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// Up to `limit` events of one organization after `after_seq`, in seq order, and whether
/// more follow.
pub async fn list(
    db: &Db,
    org_id: Uuid,
    filter: &EventFilter,
    after_seq: i64,
    limit: u32,
) -> Result<(Vec<EventRecord>, bool)> {
    let mut args: Vec<Arg> = vec![Arg::Text(org_id.to_string()), Arg::Int(after_seq)];
    let mut sql = format!("SELECT {COLUMNS} FROM events WHERE org_id = $1 AND seq > $2");
    let mut push = |sql: &mut String, column: &str, op: &str, value: Arg| {
        args.push(value);
        sql.push_str(&format!(" AND {column} {op} ${}", args.len()));
    };
    if let Some(v) = &filter.aggregate_type {
        push(&mut sql, "aggregate_type", "=", Arg::Text(v.clone()));
    }
    if let Some(v) = filter.aggregate_id {
        push(&mut sql, "aggregate_id", "=", Arg::Text(v.to_string()));
    }
    if let Some(v) = &filter.kind {
        push(&mut sql, "kind", "=", Arg::Text(v.clone()));
    }
    if let Some(v) = &filter.actor {
        push(&mut sql, "actor", "=", Arg::Text(v.clone()));
    }
    if let Some(v) = filter.from {
        push(
            &mut sql,
            "occurred_at",
            ">=",
            Arg::Int(crate::time::to_micros(v)),
        );
    }
    if let Some(v) = filter.to {
        push(
            &mut sql,
            "occurred_at",
            "<",
            Arg::Int(crate::time::to_micros(v)),
        );
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT {}", limit + 1));
    let mut query = sqlx::query(&sql);
    for arg in &args {
        query = match arg {
            Arg::Text(text) => query.bind(text),
            Arg::Int(int) => query.bind(*int),
        };
    }
    let rows = query.fetch_all(&db.read).await?;
    let mut events = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    Ok((events, more))
}

enum Arg {
    Text(String),
    Int(i64),
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub organizations: u64,
    /// Events whose link and hash checked out.
    pub verified: u64,
    /// The first break found, with the organization it is in.
    pub first_break: Option<(Uuid, ChainBreak)>,
}

/// Walks every organization's chain in seq order, streaming rows, and stops at the first
/// break. Then checks each chain head against the last event verified, so a deleted or forged
/// tail is found too. Everything is read in one snapshot, so commits landing meanwhile are
/// neither half-seen nor reported as breaks.
pub async fn verify_all(db: &Db) -> Result<VerifyReport> {
    let mut tx = db.read.begin().await?;
    if db.backend() == crate::Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    let mut report = VerifyReport {
        organizations: 0,
        verified: 0,
        first_break: None,
    };
    let mut chain_ends: std::collections::HashMap<Uuid, (i64, String)> =
        std::collections::HashMap::new();
    {
        let sql = format!("SELECT {COLUMNS} FROM events ORDER BY org_id, seq");
        let mut stream = sqlx::query(&sql).fetch(&mut *tx);
        let mut current: Option<(Uuid, ChainVerifier)> = None;
        while let Some(row) = stream.try_next().await? {
            let event = from_row(&row)?;
            if current.as_ref().is_none_or(|(org, _)| *org != event.org_id) {
                if let Some((org, verifier)) = current.take() {
                    chain_ends.insert(org, (verifier.last_seq(), verifier.last_hash().to_owned()));
                }
                report.organizations += 1;
                current = Some((event.org_id, ChainVerifier::default()));
            }
            let (org, verifier) = current.as_mut().expect("set above");
            if let Err(broken) = verifier.check(&event) {
                report.first_break = Some((*org, broken));
                return Ok(report);
            }
            report.verified += 1;
        }
        if let Some((org, verifier)) = current.take() {
            chain_ends.insert(org, (verifier.last_seq(), verifier.last_hash().to_owned()));
        }
    }
    let heads =
        sqlx::query("SELECT org_id, last_seq, last_hash FROM event_chain_heads ORDER BY org_id")
            .fetch_all(&mut *tx)
            .await?;
    for head in heads {
        let org = parse_uuid(&head.try_get::<String, _>(0)?)?;
        let head_seq: i64 = head.try_get(1)?;
        let head_hash: String = head.try_get(2)?;
        let (verified_seq, verified_hash) = chain_ends
            .remove(&org)
            .unwrap_or_else(|| (0, steelyard_domain::event::GENESIS_HASH.to_owned()));
        if verified_seq != head_seq {
            report.first_break = Some((
                org,
                ChainBreak::Missing {
                    previous: verified_seq,
                    seq: verified_seq + 1,
                    seq_found: head_seq,
                },
            ));
            break;
        }
        if verified_hash != head_hash {
            report.first_break = Some((org, ChainBreak::Altered { seq: head_seq }));
            break;
        }
    }
    // Events of an organization whose head row is gone.
    if report.first_break.is_none()
        && let Some((org, (last_seq, _))) = chain_ends.into_iter().min_by_key(|(org, _)| *org)
    {
        report.first_break = Some((org, ChainBreak::HeadMissing { last_seq }));
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
