//! Products and parts: create, read, list, update, archive and restore in the organization the
//! actor works in, each one transaction with its event.

use steelyard_domain::access::Permission;
use steelyard_domain::event::{EventRecord, NewEvent};
use steelyard_domain::organization::StateConflict;
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::product::{
    Product, ProductDraft, ProductFields, ProductFilter, ProductPatchDraft,
};
use steelyard_store::StoreError;
use steelyard_store::products as store;
use uuid::Uuid;

use crate::{App, Ctx, Error, Expected, Result, check_version};

pub const AGGREGATE: &str = "product";

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject))]
pub async fn create(app: &App, ctx: &Ctx, draft: ProductDraft) -> Result<Product> {
    ctx.require(Permission::PRODUCT_MANAGE)?;
    let org_id = ctx.acting_org()?;
    let fields = ProductFields::parse(draft)?;
    let product = Product::create(
        steelyard_domain::new_id(),
        org_id,
        fields,
        steelyard_store::now(),
    );
    let mut tx = app.begin(ctx).await?;
    store::insert(&mut tx, &product)
        .await
        .map_err(|e| sku_taken(e, &product.sku))?;
    tx.record(NewEvent::of_change(
        org_id,
        AGGREGATE,
        product.id,
        "product.created",
        None,
        &product,
    ));
    ctx.remember_created(&mut tx, &product)?;
    app.commit(tx).await?;
    Ok(product)
}

pub async fn get(app: &App, ctx: &Ctx, id: Uuid) -> Result<Product> {
    ctx.require(Permission::PRODUCT_READ)?;
    store::get(&app.db, &ctx.actor.scope, id)
        .await
        .map_err(not_found)
}

pub async fn list(
    app: &App,
    ctx: &Ctx,
    filter: &ProductFilter,
    page: PageRequest,
) -> Result<Page<Product>> {
    ctx.require(Permission::PRODUCT_READ)?;
    Ok(store::list(
        &app.db,
        &ctx.actor.scope,
        ctx.actor.acting_org,
        filter,
        page,
    )
    .await?)
}

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, product_id = %id))]
pub async fn update(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
    draft: ProductPatchDraft,
) -> Result<Product> {
    ctx.require(Permission::PRODUCT_MANAGE)?;
    let expected = expected.ok_or(Error::PreconditionRequired)?;
    change(app, ctx, id, Some(expected), "product.updated", |product| {
        let fields = product.fields().patched(draft).map_err(Error::Validation)?;
        product
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
) -> Result<Product> {
    ctx.require(Permission::PRODUCT_MANAGE)?;
    change(app, ctx, id, expected, "product.archived", |p| {
        p.archive(steelyard_store::now()).map_err(conflict)
    })
    .await
}

pub async fn restore(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<Product> {
    ctx.require(Permission::PRODUCT_MANAGE)?;
    change(app, ctx, id, expected, "product.restored", |p| {
        p.restore(steelyard_store::now()).map_err(conflict)
    })
    .await
}

pub async fn history(app: &App, ctx: &Ctx, id: Uuid) -> Result<Vec<EventRecord>> {
    ctx.require(Permission::PRODUCT_READ)?;
    let product = store::get(&app.db, &ctx.actor.scope, id)
        .await
        .map_err(not_found)?;
    Ok(
        steelyard_store::events::for_aggregate(&app.db, product.organization_id, AGGREGATE, id)
            .await?,
    )
}

async fn change<F>(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
    kind: &'static str,
    rule: F,
) -> Result<Product>
where
    F: FnOnce(&Product) -> Result<Product>,
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
        other => sku_taken(other, &next.sku),
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
        StoreError::NotFound => Error::NotFound("product"),
        other => other.into(),
    }
}

fn sku_taken(error: StoreError, sku: &str) -> Error {
    match error {
        StoreError::Duplicate(_) => {
            Error::Conflict(format!("a product with SKU {sku:?} already exists"))
        }
        other => other.into(),
    }
}
