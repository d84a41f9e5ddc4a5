//! Business partners: create, read, list, update, archive and restore in the organization the
//! actor works in, each one transaction with its event.

use steelyard_domain::access::DataScope;
use steelyard_domain::access::Permission;
use steelyard_domain::event::{EventRecord, NewEvent};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::partner::{
    Partner, PartnerDraft, PartnerFields, PartnerFilter, PartnerPatchDraft,
};
use steelyard_store::partners as store;
use steelyard_store::{StoreError, Tx};
use uuid::Uuid;

use crate::record::{self, Stored, change, conflict};
use crate::{App, Ctx, Error, Expected, Result};

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
    change(
        app,
        ctx,
        id,
        Some(expected),
        "partner.updated",
        |partner: &Partner| {
            let fields = partner.fields().patched(draft).map_err(Error::Validation)?;
            partner
                .with_fields(fields, steelyard_store::now())
                .map_err(conflict)
        },
    )
    .await
}

pub async fn archive(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<Partner> {
    ctx.require(Permission::PARTNER_MANAGE)?;
    change(app, ctx, id, expected, "partner.archived", |p: &Partner| {
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
    change(app, ctx, id, expected, "partner.restored", |p: &Partner| {
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
impl Stored for Partner {
    const AGGREGATE: &'static str = AGGREGATE;

    fn org_id(&self) -> Uuid {
        self.organization_id
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
    record::not_found::<Partner>(error)
}

fn name_taken(error: StoreError, name: &str) -> Error {
    match error {
        StoreError::Duplicate(_) => {
            Error::Conflict(format!("a partner named {name:?} already exists"))
        }
        other => other.into(),
    }
}
