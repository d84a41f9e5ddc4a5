//! Purchase orders: the order to a vendor, its lines and totals in exact decimals, and the
//! states it moves through (draft → confirmed → partially received → received → closed, or
//! cancelled).

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
pub enum PoStatus {
    Draft,
    Confirmed,
    PartiallyReceived,
    Received,
    Closed,
    Cancelled,
}

impl PoStatus {
    pub const ALL: [Self; 6] = [
        Self::Draft,
        Self::Confirmed,
        Self::PartiallyReceived,
        Self::Received,
        Self::Closed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Confirmed => "confirmed",
            Self::PartiallyReceived => "partially_received",
            Self::Received => "received",
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
                    "must be draft, confirmed, partially_received, received, closed or cancelled",
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseOrderLine {
    pub id: Uuid,
    pub line_no: u32,
    pub product_id: Uuid,
    /// Quantity ordered, in `unit`.
    pub quantity: Quantity,
    pub unit: String,
    /// Price per `unit`; it includes the line's tax when the tax is inclusive.
    pub unit_price: Money,
    /// `quantity` × `unit_price`.
    pub line_total: Money,
    #[serde(flatten)]
    pub tax: LineTax,
    /// Stock units one `unit` makes (1 for the stock unit).
    pub unit_factor: Quantity,
    /// Received so far, in `unit`.
    pub received: Quantity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseOrder {
    pub id: Uuid,
    pub organization_id: Uuid,
    #[schema(example = "PO-000123")]
    pub number: String,
    pub vendor_id: Uuid,
    pub status: PoStatus,
    pub notes: Option<String>,
    pub lines: Vec<PurchaseOrderLine>,
    /// The lines without tax.
    pub subtotal: Money,
    pub tax_total: Money,
    /// `subtotal` + `tax_total`: what the order costs.
    pub total: Money,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// A line of `POST /api/v1/purchase-orders`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineDraft {
    pub product_id: Option<Uuid>,
    pub quantity: Option<DecimalText>,
    /// The product's purchase unit, or its stock unit; the purchase unit when absent.
    pub unit: Option<String>,
    pub unit_price: Option<DecimalText>,
    /// An active tax of the organization for purchases; none when absent.
    pub tax_id: Option<Uuid>,
}

/// The body of `POST /api/v1/purchase-orders`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseOrderDraft {
    pub vendor_id: Option<Uuid>,
    /// A number of your own; the next `PO-000123` when absent.
    pub number: Option<String>,
    pub notes: Option<String>,
    #[serde(default)]
    pub lines: Vec<LineDraft>,
}

/// A line of a receipt: how much of which order line arrived, in the line's unit.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLineDraft {
    pub line_id: Option<Uuid>,
    pub quantity: Option<DecimalText>,
}

/// The body of `POST /api/v1/purchase-orders/{id}/receipts`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptDraft {
    /// The internal location the goods go into.
    pub location_id: Option<Uuid>,
    #[serde(default)]
    pub lines: Vec<ReceiptLineDraft>,
}

impl PurchaseOrder {
    /// Subtotal, tax total and total of `lines`; None when out of range.
    pub fn totals_of(lines: &[PurchaseOrderLine]) -> Option<OrderTotals> {
        OrderTotals::of(lines.iter().map(|l| &l.tax))
    }

