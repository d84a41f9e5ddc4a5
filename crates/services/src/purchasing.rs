//! Purchase orders: create with lines, confirm (with approval above a threshold), receive into
//! stock (partially, within a tolerance), cancel and close. Receipts post supplier → location
//! moves through the inventory ledger, valued at the line price.

use steelyard_domain::FieldErrors;
use steelyard_domain::access::{DataScope, Permission};
use steelyard_domain::event::{EventRecord, NewEvent};
use steelyard_domain::money::Quantity;
use steelyard_domain::page::{Page, PageRequest};
use steelyard_domain::partner::PartnerKind;
use steelyard_domain::purchase::{PoStatus, PurchaseOrder, PurchaseOrderDraft, PurchaseOrderLine};
use steelyard_domain::record::RecordStatus;
use steelyard_domain::tax::TaxUse;
use steelyard_domain::text::parse_optional_line;
use steelyard_domain::validation::invalid;
use steelyard_store::purchasing as store;
pub use steelyard_store::purchasing::PoFilter;
use steelyard_store::{StoreError, Tx};
use uuid::Uuid;

use crate::master_data::line_tax;
use crate::order_lines;
use crate::record::{self, Stored, change, conflict};
use crate::{App, Ctx, Error, Expected, Result};

mod receiving;
pub use receiving::receive;

pub const AGGREGATE: &str = "purchase_order";

impl Stored for PurchaseOrder {
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
        Error::Conflict(format!(
            "a purchase order numbered {:?} exists",
            record.number
        ))
    }
}

fn not_found(error: StoreError) -> Error {
    record::not_found::<PurchaseOrder>(error)
}

/// A number the caller chose: 1 to 30 letters, digits, `-`, `_` or `/`.
pub(crate) fn parse_number(raw: &str) -> Result<String, steelyard_domain::FieldError> {
    let number = raw.trim();
    let valid = (1..=30).contains(&number.len())
        && number
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/'));
    if valid {
        // Upper-cased, so `po-7` and `PO-7` are one number.
        Ok(number.to_uppercase())
    } else {
        Err(invalid("invalid", "use 1 to 30 letters, digits, -, _ or /"))
    }
}

