//! What the lines of every kind of order share (purchase and sales orders): a limit on how
//! many there are, the unit price a caller typed, a line's total with its tax, and how a
//! receipt or shipment naming the wrong lines is refused. Each kind keeps only its own rules
//! (a purchase line's unit and standard cost, a sales line's list price).

use steelyard_domain::FieldErrors;
use steelyard_domain::document::MAX_LINES;
use steelyard_domain::money::{DecimalText, Money, Quantity};
use steelyard_domain::tax::{LineTax, Tax};
use uuid::Uuid;

use crate::Error;

/// A receipt or shipment refused for the lines it names, reported under `lines`.
pub(crate) fn lines_refused(code: &'static str, message: String) -> Error {
    Error::Validation(FieldErrors::single("lines", code, message))
}

/// A receipt or shipment naming a line that is not on the order.
pub(crate) fn not_on_order(line: Uuid) -> Error {
    lines_refused("unknown", format!("line {line} is not on this order"))
}

/// The lines to check: the first [`MAX_LINES`]. More than that is refused under `lines`.
pub(crate) fn within_limit<'a, T>(lines: &'a [T], errors: &mut FieldErrors) -> &'a [T] {
    if lines.len() > MAX_LINES {
        errors.add("lines", "too_many", format!("at most {MAX_LINES} lines"));
    }
    &lines[..lines.len().min(MAX_LINES)]
}

/// The unit price line `index` was given: an amount, not below zero.
pub(crate) fn typed_unit_price(
    text: &DecimalText,
    index: usize,
    errors: &mut FieldErrors,
) -> Option<Money> {
    errors.take(
        &format!("lines[{index}].unit_price"),
        Money::parse(&text.0).and_then(Money::non_negative),
    )
}

/// Line `index`'s total (unit price × quantity) and its tax. When either is out of range, the
/// line's quantity is refused and there is none.
pub(crate) fn total_and_tax(
    unit_price: Money,
    quantity: Quantity,
    tax: Option<&Tax>,
    index: usize,
    errors: &mut FieldErrors,
) -> Option<(Money, LineTax)> {
    let priced = unit_price
        .times(quantity)
        .and_then(|total| Some((total, LineTax::of(total, tax)?)));
    if priced.is_none() {
        errors.add(
            &format!("lines[{index}].quantity"),
            "out_of_range",
            "the line total is too large",
        );
    }
    priced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_past_the_limit_are_refused_and_only_the_limit_is_checked() {
        let mut errors = FieldErrors::new();
        let lines = vec![(); MAX_LINES + 1];
        assert_eq!(within_limit(&lines, &mut errors).len(), MAX_LINES);
        let refused = errors.into_vec();
        assert_eq!(
            (refused[0].field.as_str(), refused[0].code),
            ("lines", "too_many")
        );

        let mut errors = FieldErrors::new();
        assert_eq!(
            within_limit(&lines[..MAX_LINES], &mut errors).len(),
            MAX_LINES
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn a_line_total_out_of_range_is_refused_on_the_lines_quantity() {
        let mut errors = FieldErrors::new();
        let huge = Money::from_scaled(i64::MAX / 2);
        let quantity = Quantity::parse("1000").unwrap();
        assert!(total_and_tax(huge, quantity, None, 3, &mut errors).is_none());
        let refused = errors.into_vec();
        assert_eq!(
            (refused[0].field.as_str(), refused[0].code),
            ("lines[3].quantity", "out_of_range")
        );

        let mut errors = FieldErrors::new();
        let price = Money::parse("1.25").unwrap();
        let (total, _) = total_and_tax(price, quantity, None, 0, &mut errors).unwrap();
        assert_eq!(total, Money::parse("1250").unwrap());
        assert!(errors.is_empty());
    }

    #[test]
    fn a_line_not_on_the_order_is_refused_under_lines_as_unknown() {
        let line = Uuid::nil();
        let Error::Validation(errors) = not_on_order(line) else {
            panic!("a validation error");
        };
        let refused = errors.into_vec();
        assert_eq!(
            (refused[0].field.as_str(), refused[0].code),
            ("lines", "unknown")
        );
        assert!(refused[0].message.contains(&line.to_string()));
    }

    #[test]
    fn a_typed_price_below_zero_is_refused_on_the_lines_unit_price() {
        let mut errors = FieldErrors::new();
        let negative = DecimalText("-1".into());
        assert_eq!(typed_unit_price(&negative, 2, &mut errors), None);
        let refused = errors.into_vec();
        assert_eq!(
            (refused[0].field.as_str(), refused[0].code),
            ("lines[2].unit_price", "negative")
        );
    }
}
