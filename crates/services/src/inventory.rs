//! Inventory: locations, and the stock ledger's moves (adjustments and transfers here;
//! receipts and shipments come from purchasing and sales through [`post_move`]). Each move
//! updates stock levels and the moving-average valuation in its own transaction, and raises
//! `inventory.low_stock` when on-hand falls below the product's threshold.

use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::access::Permission;
use steelyard_domain::event::NewEvent;
use steelyard_domain::inventory::{
    Location, LocationDraft, LocationKind, MoveKind, StockLevel, StockMove, VIRTUAL_LOCATIONS,
    Valuation, parse_location_code,
};
use steelyard_domain::money::{DecimalText, Money, Quantity};
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::product::Product;
use steelyard_domain::record::RecordStatus;
use steelyard_domain::text::{parse_line, parse_optional_line};
use steelyard_store::{StoreError, Tx, inventory as store};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{App, Ctx, Error, Result};

/// Creates the virtual locations of a new organization (in its creating transaction).
pub(crate) async fn create_virtual_locations(tx: &mut Tx, org_id: Uuid) -> Result<()> {
    let now = steelyard_store::now();
    for (code, name, kind) in VIRTUAL_LOCATIONS {
        let location = Location {
            id: steelyard_domain::new_id(),
            organization_id: org_id,
            code: (*code).into(),
            name: (*name).into(),
            kind: *kind,
            parent_id: None,
            status: RecordStatus::Active,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        store::insert_location(tx, &location).await?;
    }
    Ok(())
}

pub async fn create_location(app: &App, ctx: &Ctx, draft: LocationDraft) -> Result<Location> {
    ctx.require(Permission::INVENTORY_MOVE)?;
    let org_id = ctx.acting_org()?;
    let mut errors = FieldErrors::new();
    let code = errors.take(
        "code",
        parse_location_code(draft.code.as_deref().unwrap_or("")),
    );
    let name = errors.take("name", parse_line(draft.name.as_deref().unwrap_or(""), 120));
    errors.finish()?;
    let mut tx = app.begin(ctx).await?;
    if let Some(parent) = draft.parent_id {
        let parent = store::location_in(&mut tx, Some(org_id), parent)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::Validation(FieldErrors::single(
                    "parent_id",
                    "unknown",
                    "is not a location of this organization",
                )),
                other => other.into(),
            })?;
        if parent.kind != LocationKind::Internal {
            return Err(Error::Validation(FieldErrors::single(
                "parent_id",
                "virtual",
                "must be an internal location",
            )));
        }
    }
    let now = steelyard_store::now();
    let location = Location {
        id: steelyard_domain::new_id(),
        organization_id: org_id,
        code: code.unwrap_or_default(),
        name: name.unwrap_or_default(),
        kind: LocationKind::Internal,
        parent_id: draft.parent_id,
        status: RecordStatus::Active,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::insert_location(&mut tx, &location)
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => {
                Error::Conflict(format!("a location with code {:?} exists", location.code))
            }
            other => other.into(),
        })?;
    tx.record(NewEvent::of_change(
        org_id,
        "location",
        location.id,
        "location.created",
        None,
        &location,
    ));
    ctx.remember_created(&mut tx, &location)?;
    app.commit(tx).await?;
    Ok(location)
}

pub async fn get_location(app: &App, ctx: &Ctx, id: Uuid) -> Result<Location> {
    ctx.require(Permission::INVENTORY_READ)?;
    store::get_location(&app.db, ctx.actor.scope.org_id(), id)
        .await
        .map_err(|_| Error::NotFound("location"))
}

pub async fn list_locations(app: &App, ctx: &Ctx, page: PageRequest) -> Result<Page<Location>> {
    ctx.require(Permission::INVENTORY_READ)?;
    Ok(store::list_locations(
        &app.db,
        ctx.actor.acting_org.or(ctx.actor.scope.org_id()),
        page,
    )
    .await?)
}

