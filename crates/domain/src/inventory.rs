//! Locations and the stock ledger rules: where goods can be, which moves are allowed, and how
//! moving-average cost changes as goods come in.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::money::{DecimalText, Money, Quantity};
use crate::record::RecordStatus;
use crate::validation::{FieldError, FieldErrors, invalid};

/// Internal locations hold stock; the virtual ones are where stock comes from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    /// A warehouse, or a place inside one.
    Internal,
    /// Where received goods come from.
    Supplier,
    /// Where shipped goods go to.
    Customer,
    /// Where scrapped goods go to.
    Scrap,
    /// The other side of inventory adjustments (counts, write-offs, found stock).
    Adjustment,
}

impl LocationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Supplier => "supplier",
            Self::Customer => "customer",
            Self::Scrap => "scrap",
            Self::Adjustment => "adjustment",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw {
            "internal" => Ok(Self::Internal),
            "supplier" => Ok(Self::Supplier),
            "customer" => Ok(Self::Customer),
            "scrap" => Ok(Self::Scrap),
            "adjustment" => Ok(Self::Adjustment),
            _ => Err(invalid(
                "invalid",
                "must be internal, supplier, customer, scrap or adjustment",
            )),
        }
    }

    pub fn holds_stock(self) -> bool {
        self == Self::Internal
    }
}

/// The virtual locations every organization gets: (code, name, kind).
pub const VIRTUAL_LOCATIONS: &[(&str, &str, LocationKind)] = &[
    ("VIRTUAL/SUPPLIERS", "Suppliers", LocationKind::Supplier),
    ("VIRTUAL/CUSTOMERS", "Customers", LocationKind::Customer),
    ("VIRTUAL/SCRAP", "Scrap", LocationKind::Scrap),
    (
        "VIRTUAL/ADJUSTMENT",
        "Inventory adjustment",
        LocationKind::Adjustment,
    ),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Location {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// Unique per organization, e.g. `WH1/A-01`.
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    /// The location this one is inside (a bin in a warehouse).
    pub parent_id: Option<Uuid>,
    pub status: RecordStatus,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The body of `POST /api/v1/locations`: new locations are internal.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationDraft {
    #[schema(example = "WH1/A-01")]
    pub code: Option<String>,
    pub name: Option<String>,
    pub parent_id: Option<Uuid>,
}

/// A location code: 1 to 64 letters, digits, `-`, `_`, `.` or `/`.
pub fn parse_location_code(raw: &str) -> Result<String, FieldError> {
    crate::product::parse_sku(raw)
}

/// What a stock move is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MoveKind {
    Adjustment,
    Transfer,
    Receipt,
    Shipment,
    Scrap,
}

impl MoveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Adjustment => "adjustment",
            Self::Transfer => "transfer",
            Self::Receipt => "receipt",
            Self::Shipment => "shipment",
            Self::Scrap => "scrap",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Adjustment,
            Self::Transfer,
            Self::Receipt,
            Self::Shipment,
            Self::Scrap,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }
}

/// One line of the append-only stock ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockMove {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub product_id: Uuid,
    pub from_location_id: Uuid,
    pub to_location_id: Uuid,
    /// Always positive, in the product's stock unit.
    pub quantity: Quantity,
    /// The cost per stock unit the move carried (valuation).
    pub unit_cost: Money,
    pub kind: MoveKind,
    /// A document number or a reason.
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Stock of one product in one internal location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockLevel {
    pub product_id: Uuid,
    pub location_id: Uuid,
    pub on_hand: Quantity,
    pub reserved: Quantity,
    /// On hand less reserved: what can still be taken or promised.
    pub available: Quantity,
}

/// A product's stock value across all internal locations, at moving average cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Valuation {
    pub quantity: Quantity,
    pub average_cost: Money,
    pub value: Money,
}

impl Valuation {
    pub const EMPTY: Self = Self {
        quantity: Quantity::ZERO,
        average_cost: Money::ZERO,
        value: Money::ZERO,
    };

    /// After `quantity` comes in at `unit_cost`: value grows by quantity × cost, and the
    /// average is value ÷ quantity rounded to the money scale (so value can differ from
    /// quantity × average by that rounding).
    pub fn receive(self, quantity: Quantity, unit_cost: Money) -> Option<Self> {
        let total_quantity = self.quantity.checked_add(quantity)?;
        if total_quantity <= Quantity::ZERO {
            return Some(Self::EMPTY);
        }
        let incoming = unit_cost.times(quantity)?;
        let value = self.value.checked_add(incoming)?;
        let average = value
            .to_decimal()
            .checked_div(total_quantity.to_decimal())?;
        let average = Money::from_decimal(round_money(average)).ok()?;
        Some(Self {
            quantity: total_quantity,
            average_cost: average,
            value,
        })
    }

