//! Products and parts: create, read, list, update, archive and restore in the organization the
//! actor works in, each one transaction with its event.

use std::collections::HashMap;

use steelyard_domain::access::DataScope;
use steelyard_domain::access::Permission;
use steelyard_domain::event::{EventRecord, NewEvent};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::product::{
    Product, ProductDraft, ProductFields, ProductFilter, ProductPatchDraft,
};
use steelyard_store::products as store;
use steelyard_store::{StoreError, Tx};
use uuid::Uuid;

use crate::record::{self, Stored, change, conflict};
use crate::{App, Ctx, Error, Expected, Result};

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

/// The products among `ids` that `scope` can see, by id, read in one statement: a document
/// checks all its lines' products at once, not with a read per line. Ids that are unknown or
/// out of scope are simply missing.
pub(crate) async fn by_ids(
    app: &App,
    scope: &DataScope,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Product>> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let found = store::get_many(&app.db, scope, &ids).await?;
    Ok(found.into_iter().map(|p| (p.id, p)).collect())
}

/// The active product a document line names, from [`by_ids`]; otherwise the line's
/// `product_id` error is added and there is none.
pub(crate) fn for_line<'a>(
    products: &'a HashMap<Uuid, Product>,
    product_id: Option<Uuid>,
    line: usize,
    errors: &mut steelyard_domain::FieldErrors,
) -> Option<&'a Product> {
    let field = format!("lines[{line}].product_id");
    let Some(product_id) = product_id else {
        errors.add(&field, "required", "is required");
        return None;
    };
    let product = products
        .get(&product_id)
        .filter(|p| p.status == steelyard_domain::record::RecordStatus::Active);
    if product.is_none() {
        errors.add(
            &field,
            "unknown",
            "is not an active product of this organization",
        );
    }
    product
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
    change(
        app,
        ctx,
        id,
        Some(expected),
        "product.updated",
        |product: &Product| {
            let fields = product.fields().patched(draft).map_err(Error::Validation)?;
            product
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
) -> Result<Product> {
    ctx.require(Permission::PRODUCT_MANAGE)?;
    change(app, ctx, id, expected, "product.archived", |p: &Product| {
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
    change(app, ctx, id, expected, "product.restored", |p: &Product| {
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

impl Stored for Product {
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
        sku_taken(StoreError::Duplicate(String::new()), &record.sku)
    }
}

fn not_found(error: StoreError) -> Error {
    record::not_found::<Product>(error)
}

fn sku_taken(error: StoreError, sku: &str) -> Error {
    match error {
        StoreError::Duplicate(_) => {
            Error::Conflict(format!("a product with SKU {sku:?} already exists"))
        }
        other => other.into(),
    }
}
