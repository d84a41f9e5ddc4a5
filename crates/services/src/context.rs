//! The context of one service call: who acts, in which request, with which idempotency key.

use sha2::{Digest, Sha256};
use steelyard_domain::access::{Actor, Permission};
use steelyard_store::Origin;
use steelyard_store::idempotency::IdempotencyRecord;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub idempotency: Option<IdempotencyKey>,
}

impl Ctx {
    pub fn new(actor: Actor, request_id: Option<String>) -> Self {
        Self {
            actor,
            request_id,
            idempotency: None,
        }
    }

    /// The server acting on its own behalf (start-up, CLI, seeding).
    pub fn system() -> Self {
        Self::new(Actor::system(), None)
    }

    pub fn with_idempotency(mut self, key: Option<IdempotencyKey>) -> Self {
        self.idempotency = key;
        self
    }

    /// The explicit authorization check a service makes before acting.
    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.actor.may(permission) {
            Ok(())
        } else {
            Err(Error::Forbidden(permission))
        }
    }

    /// The organization the actor works in; business records are created there. A
    /// super-admin who has not picked one (sign in with `organization_id`, or switch) gets 422.
    pub fn acting_org(&self) -> Result<uuid::Uuid> {
        self.actor.acting_org.ok_or_else(|| {
            Error::Validation(steelyard_domain::FieldErrors::single(
                "organization",
                "required",
                "act in an organization first: sign in with organization_id, or switch to one",
            ))
        })
    }

    /// Keeps `body` as the 201 answer to this request's Idempotency-Key (if it has one), in the
    /// transaction that creates it.
    pub(crate) fn remember_created(
        &self,
        tx: &mut steelyard_store::Tx,
        body: &impl serde::Serialize,
    ) -> Result<()> {
        if let Some(key) = &self.idempotency {
            tx.remember_response(key.record(&self.actor, 201, body)?);
        }
        Ok(())
    }

    /// A new document for the store to number, write and commit (`store::purchasing::create`,
    /// say): `events` builds its events once it has its number, and the 201 answer to this
    /// request's Idempotency-Key (if any) is kept with it.
    pub(crate) fn creation<D>(
        &self,
        document: D,
        events: impl Fn(&D) -> Vec<steelyard_domain::event::NewEvent> + Send + Sync + 'static,
    ) -> Result<steelyard_store::Creation<D>> {
        let idempotency = match &self.idempotency {
            // The store sets the body to the numbered document.
            Some(key) => Some(key.record(&self.actor, 201, &())?),
            None => None,
        };
        Ok(steelyard_store::Creation {
            document,
            origin: self.origin(),
            events: Box::new(events),
            idempotency,
        })
    }

    pub(crate) fn origin(&self) -> Origin {
        Origin {
            actor: self.actor.subject.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// The version a change expects to replace (the `If-Match` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// `*`: whatever version is current.
    Any,
    Version(i64),
}

/// Checks the stored version against what the caller expects; None means no precondition.
pub fn check_version(current: i64, expected: Option<Expected>) -> Result<()> {
    match expected {
        Some(Expected::Version(version)) if version != current => Err(Error::Stale { current }),
        _ => Ok(()),
    }
}

/// A client's `Idempotency-Key` with the fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

impl IdempotencyKey {
    /// `parts` are what makes two requests the same: method, path and body.
    pub fn new(key: String, parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        Self {
            key,
            fingerprint: hex::encode(hasher.finalize()),
        }
    }

    /// Keys belong to one caller (users are platform-wide): the same key from two users names
    /// two requests.
    pub fn scope(actor: &Actor) -> String {
        actor.subject.clone()
    }

    pub(crate) fn record(
        &self,
        actor: &Actor,
        status: u16,
        body: &impl serde::Serialize,
    ) -> Result<IdempotencyRecord> {
        Ok(IdempotencyRecord {
            scope: Self::scope(actor),
            key: self.key.clone(),
            fingerprint: self.fingerprint.clone(),
            status,
            body: serde_json::to_string(body).map_err(|e| Error::Internal(e.to_string()))?,
        })
    }
}

/// The response a retried request gets again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub status: u16,
    pub body: String,
}

/// Looks up an earlier response to this key; a key reused for another request is an error.
pub async fn find_replay(
    app: &crate::App,
    actor: &Actor,
    key: &IdempotencyKey,
) -> Result<Option<Replay>> {
    let found =
        steelyard_store::idempotency::find(&app.db, &IdempotencyKey::scope(actor), &key.key)
            .await?;
    match found {
        None => Ok(None),
        Some(record) if record.fingerprint == key.fingerprint => Ok(Some(Replay {
            status: record.status,
            body: record.body,
        })),
        Some(_) => Err(Error::IdempotencyKeyReused),
    }
}
