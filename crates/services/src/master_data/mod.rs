//! Master data (commodities, taxes, accounts, departments, employees): create, read, list,
//! update, archive, restore and history, written once for every kind. Each is one transaction
//! with its event, in the organization the actor works in, behind the kind's permissions.
//!
//! Call them with the kind: `master_data::create::<Tax>(&app, &ctx, draft)`.

mod chart;
mod kinds;
mod line_taxes;

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use steelyard_domain::access::{DataScope, Permission};
use steelyard_domain::event::{EventRecord, NewEvent};
use steelyard_domain::master::{MasterFields, MasterRecord};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_store::master::{self as store, MasterTable};
use steelyard_store::{StoreError, Tx};
use uuid::Uuid;

pub(crate) use chart::seed_chart;
pub use chart::seed_missing_charts;
pub(crate) use line_taxes::line_tax;

use crate::record::{Stored, change, conflict};
use crate::{App, Ctx, Error, Expected, Result};

/// The event kinds of one kind of record.
#[derive(Debug, Clone, Copy)]
pub struct EventKinds {
    /// The aggregate type: `tax`.
    pub aggregate: &'static str,
    pub created: &'static str,
    pub updated: &'static str,
    pub archived: &'static str,
    pub restored: &'static str,
}

/// A kind of master data: its events, its permissions and its reference rules.
pub trait MasterData: MasterTable + Serialize + DeserializeOwned {
    const EVENTS: EventKinds;
    /// Needed to read, list and see the history.
    const READ: Permission;
    /// Needed to create, change, archive and restore.
    const MANAGE: Permission;

    /// Checks, in the write transaction, what the record refers to or what refers to it,
    /// before a create (`before` is None) or a change is saved.
    fn check_references(
        _tx: &mut Tx,
        _before: Option<&Self>,
        _after: &Self,
    ) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}

/// The draft a kind is created from.
pub type Draft<T> = <<T as MasterRecord>::Fields as MasterFields>::Draft;
/// The merge patch a kind is changed with.
pub type Patch<T> = <<T as MasterRecord>::Fields as MasterFields>::Patch;

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, kind = T::NOUN))]
pub async fn create<T: MasterData>(app: &App, ctx: &Ctx, draft: Draft<T>) -> Result<T> {
    ctx.require(T::MANAGE)?;
    let org_id = ctx.acting_org()?;
    let fields = T::Fields::parse(draft)?;
    let record = T::create(
        steelyard_domain::new_id(),
        org_id,
        fields,
        steelyard_store::now(),
    );
    let mut tx = app.begin(ctx).await?;
    T::check_references(&mut tx, None, &record).await?;
    store::insert(&mut tx, &record)
        .await
        .map_err(|e| code_taken(e, &record))?;
    tx.record(NewEvent::of_change(
        org_id,
        T::EVENTS.aggregate,
        record.id(),
        T::EVENTS.created,
        None,
        &record,
    ));
    ctx.remember_created(&mut tx, &record)?;
    app.commit(tx).await?;
    Ok(record)
}

pub async fn get<T: MasterData>(app: &App, ctx: &Ctx, id: Uuid) -> Result<T> {
    ctx.require(T::READ)?;
    store::get(&app.db, &ctx.actor.scope, id)
        .await
        .map_err(not_found::<T>)
}

pub async fn list<T: MasterData>(
    app: &App,
    ctx: &Ctx,
    filter: &T::Filter,
    page: PageRequest,
) -> Result<Page<T>> {
    ctx.require(T::READ)?;
    Ok(store::list(
        &app.db,
        &ctx.actor.scope,
        ctx.actor.acting_org,
        filter,
        page,
    )
    .await?)
}

/// Applies a merge patch; needs the caller's `If-Match`.
#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, kind = T::NOUN, id = %id))]
pub async fn update<T: MasterData>(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
    patch: Patch<T>,
) -> Result<T> {
    ctx.require(T::MANAGE)?;
    let expected = expected.ok_or(Error::PreconditionRequired)?;
    change(
        app,
        ctx,
        id,
        Some(expected),
        T::EVENTS.updated,
        |record: &T| {
            let fields = record
                .fields()
                .clone()
                .patched(patch)
                .map_err(Error::Validation)?;
            record
                .with_fields(fields, steelyard_store::now())
                .map_err(conflict)
        },
    )
    .await
}

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, kind = T::NOUN, id = %id))]
pub async fn archive<T: MasterData>(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<T> {
    ctx.require(T::MANAGE)?;
    change(app, ctx, id, expected, T::EVENTS.archived, |record: &T| {
        record.archive(steelyard_store::now()).map_err(conflict)
    })
    .await
}

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, kind = T::NOUN, id = %id))]
pub async fn restore<T: MasterData>(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<T> {
    ctx.require(T::MANAGE)?;
    change(app, ctx, id, expected, T::EVENTS.restored, |record: &T| {
        record.restore(steelyard_store::now()).map_err(conflict)
    })
    .await
}

/// Every change of one record, oldest first.
pub async fn history<T: MasterData>(app: &App, ctx: &Ctx, id: Uuid) -> Result<Vec<EventRecord>> {
    ctx.require(T::READ)?;
    let record: T = store::get(&app.db, &ctx.actor.scope, id)
        .await
        .map_err(not_found::<T>)?;
    Ok(steelyard_store::events::for_aggregate(
        &app.db,
        record.organization_id(),
        T::EVENTS.aggregate,
        id,
    )
    .await?)
}

/// Read, check the version, apply a rule, check references, write, record.
impl<T: MasterData> Stored for T {
    const AGGREGATE: &'static str = T::EVENTS.aggregate;

    fn org_id(&self) -> Uuid {
        self.organization_id()
    }

    fn version(&self) -> i64 {
        self.meta().version
    }

    async fn load(tx: &mut Tx, scope: &DataScope, id: Uuid) -> Result<Self, StoreError> {
        store::get_in(tx, scope, id).await
    }

    async fn save(tx: &mut Tx, record: &Self) -> Result<(), StoreError> {
        store::update(tx, record).await
    }

    fn duplicate(record: &Self) -> Error {
        code_taken(StoreError::Duplicate(String::new()), record)
    }

    fn check_change(
        tx: &mut Tx,
        before: &Self,
        after: &Self,
    ) -> impl Future<Output = Result<()>> + Send {
        T::check_references(tx, Some(before), after)
    }
}

fn not_found<T: MasterData>(error: StoreError) -> Error {
    match error {
        StoreError::NotFound => Error::NotFound(T::NOUN),
        other => other.into(),
    }
}

fn code_taken<T: MasterData>(error: StoreError, record: &T) -> Error {
    match error {
        StoreError::Duplicate(_) => Error::Conflict(format!(
            "a {} with code {:?} already exists",
            T::NOUN,
            T::code(record.fields())
        )),
        other => other.into(),
    }
}
