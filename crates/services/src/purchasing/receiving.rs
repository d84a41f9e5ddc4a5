//! Receiving a purchase order: goods into an internal location, one stock move per line
//! through the inventory ledger at the line's price per stock unit, and the order's received
//! quantities, in one transaction.

use steelyard_domain::FieldErrors;
use steelyard_domain::access::{DataScope, Permission};
use steelyard_domain::event::NewEvent;
use steelyard_domain::inventory::{LocationKind, MoveKind, line_quantities};
use steelyard_domain::money::{Money, Quantity};
use steelyard_domain::purchase::{PurchaseOrder, ReceiptDraft, ReceiveError};
use steelyard_store::StoreError;
use steelyard_store::purchasing as store;
use uuid::Uuid;

use super::{AGGREGATE, not_found};
use crate::inventory::{MoveRequest, post_move, virtual_location};
use crate::order_lines;
use crate::{App, Ctx, Error, Result};

/// Receives goods into an internal location: the order's received quantities, one stock move
/// per line from the suppliers location at the line's price per stock unit, and the event.
#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject, po_id = %id))]
pub async fn receive(app: &App, ctx: &Ctx, id: Uuid, draft: ReceiptDraft) -> Result<PurchaseOrder> {
    ctx.require(Permission::PURCHASING_ORDER_RECEIVE)?;
    let mut errors = FieldErrors::new();
    if draft.location_id.is_none() {
        errors.add("location_id", "required", "is required");
    }
    let received = line_quantities(
        draft.lines.iter().map(|l| (l.line_id, l.quantity.as_ref())),
        &mut errors,
    );
    errors.finish()?;
    let mut tx = app.begin(ctx).await?;
    let current = store::get_in(&mut tx, &ctx.actor.scope, id)
        .await
        .map_err(not_found)?;
    let org_id = current.organization_id;
    let location = steelyard_store::inventory::location_in(
        &mut tx,
        Some(org_id),
        draft.location_id.unwrap_or_default(),
    )
    .await
    .map(Some)
    .or_else(|e| match e {
        StoreError::NotFound => Ok(None),
        other => Err(Error::from(other)),
    })?
    .filter(|l| l.kind == LocationKind::Internal)
    .ok_or_else(|| {
        Error::Validation(FieldErrors::single(
            "location_id",
            "unknown",
            "is not an internal location of this organization",
        ))
    })?;
    let next = current
        .receive(
            &received,
            app.settings.receipt_tolerance_percent,
            steelyard_store::now(),
        )
        .map_err(|e| match e {
            ReceiveError::State(text) => Error::Conflict(text),
            ReceiveError::UnknownLine(line) => order_lines::not_on_order(line),
            ReceiveError::OverReceipt(line) => order_lines::lines_refused(
                "over_receipt",
                format!(
                    "line {line} would receive more than ordered plus {}%",
                    app.settings.receipt_tolerance_percent
                ),
            ),
        })?;
    let supplier = virtual_location(&mut tx, org_id, LocationKind::Supplier).await?;
    let scope = DataScope::Organization(org_id);
    for (line_id, quantity) in &received {
        let line = current
            .lines
            .iter()
            .find(|l| l.id == *line_id)
            .ok_or(Error::NotFound("line"))?;
        let product = steelyard_store::products::get_in(&mut tx, &scope, line.product_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::NotFound("product"),
                other => other.into(),
            })?;
        if !product.tracked {
            continue;
        }
        let overflow = || Error::Internal("quantity overflow".into());
        // The line's own factor, fixed when ordered, converts both quantity and price.
        let stock_quantity = quantity
            .to_decimal()
            .checked_mul(line.unit_factor.to_decimal())
            .and_then(|q| {
                let q = q.round_dp_with_strategy(
                    Quantity::SCALE,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                );
                Quantity::from_decimal(q).ok()
            })
            .ok_or_else(overflow)?;
        // Stock is valued without tax: an inclusive price is taken net.
        let net_price = line.tax.net_price(line.unit_price).ok_or_else(overflow)?;
        let per_stock_unit = (net_price.to_decimal() / line.unit_factor.to_decimal())
            .round_dp_with_strategy(
                Money::SCALE,
                rust_decimal::RoundingStrategy::MidpointAwayFromZero,
            );
        let unit_cost = Money::from_decimal(per_stock_unit).map_err(|_| overflow())?;
        let request = MoveRequest {
            product: &product,
            from: &supplier,
            to: &location,
            quantity: stock_quantity,
            unit_cost: Some(unit_cost),
            kind: MoveKind::Receipt,
            reference: Some(current.number.clone()),
        };
        post_move(&mut tx, request).await?;
    }
    store::update(&mut tx, &next).await.map_err(|e| match e {
        StoreError::Stale => Error::Stale {
            current: current.version,
        },
        other => other.into(),
    })?;
    tx.record(NewEvent::of_change(
        org_id,
        AGGREGATE,
        id,
        "purchase_order.received",
        Some(&current),
        &next,
    ));
    app.commit(tx).await?;
    Ok(next)
}
