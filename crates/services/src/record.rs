//! The shape every change of a versioned business record takes, written once: read it in the
//! write transaction, check the caller's version, apply a domain rule, skip no-op changes,
//! write with the version check, record the event, commit.
//!
//! A module implements [`Stored`] for its record (how to load and save it, and what a unique
//! key clash means) and calls [`change`] from each action.

use std::future::Future;

use serde::Serialize;
use steelyard_domain::access::DataScope;
use steelyard_domain::event::NewEvent;
use steelyard_store::{StoreError, Tx};
use uuid::Uuid;

use crate::{App, Ctx, Error, Expected, Result, check_version};

pub(crate) trait Stored: Serialize + Clone + Send + Sync + Sized {
    /// The event aggregate type, e.g. `partner`.
    const AGGREGATE: &'static str;

    /// The organization whose event chain records the change.
    fn org_id(&self) -> Uuid;

    fn version(&self) -> i64;

    /// The record, if the scope can see it.
    fn load(
        tx: &mut Tx,
        scope: &DataScope,
        id: Uuid,
    ) -> impl Future<Output = Result<Self, StoreError>> + Send;

    /// Writes the record if the stored one is at `version - 1`.
    fn save(tx: &mut Tx, record: &Self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What a unique-key clash on save means for this record.
    fn duplicate(record: &Self) -> Error;

    /// Checks, in the write transaction and before saving, what a change means for the
    /// records it refers to or that refer to it (an employee's department). None by default.
    fn check_change(
        _tx: &mut Tx,
        _before: &Self,
        _after: &Self,
    ) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}

/// Loads a record, checks `expected`, applies `rule`, and commits the result with its event
/// of `kind`. A rule that changes nothing writes nothing and records nothing.
pub(crate) async fn change<T: Stored>(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
    kind: &'static str,
    rule: impl FnOnce(&T) -> Result<T>,
) -> Result<T> {
    let mut tx = app.begin(ctx).await?;
    let current = T::load(&mut tx, &ctx.actor.scope, id)
        .await
        .map_err(|e| not_found::<T>(e))?;
    check_version(current.version(), expected)?;
    let next = rule(&current)?;
    let event = NewEvent::of_change(
        current.org_id(),
        T::AGGREGATE,
        id,
        kind,
        Some(&current),
        &next,
    );
    if event.changes.as_object().is_some_and(|c| c.is_empty()) {
        return Ok(current);
    }
    T::check_change(&mut tx, &current, &next).await?;
    T::save(&mut tx, &next).await.map_err(|e| match e {
        StoreError::Stale => Error::Stale {
            current: current.version(),
        },
        StoreError::Duplicate(_) => T::duplicate(&next),
        other => other.into(),
    })?;
    tx.record(event);
    app.commit(tx).await?;
    Ok(next)
}

/// `NotFound` named after the record.
pub(crate) fn not_found<T: Stored>(error: StoreError) -> Error {
    match error {
        StoreError::NotFound => Error::NotFound(T::AGGREGATE),
        other => other.into(),
    }
}

/// A domain rule's refusal as a 409.
pub(crate) fn conflict(error: steelyard_domain::organization::StateConflict) -> Error {
    Error::Conflict(error.0)
}
