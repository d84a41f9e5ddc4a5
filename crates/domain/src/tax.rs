//! Taxes: a rate in percent, whether prices already include it, and whether it applies to
//! sales, purchases or both; and what a tax makes of an order line (net amount and tax,
//! rounded per line half away from zero to 4 decimals) and of an order's totals.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::master::{
    MasterFields, RecordMeta, master_record, parse_code, patch_optional, patch_required,
    take_required,
};
use crate::money::{DecimalText, Money, Percent};
use crate::record::{RecordStatus, present, search_filter, status_filter};
use crate::text::{parse_line, parse_optional_line};
use crate::validation::{FieldError, FieldErrors, invalid};

pub const NAME_MAX: usize = 120;

/// Which documents a tax may be put on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaxUse {
    Sales,
    Purchases,
    Both,
}

impl TaxUse {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sales => "sales",
            Self::Purchases => "purchases",
            Self::Both => "both",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw.trim() {
            "sales" => Ok(Self::Sales),
            "purchases" => Ok(Self::Purchases),
            "both" => Ok(Self::Both),
            _ => Err(invalid("invalid", "must be sales, purchases or both")),
        }
    }

    /// Whether a tax of this use may go on documents of `wanted` (`sales` or `purchases`).
    pub fn includes(self, wanted: TaxUse) -> bool {
        self == TaxUse::Both || self == wanted
    }
}

/// The fields of a tax, as returned and as kept in its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaxFields {
    /// Unique in the organization, ignoring case.
    pub code: String,
    pub name: String,
    /// 0 to 100 percent, exact to 4 decimals.
    pub rate: Percent,
    /// True when prices the tax is put on already include it (gross prices).
    pub inclusive: bool,
    pub applies_to: TaxUse,
    pub description: Option<String>,
}

/// A tax as stored and returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tax {
    pub id: Uuid,
    pub organization_id: Uuid,
    #[serde(flatten)]
    pub fields: TaxFields,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

master_record!(Tax, TaxFields, "tax");

/// The body of `POST /api/v1/taxes`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxDraft {
    #[schema(example = "VAT19")]
    pub code: Option<String>,
    #[schema(example = "VAT 19 %")]
    pub name: Option<String>,
    /// Percent, as a decimal string (`"19"`, `"7.5"`).
    pub rate: Option<DecimalText>,
    /// False when absent: prices exclude the tax.
    pub inclusive: Option<bool>,
    /// `sales`, `purchases` or `both` (default).
    pub applies_to: Option<String>,
    pub description: Option<String>,
}

/// The body of `PATCH /api/v1/taxes/{id}`: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxPatchDraft {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub rate: Option<Option<DecimalText>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    pub inclusive: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub applies_to: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

/// A tax rate: an exact percentage from 0 to 100.
pub fn parse_rate(raw: &DecimalText) -> Result<Percent, FieldError> {
    let rate = Percent::parse(&raw.0)?;
    if rate < Percent::ZERO || rate > Percent::from_scaled(100 * 10_000) {
        return Err(invalid("out_of_range", "must be from 0 to 100 percent"));
    }
    Ok(rate)
}

impl MasterFields for TaxFields {
    type Draft = TaxDraft;
    type Patch = TaxPatchDraft;

    fn parse(draft: TaxDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let code = take_required(&mut errors, "code", draft.code, |c| parse_code(&c));
        let name = take_required(&mut errors, "name", draft.name, |n| {
            parse_line(&n, NAME_MAX)
        });
        let rate = take_required(&mut errors, "rate", draft.rate, |r| parse_rate(&r));
        let applies_to = errors.take(
            "applies_to",
            draft
                .applies_to
                .as_deref()
                .map_or(Ok(TaxUse::Both), TaxUse::parse),
        );
        let description = errors
            .take(
                "description",
                parse_optional_line(draft.description.as_deref(), 500),
            )
            .flatten();
        errors.finish()?;
        Ok(Self {
            code: code.unwrap_or_default(),
            name: name.unwrap_or_default(),
            rate: rate.unwrap_or_default(),
            inclusive: draft.inclusive.unwrap_or(false),
            applies_to: applies_to.unwrap_or(TaxUse::Both),
            description,
        })
    }

    fn patched(self, patch: TaxPatchDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = self;
        patch_required(&mut errors, "code", patch.code, &mut next.code, |c| {
            parse_code(&c)
        });
        patch_required(&mut errors, "name", patch.name, &mut next.name, |n| {
            parse_line(&n, NAME_MAX)
        });
        patch_required(&mut errors, "rate", patch.rate, &mut next.rate, |r| {
            parse_rate(&r)
        });
        patch_required(
            &mut errors,
            "inclusive",
            patch.inclusive,
            &mut next.inclusive,
            Ok,
        );
        patch_required(
            &mut errors,
            "applies_to",
            patch.applies_to,
            &mut next.applies_to,
            |a| TaxUse::parse(&a),
        );
        patch_optional(
            &mut errors,
            "description",
            patch.description,
            &mut next.description,
            |d| parse_optional_line(Some(&d), 500),
        );
        errors.finish()?;
        Ok(next)
    }
}