/// The body of `POST /api/v1/inventory/adjustments`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentDraft {
    pub product_id: Option<Uuid>,
    pub location_id: Option<Uuid>,
    /// Positive adds stock (found, counted up), negative removes it (lost, counted down).
    pub quantity: Option<DecimalText>,
    /// Cost per stock unit of added stock; the current average (or the standard cost) when absent.
    pub unit_cost: Option<DecimalText>,
    pub reason: Option<String>,
}

/// The body of `POST /api/v1/inventory/transfers`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferDraft {
    pub product_id: Option<Uuid>,
    pub from_location_id: Option<Uuid>,
    pub to_location_id: Option<Uuid>,
    pub quantity: Option<DecimalText>,
    pub reference: Option<String>,
}

/// A posted move and the product's stock after it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Posted {
    #[serde(rename = "move")]
    pub stock_move: StockMove,
    pub valuation: Valuation,
}

pub async fn adjust(app: &App, ctx: &Ctx, draft: AdjustmentDraft) -> Result<Posted> {
    ctx.require(Permission::INVENTORY_MOVE)?;
    let org_id = ctx.acting_org()?;
    let mut errors = FieldErrors::new();
    let product_id = errors.take("product_id", required_id(draft.product_id));
    let location_id = errors.take("location_id", required_id(draft.location_id));
    let delta = errors.take(
        "quantity",
        required_decimal(draft.quantity.as_ref()).and_then(Quantity::parse),
    );
    let unit_cost = draft.unit_cost.as_ref().and_then(|c| {
        errors.take(
            "unit_cost",
            Money::parse(&c.0).and_then(Money::non_negative),
        )
    });
    let reason = errors
        .take("reason", parse_optional_line(draft.reason.as_deref(), 200))
        .flatten();
    if delta == Some(Quantity::ZERO) {
        errors.add("quantity", "zero", "must not be zero");
    }
    errors.finish()?;
    let delta = delta.unwrap_or_default();
    let mut tx = app.begin(ctx).await?;
    let product = tracked_product(&mut tx, org_id, product_id.unwrap_or_default()).await?;
    let location = internal_location(
        &mut tx,
        org_id,
        location_id.unwrap_or_default(),
        "location_id",
    )
    .await?;
    let adjustment = virtual_location(&mut tx, org_id, LocationKind::Adjustment).await?;
    let (from, to, quantity) = if delta.is_negative() {
        (
            location,
            adjustment,
            Quantity::ZERO.checked_sub(delta).unwrap_or_default(),
        )
    } else {
        (adjustment, location, delta)
    };
    let request = MoveRequest {
        product: &product,
        from: &from,
        to: &to,
        quantity,
        unit_cost,
        kind: MoveKind::Adjustment,
        reference: reason,
    };
    let posted = post_move(&mut tx, request).await?;
    ctx.remember_created(&mut tx, &posted)?;
    app.commit(tx).await?;
    Ok(posted)
}

pub async fn transfer(app: &App, ctx: &Ctx, draft: TransferDraft) -> Result<Posted> {
    ctx.require(Permission::INVENTORY_MOVE)?;
    let org_id = ctx.acting_org()?;
    let mut errors = FieldErrors::new();
    let product_id = errors.take("product_id", required_id(draft.product_id));
    let from_id = errors.take("from_location_id", required_id(draft.from_location_id));
    let to_id = errors.take("to_location_id", required_id(draft.to_location_id));
    let quantity = errors.take(
        "quantity",
        Quantity::required_positive(draft.quantity.as_ref()),
    );
    let reference = errors
        .take(
            "reference",
            parse_optional_line(draft.reference.as_deref(), 200),
        )
        .flatten();
    if from_id.is_some() && from_id == to_id {
        errors.add(
            "to_location_id",
            "same",
            "must differ from from_location_id",
        );
    }
    errors.finish()?;
    let mut tx = app.begin(ctx).await?;
    let product = tracked_product(&mut tx, org_id, product_id.unwrap_or_default()).await?;
    let from = internal_location(
        &mut tx,
        org_id,
        from_id.unwrap_or_default(),
        "from_location_id",
    )
    .await?;
    let to =
        internal_location(&mut tx, org_id, to_id.unwrap_or_default(), "to_location_id").await?;
    let request = MoveRequest {
        product: &product,
        from: &from,
        to: &to,
        quantity: quantity.unwrap_or_default(),
        unit_cost: None,
        kind: MoveKind::Transfer,
        reference,
    };
    let posted = post_move(&mut tx, request).await?;
    ctx.remember_created(&mut tx, &posted)?;
    app.commit(tx).await?;
    Ok(posted)
}

