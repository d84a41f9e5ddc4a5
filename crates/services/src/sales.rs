//! Sales orders: create, confirm (reserving stock, never overselling), ship from the reserved
//! stock, cancel and close (releasing what is still reserved).

use steelyard_domain::FieldErrors;
use steelyard_domain::access::{DataScope, Permission};
use steelyard_domain::event::{EventRecord, NewEvent};
use steelyard_domain::inventory::{LocationKind, MoveKind, line_quantities};
use steelyard_domain::money::Quantity;
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::partner::PartnerKind;
use steelyard_domain::record::RecordStatus;
use steelyard_domain::sales::{
    SalesOrder, SalesOrderDraft, SalesOrderLine, ShipError, ShipmentDraft, SoStatus,
};
use steelyard_domain::tax::TaxUse;
use steelyard_domain::text::parse_optional_line;
pub use steelyard_store::sales::SoFilter;
use steelyard_store::{StoreError, Tx, inventory as stock, sales as store};
use uuid::Uuid;

use crate::inventory::{MoveRequest, post_move, virtual_location};
use crate::master_data::line_tax;
use crate::order_lines;
use crate::record::{self, Stored, conflict};
use crate::{App, Ctx, Error, Expected, Result, check_version};

pub const AGGREGATE: &str = "sales_order";

impl Stored for SalesOrder {
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
        Error::Conflict(format!("a sales order numbered {:?} exists", record.number))
    }
}