#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject))]
pub async fn create(app: &App, ctx: &Ctx, draft: PurchaseOrderDraft) -> Result<PurchaseOrder> {
    ctx.require(Permission::PURCHASING_ORDER_MANAGE)?;
    let org_id = ctx.acting_org()?;
    let scope = DataScope::Organization(org_id);
    let mut errors = FieldErrors::new();
    let number = draft
        .number
        .as_deref()
        .and_then(|n| errors.take("number", parse_number(n)));
    let notes = errors
        .take("notes", parse_optional_line(draft.notes.as_deref(), 1000))
        .flatten();
    match draft.vendor_id {
        None => errors.add("vendor_id", "required", "is required"),
        Some(id) => match steelyard_store::partners::get(&app.db, &scope, id).await {
            Ok(p) if p.kind.includes(PartnerKind::Vendor) && p.status == RecordStatus::Active => {}
            Ok(_) => errors.add("vendor_id", "not_vendor", "is not an active vendor"),
            Err(StoreError::NotFound) => errors.add(
                "vendor_id",
                "unknown",
                "is not a partner of this organization",
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
        let unit = line
            .unit
            .clone()
            .or_else(|| product.purchase_unit.as_ref().map(|c| c.unit.clone()))
            .unwrap_or_else(|| product.stock_unit.clone());
        let one = Quantity::parse("1").unwrap_or_default();
        let Some(factor) = product.to_stock_units(one, &unit) else {
            errors.add(
                &at("unit"),
                "unknown_unit",
                format!("{unit:?} is not a unit of {}", product.sku),
            );
            continue;
        };
        let quantity = errors.take(
            &at("quantity"),
            Quantity::required_positive(line.quantity.as_ref()),
        );
        let unit_price = match line.unit_price.as_ref() {
            None => {
                let price = product.standard_cost.times(factor);
                if price.is_none() {
                    errors.add(
                        &at("unit_price"),
                        "out_of_range",
                        "the standard cost times the unit is too large",
                    );
                }
                price
            }
            Some(text) => order_lines::typed_unit_price(text, i, &mut errors),
        };
        let tax = line_tax(app, &scope, line.tax_id, TaxUse::Purchases, i, &mut errors).await?;
        let (Some(quantity), Some(unit_price)) = (quantity, unit_price) else {
            continue;
        };
        let Some((line_total, tax)) =
            order_lines::total_and_tax(unit_price, quantity, tax.as_ref(), i, &mut errors)
        else {
            continue;
        };
        lines.push(PurchaseOrderLine {
            id: steelyard_domain::new_id(),
            line_no: i as u32 + 1,
            product_id,
            quantity,
            unit,
            unit_price,
            line_total,
            tax,
            unit_factor: factor,
            received: Quantity::ZERO,
        });
    }
    let totals = PurchaseOrder::totals_of(&lines);
    if totals.is_none() {
        errors.add("lines", "out_of_range", "the order total is too large");
    }
    errors.finish()?;
    let chosen = number.is_some();
    let now = steelyard_store::now();
    let po = PurchaseOrder {
        // For an automatic number the store sets the id and the times again when it takes
        // the number, so that they follow the numbers.
        id: steelyard_domain::new_id(),
        organization_id: org_id,
        number: number.unwrap_or_default(),
        vendor_id: draft.vendor_id.unwrap_or_default(),
        status: PoStatus::Draft,
        notes,
        lines,
        subtotal: totals.unwrap_or_default().subtotal,
        tax_total: totals.unwrap_or_default().tax_total,
        total: totals.unwrap_or_default().total,
        version: 1,
        created_at: now,
        updated_at: now,
        confirmed_at: None,
    };
    let created = move |po: &PurchaseOrder| {
        vec![NewEvent::of_change(
            org_id,
            AGGREGATE,
            po.id,
            "purchase_order.created",
            None,
            po,
        )]
    };
    if !chosen {
        let (po, _events) = store::create(&app.db, ctx.creation(po, created)?).await?;
        return Ok(po);
    }
    let mut tx = app.begin(ctx).await?;
    // The unique index checks the chosen number within the insert itself: a lookup before it
    // cost a round trip in the organization's serial section, and its cached plan could scan
    // every order of the organization (BENCHMARKS.md, cause 21).
    if !store::insert(&mut tx, &po).await? {
        return Err(PurchaseOrder::duplicate(&po));
    }
    for event in created(&po) {
        tx.record(event);
    }
    ctx.remember_created(&mut tx, &po)?;
    app.commit(tx).await?;
    Ok(po)
}

pub async fn get(app: &App, ctx: &Ctx, id: Uuid) -> Result<PurchaseOrder> {
    ctx.require(Permission::PURCHASING_ORDER_READ)?;
    store::get(&app.db, &ctx.actor.scope, id)
        .await
        .map_err(not_found)
}

pub async fn list(
    app: &App,
    ctx: &Ctx,
    filter: &PoFilter,
    page: PageRequest,
) -> Result<Page<PurchaseOrder>> {
    ctx.require(Permission::PURCHASING_ORDER_READ)?;
    Ok(store::list(
        &app.db,
        &ctx.actor.scope,
        ctx.actor.acting_org,
        filter,
        page,
    )
    .await?)
}

/// Whether the organization has an order with this number (the import preview asks too).
pub async fn number_exists(app: &App, ctx: &Ctx, number: &str) -> Result<bool> {
    ctx.require(Permission::PURCHASING_ORDER_READ)?;
    if number.trim().is_empty() {
        return Err(Error::Validation(FieldErrors::single(
            "number",
            "required",
            "name the number to look for",
        )));
    }
    let org_id = ctx.acting_org()?;
    Ok(store::number_exists(&app.db, org_id, number).await?)
}

pub async fn history(app: &App, ctx: &Ctx, id: Uuid) -> Result<Vec<EventRecord>> {
    let po = get(app, ctx, id).await?;
    Ok(steelyard_store::events::for_aggregate(&app.db, po.organization_id, AGGREGATE, id).await?)
}

/// Draft → confirmed. Above the approval threshold the caller also needs
/// `purchasing.order.approve`.
pub async fn confirm(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<PurchaseOrder> {
    ctx.require(Permission::PURCHASING_ORDER_MANAGE)?;
    let threshold = app.settings.po_approval_threshold;
    let approver = ctx.actor.may(Permission::PURCHASING_ORDER_APPROVE);
    change(
        app,
        ctx,
        id,
        expected,
        "purchase_order.confirmed",
        |po: &PurchaseOrder| {
            if po.total > threshold && !approver {
                return Err(Error::Forbidden(Permission::PURCHASING_ORDER_APPROVE));
            }
            po.confirm(steelyard_store::now()).map_err(conflict)
        },
    )
    .await
}

pub async fn cancel(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<PurchaseOrder> {
    ctx.require(Permission::PURCHASING_ORDER_MANAGE)?;
    change(
        app,
        ctx,
        id,
        expected,
        "purchase_order.cancelled",
        |po: &PurchaseOrder| po.cancel(steelyard_store::now()).map_err(conflict),
    )
    .await
}

pub async fn close(
    app: &App,
    ctx: &Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<PurchaseOrder> {
    ctx.require(Permission::PURCHASING_ORDER_MANAGE)?;
    change(
        app,
        ctx,
        id,
        expected,
        "purchase_order.closed",
        |po: &PurchaseOrder| po.close(steelyard_store::now()).map_err(conflict),
    )
    .await
}