/// One move to post.
#[derive(Debug)]
pub struct MoveRequest<'a> {
    pub product: &'a Product,
    pub from: &'a Location,
    pub to: &'a Location,
    /// Positive, in stock units.
    pub quantity: Quantity,
    /// Cost per unit of stock coming in; None takes the average (or the standard cost).
    pub unit_cost: Option<Money>,
    pub kind: MoveKind,
    pub reference: Option<String>,
}

/// Posts one move inside a transaction: stock levels (refusing to take more than is
/// available), valuation (moving average on the way in, average cost on the way out), the
/// ledger line, its event, and a low-stock event when on-hand crosses the threshold.
pub async fn post_move(tx: &mut Tx, request: MoveRequest<'_>) -> Result<Posted> {
    let MoveRequest {
        product,
        from,
        to,
        quantity,
        unit_cost,
        kind,
        reference,
    } = request;
    let org_id = product.organization_id;
    // Locked first, so concurrent moves of this product run one after another from here.
    let mut valuation = store::lock_valuation(tx, org_id, product.id).await?;
    let before_total = store::total_on_hand(tx, product.id).await?;
    if from.kind.holds_stock() && !store::take_stock(tx, product.id, from.id, quantity).await? {
        return Err(Error::Conflict(format!(
            "not enough stock of {} available in {} to move {quantity}",
            product.sku, from.code
        )));
    }
    if to.kind.holds_stock() {
        store::add_stock(tx, org_id, product.id, to.id, quantity).await?;
    }
    let overflow = || Error::Internal("valuation overflow".into());
    let cost = match (from.kind.holds_stock(), to.kind.holds_stock()) {
        // Coming in: at the given cost, else the current average, else the standard cost.
        (false, true) => {
            let cost = unit_cost
                .or((valuation.quantity > Quantity::ZERO).then_some(valuation.average_cost))
                .unwrap_or(product.standard_cost);
            valuation = valuation.receive(quantity, cost).ok_or_else(overflow)?;
            cost
        }
        // Going out: at the average cost.
        (true, false) => {
            let cost = valuation.average_cost;
            valuation = valuation.issue(quantity).ok_or_else(overflow)?;
            cost
        }
        // Between internal locations: value unchanged.
        _ => valuation.average_cost,
    };
    store::put_valuation(tx, org_id, product.id, &valuation).await?;
    let stock_move = StockMove {
        id: steelyard_domain::new_id(),
        organization_id: org_id,
        product_id: product.id,
        from_location_id: from.id,
        to_location_id: to.id,
        quantity,
        unit_cost: cost,
        kind,
        reference,
        created_at: steelyard_store::now(),
    };
    store::insert_move(tx, &stock_move).await?;
    tx.record(NewEvent::of_change(
        org_id,
        "stock_move",
        stock_move.id,
        "stock.moved",
        None,
        &stock_move,
    ));
    let after_total = store::total_on_hand(tx, product.id).await?;
    if let Some(threshold) = product.low_stock_threshold
        && before_total >= threshold
        && after_total < threshold
    {
        tx.record(NewEvent {
            org_id,
            aggregate_type: "product",
            aggregate_id: product.id,
            kind: "inventory.low_stock",
            data: serde_json::json!({"product_id": product.id, "sku": product.sku, "on_hand": after_total, "threshold": threshold}),
            changes: serde_json::json!({}),
        });
    }
    Ok(Posted {
        stock_move,
        valuation,
    })
}