/// Filters of the taxes list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxFilter {
    pub status: Option<RecordStatus>,
    /// `sales` lists sales taxes and `both`; `purchases` likewise.
    pub applies_to: Option<TaxUse>,
    /// Text the code or name contains, ignoring case.
    pub q: Option<String>,
}

impl TaxFilter {
    pub fn parse(
        status: Option<&str>,
        applies_to: Option<&str>,
        q: Option<&str>,
        errors: &mut FieldErrors,
    ) -> Self {
        Self {
            status: status_filter(status, errors),
            applies_to: applies_to.and_then(|a| errors.take("applies_to", TaxUse::parse(a))),
            q: search_filter(q, errors),
        }
    }
}

/// The tax of one order line, kept as it was when the line was priced: a later change of the
/// tax leaves the order as it was. A line without a tax has no `tax_id` and no tax amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineTax {
    pub tax_id: Option<Uuid>,
    /// The tax's rate in percent when the line was priced.
    pub tax_rate: Option<Percent>,
    /// Whether the line's price and `line_total` include the tax.
    pub tax_inclusive: bool,
    /// The line without tax.
    pub net_amount: Money,
    pub tax_amount: Money,
}

impl LineTax {
    /// The tax of a line worth `line_total` (quantity × unit price) under `tax`; None when an
    /// amount is out of range.
    pub fn of(line_total: Money, tax: Option<&Tax>) -> Option<Self> {
        let Some(tax) = tax else {
            return Some(Self::stored(line_total, None, None, false, Money::ZERO));
        };
        let amount = tax_of(line_total, tax.fields.rate, tax.fields.inclusive)?;
        Some(Self::stored(
            line_total,
            Some(tax.id),
            Some(tax.fields.rate),
            tax.fields.inclusive,
            amount,
        ))
    }

    /// From what the database keeps; the net amount follows from the others.
    pub fn stored(
        line_total: Money,
        tax_id: Option<Uuid>,
        tax_rate: Option<Percent>,
        tax_inclusive: bool,
        tax_amount: Money,
    ) -> Self {
        let net_amount = if tax_inclusive {
            line_total.checked_sub(tax_amount).unwrap_or(line_total)
        } else {
            line_total
        };
        Self {
            tax_id,
            tax_rate,
            tax_inclusive,
            net_amount,
            tax_amount,
        }
    }

    /// `unit_price` without the line's tax: the price itself unless the tax is inclusive.
    pub fn net_price(&self, unit_price: Money) -> Option<Money> {
        match self.tax_rate {
            Some(rate) if self.tax_inclusive => {
                unit_price.checked_sub(tax_of(unit_price, rate, true)?)
            }
            _ => Some(unit_price),
        }
    }
}

/// The tax in `amount` at `rate`: `amount × rate / 100` when the amount excludes the tax,
/// `amount × rate / (100 + rate)` when it includes it; rounded half away from zero to 4
/// decimals, like prices.
pub fn tax_of(amount: Money, rate: Percent, inclusive: bool) -> Option<Money> {
    let hundred = rust_decimal::Decimal::ONE_HUNDRED;
    let base = if inclusive {
        hundred.checked_add(rate.to_decimal())?
    } else {
        hundred
    };
    let tax = amount
        .to_decimal()
        .checked_mul(rate.to_decimal())?
        .checked_div(base)?
        .round_dp_with_strategy(
            Money::SCALE,
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        );
    Money::from_decimal(tax).ok()
}

/// An order's amounts: `subtotal` without tax, `tax_total`, and `total`, what is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrderTotals {
    pub subtotal: Money,
    pub tax_total: Money,
    pub total: Money,
}

