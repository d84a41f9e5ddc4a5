//! Events: the append-only record of every change, chained by hash per organization.
//!
//! Each event's hash covers its own fields and the previous event's hash, so editing, removing
//! or reordering any stored event breaks the chain from that point on (`steelyard audit verify`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

/// The hash the first event of an organization chains to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A change a service is about to commit; the store gives it a sequence number and hash.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub org_id: Uuid,
    pub aggregate_type: &'static str,
    pub aggregate_id: Uuid,
    /// `<aggregate>.<past-tense verb>`, e.g. `organization.archived`.
    pub kind: &'static str,
    /// The aggregate as it is after the change.
    pub data: Value,
    /// For each changed field: `{"before": …, "after": …}`. Empty (`{}`) when the record is
    /// new: `data` already holds every value, and storing them twice would double the event.
    pub changes: Value,
}

impl NewEvent {
    /// An event for a change from `before` (None when created, and then `changes` is `{}`)
    /// to `after`.
    pub fn of_change<T: Serialize>(
        org_id: Uuid,
        aggregate_type: &'static str,
        aggregate_id: Uuid,
        kind: &'static str,
        before: Option<&T>,
        after: &T,
    ) -> Self {
        let after = serde_json::to_value(after).unwrap_or(Value::Null);
        let changes = match before {
            Some(before) => diff(
                Some(&serde_json::to_value(before).unwrap_or(Value::Null)),
                &after,
            ),
            None => Value::Object(Map::new()),
        };
        Self {
            org_id,
            aggregate_type,
            aggregate_id,
            kind,
            data: after,
            changes,
        }
    }
}

/// A stored event, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventRecord {
    pub org_id: Uuid,
    /// Gap-free, in commit order, per organization.
    pub seq: i64,
    pub id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub kind: String,
    /// The user or integration that made the change; `system` for the server itself.
    pub actor: String,
    pub request_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// JSON text exactly as hashed.
    pub data: String,
    /// JSON text exactly as hashed.
    pub changes: String,
    pub prev_hash: String,
    pub hash: String,
}

