//! Business partners: create, read, list, update, archive and restore in the organization the
//! actor works in, each one transaction with its event.

use steelyard_domain::access::Permission;
use steelyard_domain::event::{EventRecord, NewEvent};
use steelyard_domain::organization::StateConflict;
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::partner::{
    Partner, PartnerDraft, PartnerFields, PartnerFilter, PartnerPatchDraft,
};
use steelyard_store::StoreError;
use steelyard_store::partners as store;
use uuid::Uuid;

use crate::{App, Ctx, Error, Expected, Result, check_version};

pub const AGGREGATE: &str = "partner";

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject))]
pub async fn create(app: &App, ctx: &Ctx, draft: PartnerDraft) -> Result<Partner> {
    ctx.require(Permission::PARTNER_MANAGE)?;
    let org_id = ctx.acting_org()?;
    let fields = PartnerFields::parse(draft)?;
    let partner = Partner::create(
        steelyard_domain::new_id(),
        org_id,
        fields,
        steelyard_store::now(),
    );
    let mut tx = app.begin(ctx).await?;
    store::insert(&mut tx, &partner)
        .await
        .map_err(|e| name_taken(e, &partner.name))?;
    tx.record(NewEvent::of_change(
        org_id,
        AGGREGATE,
        partner.id,
        "partner.created",
        None,
        &partner,
    ));
    ctx.remember_created(&mut tx, &partner)?;
    app.commit(tx).await?;
    Ok(partner)
}

pub async fn get(app: &App, ctx: &Ctx, id: Uuid) -> Result<Partner> {
    ctx.require(Permission::PARTNER_READ)?;
    store::get(&app.db, &ctx.actor.scope, id)
        .await
        .map_err(not_found)
}

pub async fn list(
    app: &App,
    ctx: &Ctx,
    filter: &PartnerFilter,
    page: PageRequest,
) -> Result<Page<Partner>> {
    ctx.require(Permission::PARTNER_READ)?;
    // Everyone but a super-admin at platform level acts in an organization; the store's scope
    // filter applies either way.
    Ok(store::list(
        &app.db,
        &ctx.actor.scope,
        ctx.actor.acting_org,
        filter,
        page,
    )
    .await?)
}

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, partner_id = %id))]
pub async fn update(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
    draft: PartnerPatchDraft,
) -> Result<Partner> {
    ctx.require(Permission::PARTNER_MANAGE)?;
    let expected = expected.ok_or(Error::PreconditionRequired)?;
    change(app, ctx, id, Some(expected), "partner.updated", |partner| {
        let fields = partner.fields().patched(draft).map_err(Error::Validation)?;
        partner
            .with_fields(fields, steelyard_store::now())
            .map_err(conflict)
    })
    .await
}

pub async fn archive(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<Partner> {
    ctx.require(Permission::PARTNER_MANAGE)?;
    change(app, ctx, id, expected, "partner.archived", |p| {
        p.archive(steelyard_store::now()).map_err(conflict)
    })
    .await
}

pub async fn restore(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<Partner> {
    ctx.require(Permission::PARTNER_MANAGE)?;
    change(app, ctx, id, expected, "partner.restored", |p| {
        p.restore(steelyard_store::now()).map_err(conflict)
    })
    .await
}

pub async fn history(app: &App, ctx: &Ctx, id: Uuid) -> Result<Vec<EventRecord>> {
    ctx.require(Permission::PARTNER_READ)?;
    let partner = store::get(&app.db, &ctx.actor.scope, id)
        .await
        .map_err(not_found)?;
    Ok(
        steelyard_store::events::for_aggregate(&app.db, partner.organization_id, AGGREGATE, id)
            .await?,
    )
}

/// Read, check the version, apply a rule, write, record.
async fn change<F>(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
    kind: &'static str,
    rule: F,
) -> Result<Partner>
where
    F: FnOnce(&Partner) -> Result<Partner>,
{
    let mut tx = app.begin(ctx).await?;
    let current = store::get_in(&mut tx, &ctx.actor.scope, id)
        .await
        .map_err(not_found)?;
    check_version(current.version, expected)?;
    let next = rule(&current)?;
    let event = NewEvent::of_change(
        current.organization_id,
        AGGREGATE,
        id,
        kind,
        Some(&current),
        &next,
    );
    if event.changes.as_object().is_some_and(|c| c.is_empty()) {
        return Ok(current);
    }
    store::update(&mut tx, &next).await.map_err(|e| match e {
        StoreError::Stale => Error::Stale {
            current: current.version,
        },
        other => name_taken(other, &next.name),
    })?;
    tx.record(event);
    app.commit(tx).await?;
    Ok(next)
}

fn conflict(error: StateConflict) -> Error {
    Error::Conflict(error.0)
}

fn not_found(error: StoreError) -> Error {
    match error {
        StoreError::NotFound => Error::NotFound("partner"),
        other => other.into(),
    }
}

fn name_taken(error: StoreError, name: &str) -> Error {
    match error {
        StoreError::Duplicate(_) => {
            Error::Conflict(format!("a partner named {name:?} already exists"))
        }
        other => other.into(),
    }
}