    /// After `quantity` goes out at the current average cost.
    pub fn issue(self, quantity: Quantity) -> Option<Self> {
        let remaining = self.quantity.checked_sub(quantity)?;
        if remaining <= Quantity::ZERO {
            return Some(Self {
                quantity: remaining.max(Quantity::ZERO),
                average_cost: self.average_cost,
                value: Money::ZERO,
            });
        }
        let value = self.average_cost.times(remaining)?;
        Some(Self {
            quantity: remaining,
            average_cost: self.average_cost,
            value,
        })
    }
}

fn round_money(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(
        Money::SCALE,
        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
    )
}

/// The lines of a receipt or a shipment, as `(order line, quantity)`: at least one, each naming
/// its order line and a quantity greater than zero. Problems go into `errors` under `lines` and
/// `lines[i].line_id` / `lines[i].quantity`; the lines without one are left out.
pub fn line_quantities<'a>(
    lines: impl ExactSizeIterator<Item = (Option<Uuid>, Option<&'a DecimalText>)>,
    errors: &mut FieldErrors,
) -> Vec<(Uuid, Quantity)> {
    if lines.len() == 0 {
        errors.add("lines", "required", "name at least one line");
    }
    let mut taken = Vec::new();
    for (i, (line_id, quantity)) in lines.enumerate() {
        let line_id = errors.take(
            &format!("lines[{i}].line_id"),
            line_id.ok_or_else(|| invalid("required", "is required")),
        );
        let quantity = errors.take(
            &format!("lines[{i}].quantity"),
            Quantity::required_positive(quantity),
        );
        if let (Some(line_id), Some(quantity)) = (line_id, quantity) {
            taken.push((line_id, quantity));
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    fn m(text: &str) -> Money {
        Money::parse(text).unwrap()
    }

    #[test]
    fn moving_average_cost_follows_hand_computed_figures() {
        // 10 @ 5.00, then 30 @ 7.00: average (50 + 210) / 40 = 6.50.
        let v = Valuation::EMPTY
            .receive(q("10"), m("5"))
            .unwrap()
            .receive(q("30"), m("7"))
            .unwrap();
        assert_eq!(
            (v.quantity, v.average_cost, v.value),
            (q("40"), m("6.5"), m("260"))
        );
        // 15 out at 6.50: 25 left worth 162.50, average unchanged.
        let v = v.issue(q("15")).unwrap();
        assert_eq!(
            (v.quantity, v.average_cost, v.value),
            (q("25"), m("6.5"), m("162.5"))
        );
        // 5 in @ 8.00: (162.50 + 40) / 30 = 6.75.
        let v = v.receive(q("5"), m("8")).unwrap();
        assert_eq!((v.average_cost, v.value), (m("6.75"), m("202.5")));
        // Everything out: nothing left, no value.
        assert_eq!(v.issue(q("30")).unwrap().value, Money::ZERO);
    }

    #[test]
    fn thirds_round_half_away_from_zero_to_the_money_scale() {
        let v = Valuation::EMPTY
            .receive(q("3"), m("1"))
            .unwrap()
            .receive(q("0"), m("0"))
            .unwrap();
        assert_eq!(v.average_cost, m("1"));
        let v = Valuation::EMPTY
            .receive(q("1"), m("1"))
            .unwrap()
            .receive(q("2"), m("0"))
            .unwrap();
        assert_eq!(v.average_cost, m("0.3333"));
    }

    #[test]
    fn only_internal_locations_hold_stock() {
        assert!(LocationKind::Internal.holds_stock());
        assert!(
            VIRTUAL_LOCATIONS
                .iter()
                .all(|(_, _, kind)| !kind.holds_stock())
        );
    }

    #[test]
    fn receipt_and_shipment_lines_need_a_line_and_a_positive_quantity_each() {
        let mut errors = FieldErrors::new();
        assert!(line_quantities(std::iter::empty(), &mut errors).is_empty());
        assert_eq!(errors.as_slice()[0].field, "lines");

        let line = Uuid::now_v7();
        let (two, zero) = (DecimalText("2".into()), DecimalText("0".into()));
        let mut errors = FieldErrors::new();
        let taken = line_quantities(
            [
                (Some(line), Some(&two)),
                (None, Some(&zero)),
                (Some(line), None),
            ]
            .into_iter(),
            &mut errors,
        );
        assert_eq!(taken, [(line, Quantity::parse("2").unwrap())]);
        let problems: Vec<_> = errors
            .as_slice()
            .iter()
            .map(|e| (e.field.as_str(), e.code))
            .collect();
        assert_eq!(
            problems,
            [
                ("lines[1].line_id", "required"),
                ("lines[1].quantity", "not_positive"),
                ("lines[2].quantity", "required"),
            ]
        );
    }
}
