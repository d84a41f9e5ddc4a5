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

            /// The amount, unless it is below zero (`negative`).
            pub fn non_negative(self) -> Result<Self, FieldError> {
                if self.is_negative() {
                    Err(invalid("negative", "must not be negative"))
                } else {
                    Ok(self)
                }
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
scaled_amount!(Percent, 4, "percentage (`19.5` is 19.5 %)");

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

    #[test]
    fn amounts_below_zero_are_refused_as_negative_and_zero_is_kept() {
        let below = Money::parse("-0.0001").unwrap().non_negative().unwrap_err();
        assert_eq!(below.code, "negative");
        assert_eq!(Money::ZERO.non_negative(), Ok(Money::ZERO));
        let quantity = Quantity::parse("-3").unwrap().non_negative().unwrap_err();
        assert_eq!(quantity.code, "negative");
        assert_eq!(Quantity::ZERO.non_negative(), Ok(Quantity::ZERO));
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

impl Quantity {
    /// This quantity when it is greater than zero; `not_positive` otherwise.
    pub fn positive(self) -> Result<Self, FieldError> {
        if self > Self::ZERO {
            Ok(self)
        } else {
            Err(invalid("not_positive", "must be greater than zero"))
        }
    }

    /// A quantity that must be given and be greater than zero (a line's quantity):
    /// `required`, the parse's own error, or `not_positive`.
    pub fn required_positive(text: Option<&DecimalText>) -> Result<Self, FieldError> {
        text.ok_or_else(|| invalid("required", "is required"))
            .and_then(|t| Self::parse(&t.0))
            .and_then(Self::positive)
    }
}

/// A decimal as a client sent it: a JSON string (`"12.50"`, preferred: exact) or a JSON
/// number. Kept as text until a field's parse turns it into [`Money`] or [`Quantity`], so a
/// bad value is a field error, not a body error.
#[derive(Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
#[schema(value_type = String, example = "12.50")]
pub struct DecimalText(pub String);

/// Written back as the text it was read from (import previews echo their document).
impl serde::Serialize for DecimalText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for DecimalText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DecimalText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal as a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DecimalText, E> {
                Ok(DecimalText(v.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DecimalText, E> {
                Ok(DecimalText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DecimalText, E> {
                Ok(DecimalText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<DecimalText, E> {
                // Rust prints the shortest text that reads back as the same f64: 0.1 stays "0.1".
                Ok(DecimalText(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

macro_rules! decimal_json {
    ($name:ident) => {
        /// In JSON, a decimal string with the type's fixed number of decimals (`"12.5000"`).
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = DecimalText::deserialize(deserializer)?;
                $name::parse(&text.0).map_err(|e| serde::de::Error::custom(e.message))
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::schema::SchemaFormat::Custom(
                        "decimal".into(),
                    )))
                    .description(Some(format!(
                        "A decimal with {} places, as a string",
                        $name::SCALE
                    )))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

decimal_json!(Money);
decimal_json!(Quantity);
decimal_json!(Percent);

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn amounts_travel_as_decimal_strings_and_arrive_as_strings_or_numbers() {
        assert_eq!(
            serde_json::to_string(&Money::parse("12.5").unwrap()).unwrap(),
            "\"12.5000\""
        );
        let from_text: Money = serde_json::from_str("\"0.1\"").unwrap();
        let from_number: Money = serde_json::from_str("0.1").unwrap();
        assert_eq!(from_text, from_number);
        assert_eq!(from_number.scaled(), 1_000);
        assert!(serde_json::from_str::<Quantity>("\"1.0000001\"").is_err());
    }
}
