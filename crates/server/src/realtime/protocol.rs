//! The WebSocket wire protocol: JSON text frames in both directions (docs/realtime.md), and
//! the live event, whose frames are serialized once per event and topic, not once per client.

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::Value;
use steelyard_domain::event::EventRecord;
use steelyard_domain::realtime::topics_of;
use uuid::Uuid;

/// Close codes the hub uses; clients tell by the code whether and how to come back.
pub mod close {
    /// No valid authentication arrived (bad token, or none in time): sign in again.
    pub const UNAUTHORIZED: u16 = 4001;
    /// The access token expired and no fresh one was sent: refresh, reconnect, resume.
    pub const TOKEN_EXPIRED: u16 = 4002;
    /// The client read too slowly and its send queue filled: reconnect and resume.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// The user already holds as many sockets as allowed.
    pub const TOO_MANY_CONNECTIONS: u16 = 4009;
    /// The client sent more messages than allowed.
    pub const TOO_MANY_MESSAGES: u16 = 4029;
    /// The server is shutting down: reconnect (to another instance) and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// The server could not check the token (database unavailable): reconnect later.
    pub const TRY_AGAIN: u16 = 1013;
}

/// What a client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Authenticates the socket, or refreshes its token before it expires. `batch: true`
    /// asks for bursts to be delivered as one `batch` frame.
    Auth {
        token: String,
        #[serde(default)]
        batch: Option<bool>,
    },
    Subscribe {
        topic: String,
        #[serde(default)]
        since: Option<i64>,
    },
    Unsubscribe {
        topic: String,
    },
    /// An application-level ping for clients that cannot send WebSocket pings (browsers).
    Ping,
}

/// `{"type":"error",…}`: a refused message; the socket stays open.
pub fn error(code: &str, message: &str, topic: Option<&str>) -> Utf8Bytes {
    let mut frame = serde_json::json!({"type": "error", "code": code, "message": message});
    if let Some(topic) = topic {
        frame["topic"] = Value::from(topic);
    }
    frame.to_string().into()
}

/// `{"type":"authenticated",…}`: the socket may subscribe now.
pub fn authenticated(user_id: Option<Uuid>, org_id: Uuid, expires_at: Option<i64>) -> Utf8Bytes {
    serde_json::json!({
        "type": "authenticated",
        "user_id": user_id,
        "organization_id": org_id,
        "expires_at": expires_at,
    })
    .to_string()
    .into()
}

/// `{"type":"subscribed",…}` with the organization's newest seq once any replay is done.
pub fn subscribed(topic: &str, seq: i64, replayed: u64) -> Utf8Bytes {
    serde_json::json!({"type": "subscribed", "topic": topic, "seq": seq, "replayed": replayed})
        .to_string()
        .into()
}

/// `{"type":"error","code":"resync_required",…}`: `since` is too far back to replay; the
/// client reloads its state over REST and subscribes again without `since`.
pub fn resync_required(topic: &str, head: i64) -> Utf8Bytes {
    serde_json::json!({
        "type": "error",
        "code": "resync_required",
        "message": "too far behind to replay; reload and subscribe without since",
        "topic": topic,
        "seq": head,
    })
    .to_string()
    .into()
}

pub fn unsubscribed(topic: &str) -> Utf8Bytes {
    serde_json::json!({"type": "unsubscribed", "topic": topic})
        .to_string()
        .into()
}

pub fn pong() -> Utf8Bytes {
    Utf8Bytes::from_static(r#"{"type":"pong"}"#)
}

/// Several event frames as one `{"type":"batch","events":[…]}` frame.
pub fn batch(frames: &[Utf8Bytes]) -> Utf8Bytes {
    let mut out = String::with_capacity(frames.iter().map(|f| f.len() + 1).sum::<usize>() + 32);
    out.push_str(r#"{"type":"batch","events":["#);
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(frame.as_str());
    }
    out.push_str("]}");
    out.into()
}

/// A committed event on its way to sockets, with its frames built once for every topic it
/// is delivered on.
#[derive(Debug)]
pub struct LiveEvent {
    pub org_id: Uuid,
    pub seq: i64,
    pub aggregate_type: String,
    /// The record after the change, parsed once for the visibility checks.
    pub data: Value,
    pub committed_at: DateTime<Utc>,
    frames: Vec<(String, Utf8Bytes)>,
}

impl LiveEvent {
    pub fn new(record: &EventRecord) -> Self {
        let data: Value = serde_json::from_str(&record.data).unwrap_or(Value::Null);
        let head = format!(
            r#","seq":{},"id":"{}","kind":{},"at":"{}","data":"#,
            record.seq,
            record.id,
            serde_json::to_string(&record.kind).unwrap_or_default(),
            record
                .occurred_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        );
        // The stored text is valid JSON (it was serialized by the server); re-serialize
        // the parsed value only if it is not.
        let body = if data.is_null() && record.data.trim() != "null" {
            "null".to_owned()
        } else {
            record.data.clone()
        };
        let frames = topics_of(&record.aggregate_type, record.aggregate_id, &record.kind)
            .into_iter()
            .map(|topic| {
                let frame = format!(
                    r#"{{"type":"event","topic":{}{head}{body}}}"#,
                    serde_json::to_string(&topic).unwrap_or_default()
                );
                (topic, Utf8Bytes::from(frame))
            })
            .collect();
        Self {
            org_id: record.org_id,
            seq: record.seq,
            aggregate_type: record.aggregate_type.clone(),
            data,
            committed_at: record.occurred_at,
            frames,
        }
    }

    /// The frame for `topic`, if this event is delivered on it.
    pub fn frame(&self, topic: &str) -> Option<&Utf8Bytes> {
        self.frames
            .iter()
            .find(|(t, _)| t == topic)
            .map(|(_, frame)| frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_frames_are_the_documented_envelope() {
        let record = EventRecord {
            org_id: Uuid::nil(),
            seq: 7,
            id: Uuid::nil(),
            aggregate_type: "purchase_order".into(),
            aggregate_id: Uuid::nil(),
            kind: "purchase_order.confirmed".into(),
            actor: "system".into(),
            request_id: None,
            occurred_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            data: r#"{"number":"PO-000001"}"#.into(),
            changes: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let live = LiveEvent::new(&record);
        let frame: Value = serde_json::from_str(live.frame("org").unwrap().as_str()).unwrap();
        assert_eq!(frame["type"], "event");
        assert_eq!(frame["topic"], "org");
        assert_eq!(frame["seq"], 7);
        assert_eq!(frame["kind"], "purchase_order.confirmed");
        assert_eq!(frame["at"], "2023-11-14T22:13:20.000000Z");
        assert_eq!(frame["data"]["number"], "PO-000001");
        let own = format!("purchase_order:{}", Uuid::nil());
        let frame: Value = serde_json::from_str(live.frame(&own).unwrap().as_str()).unwrap();
        assert_eq!(frame["topic"], own.as_str());
        assert!(live.frame("sales_orders").is_none());
        let both = batch(&[
            live.frame("org").unwrap().clone(),
            live.frame("org").unwrap().clone(),
        ]);
        let both: Value = serde_json::from_str(both.as_str()).unwrap();
        assert_eq!(both["events"].as_array().unwrap().len(), 2);
    }
}