async fn tracked_product(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<Product> {
    let scope = steelyard_domain::access::DataScope::Organization(org_id);
    let product = steelyard_store::products::get_in(tx, &scope, id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::Validation(FieldErrors::single(
                "product_id",
                "unknown",
                "is not a product of this organization",
            )),
            other => other.into(),
        })?;
    if !product.tracked {
        return Err(Error::Validation(FieldErrors::single(
            "product_id",
            "not_tracked",
            "stock is not kept for this product",
        )));
    }
    if product.status == RecordStatus::Archived {
        return Err(Error::Conflict("the product is archived".into()));
    }
    Ok(product)
}

async fn internal_location(tx: &mut Tx, org_id: Uuid, id: Uuid, field: &str) -> Result<Location> {
    let location = store::location_in(tx, Some(org_id), id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::Validation(FieldErrors::single(
                field,
                "unknown",
                "is not a location of this organization",
            )),
            other => other.into(),
        })?;
    if location.kind != LocationKind::Internal {
        return Err(Error::Validation(FieldErrors::single(
            field,
            "virtual",
            "must be an internal location",
        )));
    }
    Ok(location)
}

/// The organization's virtual location of `kind`, created if the organization predates it.
pub(crate) async fn virtual_location(
    tx: &mut Tx,
    org_id: Uuid,
    kind: LocationKind,
) -> Result<Location> {
    match store::virtual_location(tx, org_id, kind).await {
        Ok(location) => Ok(location),
        Err(StoreError::NotFound) => {
            create_virtual_locations(tx, org_id).await?;
            Ok(store::virtual_location(tx, org_id, kind).await?)
        }
        Err(other) => Err(other.into()),
    }
}

fn required_id(id: Option<Uuid>) -> Result<Uuid, steelyard_domain::FieldError> {
    id.ok_or_else(|| steelyard_domain::validation::invalid("required", "is required"))
}

fn required_decimal(text: Option<&DecimalText>) -> Result<&str, steelyard_domain::FieldError> {
    text.map(|t| t.0.as_str())
        .ok_or_else(|| steelyard_domain::validation::invalid("required", "is required"))
}

/// Stock levels of the organization, optionally of one product or location, in (product,
/// location) order after `after`: at most `limit`.
pub async fn levels(
    app: &App,
    ctx: &Ctx,
    (product_id, location_id): (Option<Uuid>, Option<Uuid>),
    after: Option<(Uuid, Uuid)>,
    limit: u32,
) -> Result<Vec<StockLevel>> {
    ctx.require(Permission::INVENTORY_READ)?;
    let org_id = ctx.acting_org()?;
    Ok(store::levels(&app.db, org_id, product_id, location_id, after, limit).await?)
}

pub async fn moves(
    app: &App,
    ctx: &Ctx,
    product_id: Option<Uuid>,
    page: PageRequest,
) -> Result<Page<StockMove>> {
    ctx.require(Permission::INVENTORY_READ)?;
    let org_id = ctx.acting_org()?;
    Ok(store::moves(&app.db, org_id, product_id, page).await?)
}

/// A product's valuation (quantity, moving average cost, value).
pub async fn valuation(app: &App, ctx: &Ctx, product_id: Uuid) -> Result<Valuation> {
    ctx.require(Permission::INVENTORY_READ)?;
    let product = steelyard_store::products::get(&app.db, &ctx.actor.scope, product_id)
        .await
        .map_err(|_| Error::NotFound("product"))?;
    Ok(store::valuation(&app.db, product.id).await?)
}