impl EventRecord {
    /// The hash this event must carry, from its own fields and `prev_hash`.
    pub fn expected_hash(&self) -> String {
        let mut hasher = Sha256::new();
        let micros = self.occurred_at.timestamp_micros().to_string();
        let seq = self.seq.to_string();
        let org = self.org_id.to_string();
        let id = self.id.to_string();
        let aggregate_id = self.aggregate_id.to_string();
        let fields: [&str; 12] = [
            &self.prev_hash,
            &org,
            &seq,
            &id,
            &self.aggregate_type,
            &aggregate_id,
            &self.kind,
            &self.actor,
            self.request_id.as_deref().unwrap_or(""),
            &micros,
            &self.data,
            &self.changes,
        ];
        // Length-prefixed, so no two different field lists hash the same bytes.
        for field in fields {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// Where and why a chain stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("event {seq} is missing (the chain jumps from {previous} to {seq_found})")]
    Missing {
        previous: i64,
        seq: i64,
        seq_found: i64,
    },
    #[error("event {seq} does not chain to the event before it (prev_hash differs)")]
    Unlinked { seq: i64 },
    #[error("event {seq} was altered (its hash does not match its contents)")]
    Altered { seq: i64 },
    #[error("the chain head row is missing (the chain's last event is {last_seq})")]
    HeadMissing { last_seq: i64 },
}

/// Checks events of one organization, in seq order, continuing from `previous` (seq, hash).
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    last_seq: i64,
    last_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainVerifier {
    pub fn check(&mut self, event: &EventRecord) -> Result<(), ChainBreak> {
        let expected_seq = self.last_seq + 1;
        if event.seq != expected_seq {
            return Err(ChainBreak::Missing {
                previous: self.last_seq,
                seq: expected_seq,
                seq_found: event.seq,
            });
        }
        if event.prev_hash != self.last_hash {
            return Err(ChainBreak::Unlinked { seq: event.seq });
        }
        if event.hash != event.expected_hash() {
            return Err(ChainBreak::Altered { seq: event.seq });
        }
        self.last_seq = event.seq;
        self.last_hash = event.hash.clone();
        Ok(())
    }

    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }
}

/// The top-level fields that differ between two JSON objects, as `{field: {before, after}}`.
/// Bookkeeping fields (`version`, `updated_at`) are left out: they change every time.
pub fn diff(before: Option<&Value>, after: &Value) -> Value {
    const BOOKKEEPING: [&str; 2] = ["version", "updated_at"];
    let empty = Map::new();
    let before_map = before.and_then(Value::as_object).unwrap_or(&empty);
    let after_map = after.as_object().unwrap_or(&empty);
    let mut changes = Map::new();
    for (field, new_value) in after_map {
        if BOOKKEEPING.contains(&field.as_str()) {
            continue;
        }
        let old_value = before_map.get(field).unwrap_or(&Value::Null);
        if old_value != new_value {
            changes.insert(
                field.clone(),
                serde_json::json!({ "before": old_value, "after": new_value }),
            );
        }
    }
    Value::Object(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: i64) -> Vec<EventRecord> {
        let org = crate::new_id();
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = EventRecord {
                    org_id: org,
                    seq,
                    id: crate::new_id(),
                    aggregate_type: "organization".into(),
                    aggregate_id: org,
                    kind: "organization.updated".into(),
                    actor: "system".into(),
                    request_id: Some(format!("req-{seq}")),
                    occurred_at: DateTime::from_timestamp_micros(1_700_000_000_000_000 + seq)
                        .unwrap(),
                    data: json!({"name": format!("v{seq}")}).to_string(),
                    changes: "{}".into(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.expected_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn verify(events: &[EventRecord]) -> Result<(), ChainBreak> {
        let mut verifier = ChainVerifier::default();
        events.iter().try_for_each(|e| verifier.check(e))
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(()));
    }

    #[test]
    fn an_edited_event_is_found() {
        let mut events = chain(5);
        events[2].data = json!({"name": "forged"}).to_string();
        assert_eq!(verify(&events), Err(ChainBreak::Altered { seq: 3 }));
    }

    #[test]
    fn an_edited_event_with_a_recomputed_hash_breaks_the_next_link() {
        let mut events = chain(5);
        events[2].actor = "mallory".into();
        events[2].hash = events[2].expected_hash();
        assert_eq!(verify(&events), Err(ChainBreak::Unlinked { seq: 4 }));
    }

    #[test]
    fn a_removed_event_is_found() {
        let mut events = chain(5);
        events.remove(1);
        assert!(matches!(
            verify(&events),
            Err(ChainBreak::Missing { seq: 2, .. })
        ));
    }

    #[test]
    fn diff_lists_changed_fields_with_before_and_after() {
        let before = json!({"name": "A", "tax_id": null, "version": 1});
        let after = json!({"name": "B", "tax_id": null, "version": 2});
        assert_eq!(
            diff(Some(&before), &after),
            json!({"name": {"before": "A", "after": "B"}})
        );
        assert_eq!(
            diff(None, &json!({"name": "A"})),
            json!({"name": {"before": null, "after": "A"}})
        );
    }

    #[test]
    fn a_new_record_is_stored_once_in_data_with_no_changes() {
        let event = |kind, before: Option<&Value>, after: &Value| {
            NewEvent::of_change(
                crate::new_id(),
                "partner",
                crate::new_id(),
                kind,
                before,
                after,
            )
        };
        let record = json!({"name": "A", "version": 1});
        let created = event("partner.created", None, &record);
        assert_eq!(created.data, record);
        assert_eq!(created.changes, json!({}));
        let renamed = event(
            "partner.updated",
            Some(&record),
            &json!({"name": "B", "version": 2}),
        );
        assert_eq!(
            renamed.changes,
            json!({"name": {"before": "A", "after": "B"}})
        );
    }
}
