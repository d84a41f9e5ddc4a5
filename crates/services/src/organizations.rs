//! Organizations: create, read, list, update, archive and restore, each one transaction with
//! its event. This module is the pattern every business module follows.

use steelyard_domain::access::DataScope;
use steelyard_domain::access::Permission;
use steelyard_domain::event::{EventRecord, NewEvent};
use steelyard_domain::organization::{
    NewOrganization, Organization, OrganizationDraft, OrganizationPatch, OrganizationPatchDraft,
};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_store::organizations::{self as store, OrganizationFilter};
use steelyard_store::{StoreError, Tx};
use uuid::Uuid;

use crate::record::{Stored, change, conflict};
use crate::{App, Ctx, Error, Expected, Result};

pub const AGGREGATE: &str = "organization";

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject))]
pub async fn create(app: &App, ctx: &Ctx, draft: OrganizationDraft) -> Result<Organization> {
    ctx.require(Permission::ORGANIZATION_CREATE)?;
    let new = NewOrganization::parse(draft)?;
    let org = Organization::create(steelyard_domain::new_id(), new, steelyard_store::now());
    let mut tx = app.begin(ctx).await?;
    store::insert(&mut tx, &org)
        .await
        .map_err(|e| name_taken(e, &org.name))?;
    crate::inventory::create_virtual_locations(&mut tx, org.id).await?;
    tx.record(NewEvent::of_change(
        org.id,
        AGGREGATE,
        org.id,
        "organization.created",
        None,
        &org,
    ));
    crate::master_data::seed_chart(&mut tx, org.id).await?;
    ctx.remember_created(&mut tx, &org)?;
    app.commit(tx).await?;
    tracing::info!(org_id = %org.id, "organization created");
    Ok(org)
}

/// The name of the organization a fresh installation starts with.
pub const FIRST_ORGANIZATION: &str = "My organization";

/// Creates a first organization when there is none, so a fresh installation has somewhere
/// to work (renamable like any other). Returns it when it was created.
pub async fn ensure_first(app: &App) -> Result<Option<Organization>> {
    if store::any(&app.db).await? {
        return Ok(None);
    }
    let draft = OrganizationDraft {
        name: Some(FIRST_ORGANIZATION.to_owned()),
        ..OrganizationDraft::default()
    };
    match create(app, &Ctx::system(), draft).await {
        Ok(org) => Ok(Some(org)),
        // Another instance starting at the same moment created it.
        Err(Error::Conflict(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, org_id = %id))]
pub async fn get(app: &App, ctx: &Ctx, id: Uuid) -> Result<Organization> {
    ctx.require(Permission::ORGANIZATION_READ)?;
    store::get(&app.db, &ctx.actor.scope, id)
        .await
        .map_err(not_found)
}

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject))]
pub async fn list(
    app: &App,
    ctx: &Ctx,
    filter: &OrganizationFilter,
    page: PageRequest,
) -> Result<Page<Organization>> {
    ctx.require(Permission::ORGANIZATION_READ)?;
    Ok(store::list(&app.db, &ctx.actor.scope, filter, page).await?)
}

/// Applies a merge patch. `expected_version` is the caller's `If-Match`.
#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, org_id = %id))]
pub async fn update(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected_version: Option<Expected>,
    draft: OrganizationPatchDraft,
) -> Result<Organization> {
    ctx.require(Permission::ORGANIZATION_UPDATE)?;
    let expected_version = expected_version.ok_or(Error::PreconditionRequired)?;
    let patch = OrganizationPatch::parse(draft)?;
    change(
        app,
        ctx,
        id,
        Some(expected_version),
        "organization.updated",
        |org: &Organization| org.apply(patch, steelyard_store::now()).map_err(conflict),
    )
    .await
}

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, org_id = %id))]
pub async fn archive(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected_version: Option<Expected>,
) -> Result<Organization> {
    ctx.require(Permission::ORGANIZATION_ARCHIVE)?;
    change(
        app,
        ctx,
        id,
        expected_version,
        "organization.archived",
        |org: &Organization| org.archive(steelyard_store::now()).map_err(conflict),
    )
    .await
}

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, org_id = %id))]
pub async fn restore(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected_version: Option<Expected>,
) -> Result<Organization> {
    ctx.require(Permission::ORGANIZATION_ARCHIVE)?;
    change(
        app,
        ctx,
        id,
        expected_version,
        "organization.restored",
        |org: &Organization| org.restore(steelyard_store::now()).map_err(conflict),
    )
    .await
}

/// Every recorded change of one organization, oldest first.
#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, org_id = %id))]
pub async fn history(app: &App, ctx: &Ctx, id: Uuid) -> Result<Vec<EventRecord>> {
    ctx.require(Permission::ORGANIZATION_READ)?;
    store::get(&app.db, &ctx.actor.scope, id)
        .await
        .map_err(not_found)?;
    Ok(steelyard_store::events::for_aggregate(&app.db, id, AGGREGATE, id).await?)
}

impl Stored for Organization {
    const AGGREGATE: &'static str = AGGREGATE;

    /// An organization's changes chain in its own organization.
    fn org_id(&self) -> Uuid {
        self.id
    }

    fn version(&self) -> i64 {
        self.version
    }

    async fn load(tx: &mut Tx, scope: &DataScope, id: Uuid) -> Result<Self, StoreError> {
        store::get_in(tx, scope, id).await
    }

    async fn save(tx: &mut Tx, record: &Self) -> Result<(), StoreError> {
        store::update(tx, record).await
    }

    fn duplicate(record: &Self) -> Error {
        name_taken(StoreError::Duplicate(String::new()), &record.name)
    }
}

fn not_found(error: StoreError) -> Error {
    match error {
        StoreError::NotFound => Error::NotFound("organization"),
        other => other.into(),
    }
}

fn name_taken(error: StoreError, name: &str) -> Error {
    match error {
        StoreError::Duplicate(what)
            if what.contains("name_key") || what.contains("organizations") =>
        {
            Error::Conflict(format!("an organization named {name:?} already exists"))
        }
        other => other.into(),
    }
}
