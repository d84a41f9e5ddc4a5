//! Exact amounts: money and quantities are scaled integers, never floating point.
//!
//! Both engines store them as `BIGINT` (see docs/adr/0001-database-layer.md), so `SUM` in SQL
//! stays exact on SQLite as on PostgreSQL. The API speaks decimal strings (`"12.5000"`).

use rust_decimal::Decimal;
use std::fmt;

use crate::validation::{FieldError, invalid};

macro_rules! scaled_amount {
    ($name:ident, $scale:expr, $what:literal) => {
        #[doc = concat!("An exact ", $what, " with ", stringify!($scale), " decimals, stored as a scaled integer.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(i64);

        impl $name {
            /// Decimals kept; the database column holds the value times 10^SCALE.
            pub const SCALE: u32 = $scale;
            pub const ZERO: Self = Self(0);

            /// From the scaled integer the database stores.
            pub const fn from_scaled(scaled: i64) -> Self {
                Self(scaled)
            }

            /// The scaled integer the database stores.
            pub const fn scaled(self) -> i64 {
                self.0
            }

            /// From a decimal; more decimals than SCALE, or a value out of range, is an error.
            pub fn from_decimal(value: Decimal) -> Result<Self, FieldError> {
                let normalized = value.normalize();
                if normalized.scale() > Self::SCALE {
                    return Err(invalid(
                        "too_precise",
                        format!("at most {} decimals", Self::SCALE),
                    ));
                }
                let mut scaled = normalized;
                scaled.rescale(Self::SCALE);
                let mantissa = scaled.mantissa();
                i64::try_from(mantissa)
                    .map(Self)
                    .map_err(|_| invalid("out_of_range", "value is too large"))
            }

            /// From the text a caller sent (`"12.5"`).
            pub fn parse(raw: &str) -> Result<Self, FieldError> {
                let value: Decimal = raw
                    .trim()
                    .parse()
                    .map_err(|_| invalid("invalid", "must be a decimal number"))?;
                Self::from_decimal(value)
            }

            pub fn to_decimal(self) -> Decimal {
                Decimal::new(self.0, Self::SCALE)
            }

            pub fn checked_add(self, other: Self) -> Option<Self> {
                self.0.checked_add(other.0).map(Self)
            }

            pub fn checked_sub(self, other: Self) -> Option<Self> {
                self.0.checked_sub(other.0).map(Self)
            }

            pub fn is_negative(self) -> bool {
                self.0 < 0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.to_decimal())
            }
        }
    };
}

scaled_amount!(Money, 4, "amount of money");
scaled_amount!(Quantity, 6, "quantity");

impl Money {
    /// Price × quantity, rounded half away from zero to the money scale.
    pub fn times(self, quantity: Quantity) -> Option<Money> {
        let product = self.to_decimal().checked_mul(quantity.to_decimal())?;
        let rounded = product.round_dp_with_strategy(
            Money::SCALE,
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        );
        Money::from_decimal(rounded).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_keeps_four_decimals_exactly() {
        let amount = Money::parse("12.3456").unwrap();
        assert_eq!(amount.scaled(), 123_456);
        assert_eq!(amount.to_string(), "12.3456");
        assert_eq!(
            Money::parse("0.1")
                .unwrap()
                .checked_add(Money::parse("0.2").unwrap()),
            Some(Money::parse("0.3").unwrap())
        );
    }

    #[test]
    fn too_many_decimals_or_garbage_are_refused() {
        assert_eq!(Money::parse("1.23456").unwrap_err().code, "too_precise");
        assert_eq!(Money::parse("abc").unwrap_err().code, "invalid");
        assert_eq!(Quantity::parse("1e40").unwrap_err().code, "invalid");
        assert_eq!(
            Quantity::parse("99999999999999999").unwrap_err().code,
            "out_of_range"
        );
    }

    #[test]
    fn trailing_zeros_beyond_the_scale_are_accepted() {
        assert_eq!(Money::parse("1.230000").unwrap().scaled(), 12_300);
    }

    #[test]
    fn price_times_quantity_rounds_half_away_from_zero() {
        let price = Money::parse("0.3333").unwrap();
        let quantity = Quantity::parse("1.5").unwrap();
        assert_eq!(price.times(quantity).unwrap().to_string(), "0.5000");
        let price = Money::parse("0.0001").unwrap();
        assert_eq!(
            price
                .times(Quantity::parse("0.5").unwrap())
                .unwrap()
                .scaled(),
            1
        );
    }

    proptest! {
        #[test]
        fn money_round_trips_through_its_scaled_integer(scaled in -1_000_000_000_000i64..1_000_000_000_000) {
            let money = Money::from_scaled(scaled);
            prop_assert_eq!(Money::parse(&money.to_string()).unwrap(), money);
        }

        #[test]
        fn sums_of_scaled_values_equal_sums_of_decimals(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
            let sum = Quantity::from_scaled(a).checked_add(Quantity::from_scaled(b)).unwrap();
            prop_assert_eq!(sum.to_decimal(), Quantity::from_scaled(a).to_decimal() + Quantity::from_scaled(b).to_decimal());
        }
    }
}