fn not_found(error: StoreError) -> Error {
    record::not_found::<SalesOrder>(error)
}

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject))]
pub async fn create(app: &App, ctx: &Ctx, draft: SalesOrderDraft) -> Result<SalesOrder> {
    ctx.require(Permission::SALES_ORDER_MANAGE)?;
    let org_id = ctx.acting_org()?;
    let scope = DataScope::Organization(org_id);
    let mut errors = FieldErrors::new();
    let notes = errors
        .take("notes", parse_optional_line(draft.notes.as_deref(), 1000))
        .flatten();
    match draft.customer_id {
        None => errors.add("customer_id", "required", "is required"),
        Some(id) => match steelyard_store::partners::get(&app.db, &scope, id).await {
            Ok(p) if p.kind.includes(PartnerKind::Customer) && p.status == RecordStatus::Active => {
            }
            Ok(_) => errors.add("customer_id", "not_customer", "is not an active customer"),
            Err(StoreError::NotFound) => errors.add(
                "customer_id",
                "unknown",
                "is not a partner of this organization",
            ),
            Err(other) => return Err(other.into()),
        },
    }
    match draft.location_id {
        None => errors.add("location_id", "required", "is required"),
        Some(id) => match steelyard_store::inventory::get_location(&app.db, Some(org_id), id).await
        {
            Ok(l) if l.kind == LocationKind::Internal => {}
            Ok(_) => errors.add("location_id", "virtual", "must be an internal location"),
            Err(StoreError::NotFound) => errors.add(
                "location_id",
                "unknown",
                "is not a location of this organization",
            ),
            Err(other) => return Err(other.into()),
        },
    }
    let drafted = order_lines::within_limit(&draft.lines, &mut errors);
    let mut lines = Vec::new();
    let products =
        crate::products::by_ids(app, &scope, drafted.iter().filter_map(|l| l.product_id)).await?;
    for (i, line) in drafted.iter().enumerate() {
        let at = |field: &str| format!("lines[{i}].{field}");
        let Some(product) = crate::products::for_line(&products, line.product_id, i, &mut errors)
        else {
            continue;
        };
        let product_id = product.id;
        let quantity = errors.take(
            &at("quantity"),
            Quantity::required_positive(line.quantity.as_ref()),
        );
        let unit_price = match &line.unit_price {
            None => Some(product.list_price),
            Some(text) => order_lines::typed_unit_price(text, i, &mut errors),
        };
        let tax = line_tax(app, &scope, line.tax_id, TaxUse::Sales, i, &mut errors).await?;
        let (Some(quantity), Some(unit_price)) = (quantity, unit_price) else {
            continue;
        };
        let Some((line_total, tax)) =
            order_lines::total_and_tax(unit_price, quantity, tax.as_ref(), i, &mut errors)
        else {
            continue;
        };
        lines.push(SalesOrderLine {
            id: steelyard_domain::new_id(),
            line_no: i as u32 + 1,
            product_id,
            quantity,
            unit_price,
            line_total,
            tax,
            shipped: Quantity::ZERO,
        });
    }
    let totals = SalesOrder::totals_of(&lines);
    if totals.is_none() {
        errors.add("lines", "out_of_range", "the order total is too large");
    }
    errors.finish()?;
    let now = steelyard_store::now();
    let order = SalesOrder {
        // The id, the times and the number are the store's to set: they follow the numbers.
        id: Uuid::nil(),
        organization_id: org_id,
        number: String::new(),
        customer_id: draft.customer_id.unwrap_or_default(),
        location_id: draft.location_id.unwrap_or_default(),
        status: SoStatus::Draft,
        notes,
        lines,
        subtotal: totals.unwrap_or_default().subtotal,
        tax_total: totals.unwrap_or_default().tax_total,
        total: totals.unwrap_or_default().total,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let creation = ctx.creation(order, move |order| {
        vec![NewEvent::of_change(
            org_id,
            AGGREGATE,
            order.id,
            "sales_order.created",
            None,
            order,
        )]
    })?;
    let (order, _events) = store::create(&app.db, creation).await?;
    Ok(order)
}

pub async fn get(app: &App, ctx: &Ctx, id: Uuid) -> Result<SalesOrder> {
    ctx.require(Permission::SALES_ORDER_READ)?;
    store::get(&app.db, &ctx.actor.scope, id)
        .await
        .map_err(not_found)
}

pub async fn list(
    app: &App,
    ctx: &Ctx,
    filter: &SoFilter,
    page: PageRequest,
) -> Result<Page<SalesOrder>> {
    ctx.require(Permission::SALES_ORDER_READ)?;
    Ok(store::list(
        &app.db,
        &ctx.actor.scope,
        ctx.actor.acting_org,
        filter,
        page,
    )
    .await?)
}

pub async fn history(app: &App, ctx: &Ctx, id: Uuid) -> Result<Vec<EventRecord>> {
    let order = get(app, ctx, id).await?;
    Ok(
        steelyard_store::events::for_aggregate(&app.db, order.organization_id, AGGREGATE, id)
            .await?,
    )
}

/// Runs a state change with its stock side effect (`stock_effect` gets the transaction and the
/// order before and after), in one transaction with the event.
async fn transition<R, S>(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
    kind: &'static str,
    rule: R,
    stock_effect: S,
) -> Result<SalesOrder>
where
    R: FnOnce(&SalesOrder) -> Result<SalesOrder>,
    S: AsyncFnOnce(&mut Tx, &SalesOrder, &SalesOrder) -> Result<()>,
{
    let mut tx = app.begin(ctx).await?;
    let current = store::get_in(&mut tx, &ctx.actor.scope, id)
        .await
        .map_err(not_found)?;
    check_version(current.version, expected)?;
    let next = rule(&current)?;
    stock_effect(&mut tx, &current, &next).await?;
    store::update(&mut tx, &next).await.map_err(|e| match e {
        StoreError::Stale => Error::Stale {
            current: current.version,
        },
        other => other.into(),
    })?;
    tx.record(NewEvent::of_change(
        current.organization_id,
        AGGREGATE,
        id,
        kind,
        Some(&current),
        &next,
    ));
    app.commit(tx).await?;
    Ok(next)
}

/// Tracked products among `lines` (product id, quantity).
async fn tracked(
    tx: &mut Tx,
    org_id: Uuid,
    lines: Vec<(Uuid, Quantity)>,
) -> Result<Vec<(Uuid, Quantity)>> {
    let scope = DataScope::Organization(org_id);
    let mut out = Vec::new();
    for (product_id, quantity) in lines {
        if steelyard_store::products::get_in(tx, &scope, product_id)
            .await?
            .tracked
        {
            out.push((product_id, quantity));
        }
    }
    Ok(out)
}

/// Draft → confirmed, reserving every tracked line in the order's location. If any line
/// cannot be reserved, nothing is (409).
pub async fn confirm(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<SalesOrder> {
    ctx.require(Permission::SALES_ORDER_MANAGE)?;
    let rule = |order: &SalesOrder| order.confirm(steelyard_store::now()).map_err(conflict);
    transition(
        app,
        ctx,
        id,
        expected,
        "sales_order.confirmed",
        rule,
        async |tx: &mut Tx, _before: &SalesOrder, after: &SalesOrder| {
            for (product_id, quantity) in
                tracked(tx, after.organization_id, after.open_reservations()).await?
            {
                if !stock::reserve(tx, product_id, after.location_id, quantity).await? {
                    return Err(Error::Conflict(format!(
                        "not enough stock of product {product_id} available to reserve {quantity}"
                    )));
                }
            }
            Ok(())
        },
    )
    .await
}

/// Releases what `before` still held reserved (cancel and close).
async fn release_open(tx: &mut Tx, before: &SalesOrder) -> Result<()> {
    for (product_id, quantity) in
        tracked(tx, before.organization_id, before.open_reservations()).await?
    {
        stock::release(tx, product_id, before.location_id, quantity).await?;
    }
    Ok(())
}

pub async fn cancel(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<SalesOrder> {
    ctx.require(Permission::SALES_ORDER_MANAGE)?;
    let rule = |order: &SalesOrder| order.cancel(steelyard_store::now()).map_err(conflict);
    transition(
        app,
        ctx,
        id,
        expected,
        "sales_order.cancelled",
        rule,
        async |tx: &mut Tx, before: &SalesOrder, _after: &SalesOrder| {
            release_open(tx, before).await
        },
    )
    .await
}

pub async fn close(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<SalesOrder> {
    ctx.require(Permission::SALES_ORDER_MANAGE)?;
    let rule = |order: &SalesOrder| order.close(steelyard_store::now()).map_err(conflict);
    transition(
        app,
        ctx,
        id,
        expected,
        "sales_order.closed",
        rule,
        async |tx: &mut Tx, before: &SalesOrder, _after: &SalesOrder| {
            release_open(tx, before).await
        },
    )
    .await
}

/// Ships from the reserved stock: each line's reservation is released and the goods move
/// from the order's location to the customers location at average cost.
pub async fn ship(app: &App, ctx: &Ctx, id: Uuid, draft: ShipmentDraft) -> Result<SalesOrder> {
    ctx.require(Permission::SALES_ORDER_SHIP)?;
    let mut errors = FieldErrors::new();
    let shipped = line_quantities(
        draft.lines.iter().map(|l| (l.line_id, l.quantity.as_ref())),
        &mut errors,
    );
    errors.finish()?;
    let rule = |order: &SalesOrder| {
        order
            .ship(&shipped, steelyard_store::now())
            .map_err(|e| match e {
                ShipError::State(text) => Error::Conflict(text),
                ShipError::UnknownLine(line) => order_lines::not_on_order(line),
                ShipError::OverShipment(line) => order_lines::lines_refused(
                    "over_shipment",
                    format!("line {line} would ship more than ordered"),
                ),
            })
    };
    let lines = shipped.clone();
    transition(
        app,
        ctx,
        id,
        None,
        "sales_order.shipped",
        rule,
        async move |tx: &mut Tx, before: &SalesOrder, _after: &SalesOrder| {
            let org_id = before.organization_id;
            let scope = DataScope::Organization(org_id);
            let from =
                steelyard_store::inventory::location_in(tx, Some(org_id), before.location_id)
                    .await?;
            let customers = virtual_location(tx, org_id, LocationKind::Customer).await?;
            for (line_id, quantity) in &lines {
                let line = before
                    .lines
                    .iter()
                    .find(|l| l.id == *line_id)
                    .ok_or(Error::NotFound("line"))?;
                let product =
                    steelyard_store::products::get_in(tx, &scope, line.product_id).await?;
                if !product.tracked {
                    continue;
                }
                stock::release(tx, product.id, from.id, *quantity).await?;
                let request = MoveRequest {
                    product: &product,
                    from: &from,
                    to: &customers,
                    quantity: *quantity,
                    unit_cost: None,
                    kind: MoveKind::Shipment,
                    reference: Some(before.number.clone()),
                };
                post_move(tx, request).await?;
            }
            Ok(())
        },
    )
    .await
}
