//! The JSON API under `/api/v1`, one module per business module, and the helpers they share.

pub mod access;
pub mod auth;
pub mod events;
pub mod export;
pub mod inventory;
pub mod master_data;
pub mod organizations;
pub mod partners;
pub mod permissions;
pub mod products;
pub mod purchase_import;
pub mod purchasing;
pub mod sales;

use std::future::Future;

use axum::extract::{FromRequest, Request};
use axum::http::Method;
use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;
use steelyard_services::{App, Ctx, IdempotencyKey, find_replay};

use crate::extract::{ApiJson, created};
use crate::problem::{ApiResult, Problem};

/// A JSON body for a POST that may carry an `Idempotency-Key`: the parsed body plus the key
/// with the fingerprint (method, path, body bytes) that tells a retry from a new request.
#[derive(Debug)]
pub struct KeyedJson<T> {
    pub body: T,
    pub key: Option<IdempotencyKey>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for KeyedJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let header =
            crate::extract::IdempotencyHeader::from_request_parts(&mut parts, state).await?;
        let method: Method = parts.method.clone();
        let path = parts.uri.path().to_owned();
        let request = Request::from_parts(parts, body);
        let bytes = crate::extract::read_json_body(request).await?;
        let ApiJson(body) = ApiJson::<T>::from_bytes(&bytes)?;
        let key = header.0.map(|key| {
            IdempotencyKey::new(key, &[method.as_str().as_bytes(), path.as_bytes(), &bytes])
        });
        Ok(Self { body, key })
    }
}

use axum::extract::FromRequestParts;
use serde_json::value::RawValue;
use steelyard_domain::event::EventRecord;
use uuid::Uuid;

/// Runs a create service once per idempotency key: a retry gets the first response again, and
/// two concurrent requests with one key create one record.
pub async fn create_once<T, Fut>(
    app: &App,
    ctx: Ctx,
    key: Option<IdempotencyKey>,
    locate: impl Fn(&T) -> (String, i64),
    run: impl FnOnce(Ctx) -> Fut,
) -> ApiResult<Response>
where
    T: Serialize + DeserializeOwned,
    Fut: Future<Output = steelyard_services::Result<T>>,
{
    let replayed = |body: String| -> ApiResult<Response> {
        let record: T = serde_json::from_str(&body)
            .map_err(|e| Problem::from(steelyard_services::Error::Internal(e.to_string())))?;
        let (location, version) = locate(&record);
        Ok(created(&location, version, body))
    };
    if let Some(key) = &key
        && let Some(replay) = find_replay(app, &ctx.actor, key).await?
    {
        return replayed(replay.body);
    }
    let actor = ctx.actor.clone();
    match run(ctx.with_idempotency(key.clone())).await {
        Ok(record) => {
            let (location, version) = locate(&record);
            let body = serde_json::to_string(&record)
                .map_err(|e| Problem::from(steelyard_services::Error::Internal(e.to_string())))?;
            Ok(created(&location, version, body))
        }
        Err(error) => {
            // A concurrent request with the same key may have won the race: answer as it did.
            if let Some(key) = &key
                && let Some(replay) = find_replay(app, &actor, key).await?
            {
                return replayed(replay.body);
            }
            Err(error.into())
        }
    }
}

/// An event as the API shows it: `data` and `changes` are JSON, not JSON inside a string.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub org_id: Uuid,
    pub seq: i64,
    pub id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub kind: String,
    pub actor: String,
    pub request_id: Option<String>,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// The record after the change.
    #[schema(value_type = Object)]
    pub data: Box<RawValue>,
    /// For each changed field, `{"before": …, "after": …}`.
    #[schema(value_type = Object)]
    pub changes: Box<RawValue>,
    pub hash: String,
}

impl From<EventRecord> for EventView {
    fn from(event: EventRecord) -> Self {
        // Stored text that is no longer JSON (a tampered row) is shown as a JSON string.
        let raw = |text: String| {
            RawValue::from_string(text.clone()).unwrap_or_else(|_| {
                RawValue::from_string(serde_json::Value::String(text).to_string())
                    .expect("a JSON string")
            })
        };
        Self {
            org_id: event.org_id,
            seq: event.seq,
            id: event.id,
            aggregate_type: event.aggregate_type,
            aggregate_id: event.aggregate_id,
            kind: event.kind,
            actor: event.actor,
            request_id: event.request_id,
            occurred_at: event.occurred_at,
            data: raw(event.data),
            changes: raw(event.changes),
            hash: event.hash,
        }
    }
}
