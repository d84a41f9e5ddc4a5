//! Sales orders: the order from a customer, its lines and totals, and its states (draft →
//! confirmed → partially shipped → shipped → closed, or cancelled). Confirming reserves stock
//! in the order's warehouse; shipping takes the reserved stock out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::money::{DecimalText, Money, Quantity};
use crate::organization::StateConflict;
use crate::tax::{LineTax, OrderTotals};
use crate::validation::{FieldError, invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SoStatus {
    Draft,
    Confirmed,
    PartiallyShipped,
    Shipped,
    Closed,
    Cancelled,
}

impl SoStatus {
    pub const ALL: [Self; 6] = [
        Self::Draft,
        Self::Confirmed,
        Self::PartiallyShipped,
        Self::Shipped,
        Self::Closed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Confirmed => "confirmed",
            Self::PartiallyShipped => "partially_shipped",
            Self::Shipped => "shipped",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                invalid(
                    "invalid",
                    "must be draft, confirmed, partially_shipped, shipped, closed or cancelled",
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SalesOrderLine {
    pub id: Uuid,
    pub line_no: u32,
    pub product_id: Uuid,
    /// Quantity ordered, in the product's stock unit.
    pub quantity: Quantity,
    /// Price per stock unit; it includes the line's tax when the tax is inclusive.
    pub unit_price: Money,
    /// `quantity` × `unit_price`.
    pub line_total: Money,
    #[serde(flatten)]
    pub tax: LineTax,
    /// Shipped so far.
    pub shipped: Quantity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SalesOrder {
    pub id: Uuid,
    pub organization_id: Uuid,
    #[schema(example = "SO-000123")]
    pub number: String,
    pub customer_id: Uuid,
    /// The internal location stock is reserved in and shipped from.
    pub location_id: Uuid,
    pub status: SoStatus,
    pub notes: Option<String>,
    pub lines: Vec<SalesOrderLine>,
    /// The lines without tax.
    pub subtotal: Money,
    pub tax_total: Money,
    /// `subtotal` + `tax_total`: what the customer pays.
    pub total: Money,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesLineDraft {
    pub product_id: Option<Uuid>,
    /// In the product's stock unit.
    pub quantity: Option<DecimalText>,
    /// The product's list price when absent.
    pub unit_price: Option<DecimalText>,
    /// An active tax of the organization for sales; none when absent.
    pub tax_id: Option<Uuid>,
}

/// The body of `POST /api/v1/sales-orders`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesOrderDraft {
    pub customer_id: Option<Uuid>,
    pub location_id: Option<Uuid>,
    pub notes: Option<String>,
    #[serde(default)]
    pub lines: Vec<SalesLineDraft>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentLineDraft {
    pub line_id: Option<Uuid>,
    pub quantity: Option<DecimalText>,
}

/// The body of `POST /api/v1/sales-orders/{id}/shipments`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentDraft {
    #[serde(default)]
    pub lines: Vec<ShipmentLineDraft>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShipError {
    #[error("{0}")]
    State(String),
    #[error("line {0} is not on this order")]
    UnknownLine(Uuid),
    #[error("line {0} would ship more than ordered")]
    OverShipment(Uuid),
}

impl SalesOrder {
    /// Subtotal, tax total and total of `lines`; None when out of range.
    pub fn totals_of(lines: &[SalesOrderLine]) -> Option<OrderTotals> {
        OrderTotals::of(lines.iter().map(|l| &l.tax))
    }

    fn next(&self, status: SoStatus, now: DateTime<Utc>) -> Self {
        Self {
            status,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }

    /// Draft → confirmed (the caller reserves the stock in the same transaction).
    pub fn confirm(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.status != SoStatus::Draft {
            return Err(StateConflict(format!(
                "only a draft can be confirmed; this order is {}",
                self.status.as_str()
            )));
        }
        if self.lines.is_empty() {
            return Err(StateConflict(
                "an order without lines cannot be confirmed".into(),
            ));
        }
        Ok(self.next(SoStatus::Confirmed, now))
    }

    /// Draft or confirmed → cancelled (a confirmed order's reservations are released).
    pub fn cancel(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        match self.status {
            SoStatus::Draft | SoStatus::Confirmed => Ok(self.next(SoStatus::Cancelled, now)),
            other => Err(StateConflict(format!(
                "a {} order cannot be cancelled",
                other.as_str()
            ))),
        }
    }

    /// Partially shipped or shipped → closed (what is still reserved is released).
    pub fn close(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        match self.status {
            SoStatus::PartiallyShipped | SoStatus::Shipped => Ok(self.next(SoStatus::Closed, now)),
            other => Err(StateConflict(format!(
                "a {} order cannot be closed",
                other.as_str()
            ))),
        }
    }

    /// Records shipped quantities; never more than ordered.
    pub fn ship(
        &self,
        shipped: &[(Uuid, Quantity)],
        now: DateTime<Utc>,
    ) -> Result<Self, ShipError> {
        if !matches!(
            self.status,
            SoStatus::Confirmed | SoStatus::PartiallyShipped
        ) {
            return Err(ShipError::State(format!(
                "a {} order cannot ship",
                self.status.as_str()
            )));
        }
        let mut next = self.clone();
        for (line_id, quantity) in shipped {
            let line = next
                .lines
                .iter_mut()
                .find(|l| l.id == *line_id)
                .ok_or(ShipError::UnknownLine(*line_id))?;
            let total = line
                .shipped
                .checked_add(*quantity)
                .ok_or(ShipError::OverShipment(*line_id))?;
            if total > line.quantity {
                return Err(ShipError::OverShipment(*line_id));
            }
            line.shipped = total;
        }
        let complete = next.lines.iter().all(|l| l.shipped >= l.quantity);
        Ok(next.next(
            if complete {
                SoStatus::Shipped
            } else {
                SoStatus::PartiallyShipped
            },
            now,
        ))
    }

    /// What each line still holds reserved: ordered less shipped (while confirmed or shipping).
    pub fn open_reservations(&self) -> Vec<(Uuid, Quantity)> {
        if !matches!(
            self.status,
            SoStatus::Confirmed | SoStatus::PartiallyShipped
        ) {
            return Vec::new();
        }
        self.lines
            .iter()
            .filter_map(|l| {
                l.quantity
                    .checked_sub(l.shipped)
                    .filter(|q| *q > Quantity::ZERO)
                    .map(|q| (l.product_id, q))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    fn order(quantities: &[&str]) -> SalesOrder {
        let lines: Vec<SalesOrderLine> = quantities
            .iter()
            .enumerate()
            .map(|(i, qty)| SalesOrderLine {
                id: crate::new_id(),
                line_no: i as u32 + 1,
                product_id: crate::new_id(),
                quantity: q(qty),
                unit_price: Money::parse("3").unwrap(),
                line_total: Money::parse("3").unwrap().times(q(qty)).unwrap(),
                tax: LineTax::of(Money::parse("3").unwrap().times(q(qty)).unwrap(), None).unwrap(),
                shipped: Quantity::ZERO,
            })
            .collect();
        SalesOrder {
            id: crate::new_id(),
            organization_id: crate::new_id(),
            number: crate::document::document_number("SO", 1),
            customer_id: crate::new_id(),
            location_id: crate::new_id(),
            status: SoStatus::Draft,
            notes: None,
            subtotal: SalesOrder::totals_of(&lines).unwrap().subtotal,
            tax_total: Money::ZERO,
            total: SalesOrder::totals_of(&lines).unwrap().total,
            lines,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_lifecycle_runs_draft_confirmed_partial_shipped_closed_and_reservations_follow() {
        let so = order(&["4", "2"]);
        assert!(
            so.open_reservations().is_empty(),
            "a draft reserves nothing"
        );
        let so = so.confirm(Utc::now()).unwrap();
        assert_eq!(so.open_reservations().len(), 2);
        let (a, b) = (so.lines[0].id, so.lines[1].id);
        let so = so.ship(&[(a, q("1"))], Utc::now()).unwrap();
        assert_eq!(so.status, SoStatus::PartiallyShipped);
        assert_eq!(so.open_reservations()[0].1, q("3"));
        assert!(
            so.ship(&[(b, q("3"))], Utc::now()).is_err(),
            "never more than ordered"
        );
        let so = so.ship(&[(a, q("3")), (b, q("2"))], Utc::now()).unwrap();
        assert_eq!(
            (so.status, so.open_reservations().len()),
            (SoStatus::Shipped, 0)
        );
        assert_eq!(so.close(Utc::now()).unwrap().status, SoStatus::Closed);
    }

    #[test]
    fn only_drafts_and_confirmed_orders_cancel() {
        let so = order(&["1"]).confirm(Utc::now()).unwrap();
        assert_eq!(so.cancel(Utc::now()).unwrap().status, SoStatus::Cancelled);
        let shipped = so.ship(&[(so.lines[0].id, q("1"))], Utc::now()).unwrap();
        assert!(shipped.cancel(Utc::now()).is_err());
    }
}