impl OrderTotals {
    /// The sums over the lines' taxes; None when a sum is out of range.
    pub fn of<'a>(lines: impl IntoIterator<Item = &'a LineTax>) -> Option<Self> {
        let (mut subtotal, mut tax_total) = (Money::ZERO, Money::ZERO);
        for line in lines {
            subtotal = subtotal.checked_add(line.net_amount)?;
            tax_total = tax_total.checked_add(line.tax_amount)?;
        }
        Some(Self {
            subtotal,
            tax_total,
            total: subtotal.checked_add(tax_total)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(json: serde_json::Value) -> TaxDraft {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_tax_defaults_to_exclusive_for_both_uses_and_keeps_its_rate_exact() {
        let tax = TaxFields::parse(draft(
            serde_json::json!({"code": "VAT19", "name": "VAT", "rate": "19.25"}),
        ))
        .unwrap();
        assert_eq!(
            (tax.rate.to_string().as_str(), tax.inclusive, tax.applies_to),
            ("19.2500", false, TaxUse::Both)
        );
    }

    #[test]
    fn rates_run_from_0_to_100_percent_with_at_most_4_decimals() {
        for ok in ["0", "100", "100.0000", "7.6923"] {
            assert!(parse_rate(&DecimalText(ok.into())).is_ok(), "{ok}");
        }
        for (bad, code) in [
            ("-1", "out_of_range"),
            ("100.0001", "out_of_range"),
            ("1.23456", "too_precise"),
            ("ten", "invalid"),
        ] {
            assert_eq!(parse_rate(&DecimalText(bad.into())).unwrap_err().code, code);
        }
    }

    #[test]
    fn a_patch_refuses_clearing_the_rate_and_checks_the_use() {
        let tax = TaxFields::parse(draft(
            serde_json::json!({"code": "VAT19", "name": "VAT", "rate": 19}),
        ))
        .unwrap();
        let patch: TaxPatchDraft =
            serde_json::from_value(serde_json::json!({"rate": null, "applies_to": "rent"}))
                .unwrap();
        let fields: Vec<String> = tax
            .patched(patch)
            .unwrap_err()
            .into_vec()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["rate", "applies_to"]);
    }

    #[test]
    fn both_means_sales_and_purchases() {
        assert!(TaxUse::Both.includes(TaxUse::Sales));
        assert!(TaxUse::Purchases.includes(TaxUse::Purchases));
        assert!(!TaxUse::Sales.includes(TaxUse::Purchases));
    }

    fn tax(rate: &str, inclusive: bool) -> Tax {
        use crate::master::MasterRecord;
        let fields = TaxFields::parse(draft(serde_json::json!({
            "code": "T", "name": "T", "rate": rate, "inclusive": inclusive
        })))
        .unwrap();
        Tax::create(crate::new_id(), crate::new_id(), fields, chrono::Utc::now())
    }

    fn m(text: &str) -> Money {
        Money::parse(text).unwrap()
    }

    #[test]
    fn an_exclusive_tax_is_added_to_the_line_and_rounded_per_line() {
        // 3 × 33.3333 = 99.9999; 19 % of it is 18.999981, which rounds to 19.0000.
        let line = LineTax::of(m("99.9999"), Some(&tax("19", false))).unwrap();
        assert_eq!((line.net_amount, line.tax_amount), (m("99.9999"), m("19")));
        // 5 % of 0.0010 is 0.00005: half a ten-thousandth rounds away from zero.
        assert_eq!(
            tax_of(m("0.001"), Percent::parse("5").unwrap(), false),
            Some(m("0.0001"))
        );
        assert_eq!(
            tax_of(m("-0.001"), Percent::parse("5").unwrap(), false),
            Some(m("-0.0001"))
        );
    }

    #[test]
    fn an_inclusive_tax_is_taken_out_of_the_line() {
        // 119.00 including 19 %: 19.0000 tax on 100.0000 net.
        let line = LineTax::of(m("119"), Some(&tax("19", true))).unwrap();
        assert_eq!((line.net_amount, line.tax_amount), (m("100"), m("19")));
        // 10.00 including 7 %: 10 × 7 / 107 = 0.65420560…, so 0.6542 tax and 9.3458 net.
        let line = LineTax::of(m("10"), Some(&tax("7", true))).unwrap();
        assert_eq!(
            (line.net_amount, line.tax_amount),
            (m("9.3458"), m("0.6542"))
        );
        assert_eq!(line.net_price(m("10")), Some(m("9.3458")));
    }

    #[test]
    fn order_totals_sum_the_rounded_lines() {
        let lines = [
            LineTax::of(m("99.9999"), Some(&tax("19", false))).unwrap(),
            LineTax::of(m("10"), Some(&tax("7", true))).unwrap(),
            LineTax::of(m("10"), None).unwrap(),
        ];
        let totals = OrderTotals::of(&lines).unwrap();
        assert_eq!(
            (totals.subtotal, totals.tax_total, totals.total),
            (m("119.3457"), m("19.6542"), m("138.9999"))
        );
        let untaxed = &lines[2];
        assert_eq!((untaxed.tax_id, untaxed.tax_amount), (None, Money::ZERO));
        assert_eq!(untaxed.net_price(m("5")), Some(m("5")));
    }
}