    fn next(&self, status: PoStatus, now: DateTime<Utc>) -> Self {
        Self {
            status,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }

    /// Draft → confirmed; an order without lines cannot be confirmed.
    pub fn confirm(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.status != PoStatus::Draft {
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
        Ok(Self {
            confirmed_at: Some(now),
            ..self.next(PoStatus::Confirmed, now)
        })
    }

    /// Draft or confirmed → cancelled; once goods arrived, close it instead.
    pub fn cancel(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        match self.status {
            PoStatus::Draft | PoStatus::Confirmed => Ok(self.next(PoStatus::Cancelled, now)),
            other => Err(StateConflict(format!(
                "a {} order cannot be cancelled",
                other.as_str()
            ))),
        }
    }

    /// Partially received or received → closed (nothing more is expected).
    pub fn close(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        match self.status {
            PoStatus::PartiallyReceived | PoStatus::Received => {
                Ok(self.next(PoStatus::Closed, now))
            }
            other => Err(StateConflict(format!(
                "a {} order cannot be closed",
                other.as_str()
            ))),
        }
    }

    /// Records `received` (line id, quantity in the line's unit). Each line may receive up to
    /// its quantity plus `tolerance_percent`; the order becomes partially received or received.
    pub fn receive(
        &self,
        received: &[(Uuid, Quantity)],
        tolerance_percent: u32,
        now: DateTime<Utc>,
    ) -> Result<Self, ReceiveError> {
        if !matches!(
            self.status,
            PoStatus::Confirmed | PoStatus::PartiallyReceived
        ) {
            return Err(ReceiveError::State(format!(
                "a {} order cannot receive goods",
                self.status.as_str()
            )));
        }
        let mut next = self.clone();
        for (line_id, quantity) in received {
            let line = next
                .lines
                .iter_mut()
                .find(|l| l.id == *line_id)
                .ok_or(ReceiveError::UnknownLine(*line_id))?;
            let total = line
                .received
                .checked_add(*quantity)
                .ok_or(ReceiveError::OverReceipt(*line_id))?;
            let allowed = allowed_quantity(line.quantity, tolerance_percent)
                .ok_or(ReceiveError::OverReceipt(*line_id))?;
            if total > allowed {
                return Err(ReceiveError::OverReceipt(*line_id));
            }
            line.received = total;
        }
        let complete = next.lines.iter().all(|l| l.received >= l.quantity);
        let status = if complete {
            PoStatus::Received
        } else {
            PoStatus::PartiallyReceived
        };
        Ok(next.next(status, now))
    }
}

/// The most a line may receive: its quantity plus the tolerance.
pub fn allowed_quantity(quantity: Quantity, tolerance_percent: u32) -> Option<Quantity> {
    let extra = quantity
        .to_decimal()
        .checked_mul(rust_decimal::Decimal::from(tolerance_percent))?
        / rust_decimal::Decimal::from(100);
    let extra = Quantity::from_decimal(extra.round_dp(Quantity::SCALE)).ok()?;
    quantity.checked_add(extra)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    #[error("{0}")]
    State(String),
    #[error("line {0} is not on this order")]
    UnknownLine(Uuid),
    #[error("line {0} would receive more than ordered plus the tolerance")]
    OverReceipt(Uuid),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    fn order(quantities: &[&str]) -> PurchaseOrder {
        let lines: Vec<PurchaseOrderLine> = quantities
            .iter()
            .enumerate()
            .map(|(i, qty)| PurchaseOrderLine {
                id: crate::new_id(),
                line_no: i as u32 + 1,
                product_id: crate::new_id(),
                quantity: q(qty),
                unit: "ea".into(),
                unit_price: Money::parse("2.5").unwrap(),
                line_total: Money::parse("2.5").unwrap().times(q(qty)).unwrap(),
                tax: LineTax::of(Money::parse("2.5").unwrap().times(q(qty)).unwrap(), None)
                    .unwrap(),
                unit_factor: q("1"),
                received: Quantity::ZERO,
            })
            .collect();
        PurchaseOrder {
            id: crate::new_id(),
            organization_id: crate::new_id(),
            number: crate::document::document_number("PO", 1),
            vendor_id: crate::new_id(),
            status: PoStatus::Draft,
            notes: None,
            subtotal: PurchaseOrder::totals_of(&lines).unwrap().subtotal,
            tax_total: Money::ZERO,
            total: PurchaseOrder::totals_of(&lines).unwrap().total,
            lines,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            confirmed_at: None,
        }
    }

    #[test]
    fn totals_are_exact_sums_of_line_totals() {
        let po = order(&["3", "0.5"]);
        assert_eq!(po.total, Money::parse("8.75").unwrap());
    }

    #[test]
    fn the_lifecycle_runs_draft_confirmed_partial_received_closed() {
        let po = order(&["10", "5"]);
        assert!(
            po.receive(&[], 0, Utc::now()).is_err(),
            "a draft receives nothing"
        );
        let po = po.confirm(Utc::now()).unwrap();
        let line_a = po.lines[0].id;
        let line_b = po.lines[1].id;
        let po = po.receive(&[(line_a, q("4"))], 0, Utc::now()).unwrap();
        assert_eq!(po.status, PoStatus::PartiallyReceived);
        assert!(
            po.cancel(Utc::now()).is_err(),
            "received goods cannot be cancelled"
        );
        let po = po
            .receive(&[(line_a, q("6")), (line_b, q("5"))], 0, Utc::now())
            .unwrap();
        assert_eq!(po.status, PoStatus::Received);
        assert_eq!(po.close(Utc::now()).unwrap().status, PoStatus::Closed);
    }

    #[test]
    fn over_receipt_beyond_the_tolerance_is_refused() {
        let po = order(&["10"]).confirm(Utc::now()).unwrap();
        let line = po.lines[0].id;
        assert_eq!(
            po.receive(&[(line, q("10.5"))], 0, Utc::now()).unwrap_err(),
            ReceiveError::OverReceipt(line)
        );
        assert_eq!(
            po.receive(&[(line, q("10.5"))], 5, Utc::now())
                .unwrap()
                .status,
            PoStatus::Received
        );
        assert!(po.receive(&[(line, q("10.6"))], 5, Utc::now()).is_err());
    }

    #[test]
    fn empty_orders_cannot_be_confirmed_and_only_drafts_can() {
        assert!(order(&[]).confirm(Utc::now()).is_err());
        let confirmed = order(&["1"]).confirm(Utc::now()).unwrap();
        assert!(confirmed.confirm(Utc::now()).is_err());
        assert_eq!(
            confirmed.cancel(Utc::now()).unwrap().status,
            PoStatus::Cancelled
        );
    }
}
