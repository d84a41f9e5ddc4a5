//! Products and parts: what an organization buys, makes, stocks and sells. Quantities are kept
//! in the stock unit; purchase and sales units convert to it by a fixed factor.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::money::{DecimalText, Money, Quantity};
use crate::organization::StateConflict;
use crate::record::{RecordStatus, present, required, search_filter, status_filter};
use crate::text::{parse_line, parse_optional_line};
use crate::validation::{FieldError, FieldErrors, invalid};

pub const SKU_MAX: usize = 64;
pub const NAME_MAX: usize = 200;

/// The units every organization starts with; codes are lower-case.
pub const BASE_UNITS: &[(&str, &str)] = &[
    ("ea", "each"),
    ("pc", "piece"),
    ("box", "box"),
    ("pallet", "pallet"),
    ("kg", "kilogram"),
    ("g", "gram"),
    ("t", "tonne"),
    ("lb", "pound"),
    ("m", "metre"),
    ("mm", "millimetre"),
    ("ft", "foot"),
    ("m2", "square metre"),
    ("l", "litre"),
    ("ml", "millilitre"),
    ("h", "hour"),
    ("bale", "bale"),
];

/// A unit of measure code from [`BASE_UNITS`].
pub fn parse_unit(raw: &str) -> Result<String, FieldError> {
    let code = raw.trim().to_ascii_lowercase();
    if BASE_UNITS.iter().any(|(c, _)| *c == code) {
        Ok(code)
    } else {
        let known: Vec<&str> = BASE_UNITS.iter().map(|(c, _)| *c).collect();
        Err(invalid(
            "unknown_unit",
            format!("must be one of {}", known.join(", ")),
        ))
    }
}

/// A SKU: 1 to 64 letters, digits, `-`, `_`, `.` or `/`; compared ignoring case.
pub fn parse_sku(raw: &str) -> Result<String, FieldError> {
    let sku = raw.trim();
    if sku.is_empty() {
        return Err(invalid("required", "must not be empty"));
    }
    if sku.len() > SKU_MAX
        || !sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
    {
        return Err(invalid(
            "invalid",
            format!("use up to {SKU_MAX} letters, digits, -, _, . or /"),
        ));
    }
    Ok(sku.to_owned())
}

/// Another unit the product is bought or sold in: `factor` stock units make one of it
/// (a box of 12: `{"unit": "box", "factor": "12"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnitConversion {
    pub unit: String,
    pub factor: Quantity,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitConversionDraft {
    pub unit: String,
    pub factor: DecimalText,
}

/// A product as stored and returned by the API. Amounts are per stock unit, in the
/// organization's base currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    /// Whether stock is kept (on-hand, moves, valuation); services and consumables are not.
    pub tracked: bool,
    pub stock_unit: String,
    pub purchase_unit: Option<UnitConversion>,
    pub sales_unit: Option<UnitConversion>,
    pub standard_cost: Money,
    pub list_price: Money,
    /// On-hand below this raises `inventory.low_stock`.
    pub low_stock_threshold: Option<Quantity>,
    pub status: RecordStatus,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// The body of `POST /api/v1/products`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductDraft {
    #[schema(example = "BRK-1020")]
    pub sku: Option<String>,
    pub name: Option<String>,
    pub category: Option<String>,
    /// true when absent.
    pub tracked: Option<bool>,
    /// `ea` when absent.
    pub stock_unit: Option<String>,
    pub purchase_unit: Option<UnitConversionDraft>,
    pub sales_unit: Option<UnitConversionDraft>,
    pub standard_cost: Option<DecimalText>,
    pub list_price: Option<DecimalText>,
    pub low_stock_threshold: Option<DecimalText>,
}

/// The body of `PATCH /api/v1/products/{id}`: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatchDraft {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub sku: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    pub tracked: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub stock_unit: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<UnitConversionDraft>)]
    pub purchase_unit: Option<Option<UnitConversionDraft>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<UnitConversionDraft>)]
    pub sales_unit: Option<Option<UnitConversionDraft>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub standard_cost: Option<Option<DecimalText>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub list_price: Option<Option<DecimalText>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub low_stock_threshold: Option<Option<DecimalText>>,
}

/// The valid fields of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFields {
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    pub tracked: bool,
    pub stock_unit: String,
    pub purchase_unit: Option<UnitConversion>,
    pub sales_unit: Option<UnitConversion>,
    pub standard_cost: Money,
    pub list_price: Money,
    pub low_stock_threshold: Option<Quantity>,
}

fn parse_conversion(
    draft: UnitConversionDraft,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<UnitConversion> {
    let unit = errors.take(&format!("{field}.unit"), parse_unit(&draft.unit));
    let factor = errors.take(
        &format!("{field}.factor"),
        Quantity::parse(&draft.factor.0).and_then(Quantity::positive),
    );
    Some(UnitConversion {
        unit: unit?,
        factor: factor?,
    })
}

fn money(raw: Option<&DecimalText>) -> Result<Money, FieldError> {
    raw.map_or(Ok(Money::ZERO), |t| {
        Money::parse(&t.0).and_then(Money::non_negative)
    })
}

impl ProductFields {
    pub fn parse(draft: ProductDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let sku = errors.take("sku", parse_sku(draft.sku.as_deref().unwrap_or("")));
        let name = errors.take(
            "name",
            parse_line(draft.name.as_deref().unwrap_or(""), NAME_MAX),
        );
        let category = errors.take(
            "category",
            parse_optional_line(draft.category.as_deref(), 100),
        );
        let stock_unit = errors.take(
            "stock_unit",
            parse_unit(draft.stock_unit.as_deref().unwrap_or("ea")),
        );
        let purchase_unit = draft
            .purchase_unit
            .and_then(|d| parse_conversion(d, "purchase_unit", &mut errors));
        let sales_unit = draft
            .sales_unit
            .and_then(|d| parse_conversion(d, "sales_unit", &mut errors));
        let standard_cost = errors.take("standard_cost", money(draft.standard_cost.as_ref()));
        let list_price = errors.take("list_price", money(draft.list_price.as_ref()));
        let threshold = draft.low_stock_threshold.and_then(|t| {
            errors.take(
                "low_stock_threshold",
                Quantity::parse(&t.0).and_then(Quantity::non_negative),
            )
        });
        errors.finish()?;
        Ok(Self {
            sku: sku.unwrap_or_default(),
            name: name.unwrap_or_default(),
            category: category.flatten(),
            tracked: draft.tracked.unwrap_or(true),
            stock_unit: stock_unit.unwrap_or_default(),
            purchase_unit,
            sales_unit,
            standard_cost: standard_cost.unwrap_or_default(),
            list_price: list_price.unwrap_or_default(),
            low_stock_threshold: threshold,
        })
    }

    /// `self` with a patch applied; changed fields are checked again.
    pub fn patched(self, patch: ProductPatchDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = self;
        if let Some(sku) = patch.sku
            && let Some(sku) = errors.take("sku", required(sku).and_then(|s| parse_sku(&s)))
        {
            next.sku = sku;
        }
        if let Some(name) = patch.name
            && let Some(name) = errors.take(
                "name",
                required(name).and_then(|n| parse_line(&n, NAME_MAX)),
            )
        {
            next.name = name;
        }
        if let Some(category) = patch.category {
            next.category = errors
                .take("category", parse_optional_line(category.as_deref(), 100))
                .flatten();
        }
        if let Some(tracked) = patch.tracked
            && let Some(tracked) = errors.take("tracked", required(tracked))
        {
            next.tracked = tracked;
        }
        if let Some(unit) = patch.stock_unit
            && let Some(unit) =
                errors.take("stock_unit", required(unit).and_then(|u| parse_unit(&u)))
        {
            next.stock_unit = unit;
        }
        if let Some(conversion) = patch.purchase_unit {
            next.purchase_unit =
                conversion.and_then(|d| parse_conversion(d, "purchase_unit", &mut errors));
        }
        if let Some(conversion) = patch.sales_unit {
            next.sales_unit =
                conversion.and_then(|d| parse_conversion(d, "sales_unit", &mut errors));
        }
        if let Some(cost) = patch.standard_cost
            && let Some(cost) = errors.take(
                "standard_cost",
                required(cost).and_then(|c| money(Some(&c))),
            )
        {
            next.standard_cost = cost;
        }
        if let Some(price) = patch.list_price
            && let Some(price) =
                errors.take("list_price", required(price).and_then(|p| money(Some(&p))))
        {
            next.list_price = price;
        }
        if let Some(threshold) = patch.low_stock_threshold {
            next.low_stock_threshold = threshold.and_then(|t| {
                errors.take(
                    "low_stock_threshold",
                    Quantity::parse(&t.0).and_then(Quantity::non_negative),
                )
            });
        }
        errors.finish()?;
        Ok(next)
    }
}

impl Product {
    pub fn create(id: Uuid, organization_id: Uuid, f: ProductFields, now: DateTime<Utc>) -> Self {
        Self {
            id,
            organization_id,
            sku: f.sku,
            name: f.name,
            category: f.category,
            tracked: f.tracked,
            stock_unit: f.stock_unit,
            purchase_unit: f.purchase_unit,
            sales_unit: f.sales_unit,
            standard_cost: f.standard_cost,
            list_price: f.list_price,
            low_stock_threshold: f.low_stock_threshold,
            status: RecordStatus::Active,
            version: 1,
            created_at: now,
            updated_at: now,
            archived_at: None,
        }
    }

    pub fn fields(&self) -> ProductFields {
        ProductFields {
            sku: self.sku.clone(),
            name: self.name.clone(),
            category: self.category.clone(),
            tracked: self.tracked,
            stock_unit: self.stock_unit.clone(),
            purchase_unit: self.purchase_unit.clone(),
            sales_unit: self.sales_unit.clone(),
            standard_cost: self.standard_cost,
            list_price: self.list_price,
            low_stock_threshold: self.low_stock_threshold,
        }
    }

    /// The product with new fields; archived products are read-only.
    pub fn with_fields(
        &self,
        fields: ProductFields,
        now: DateTime<Utc>,
    ) -> Result<Self, StateConflict> {
        if self.status == RecordStatus::Archived {
            return Err(StateConflict(
                "an archived product cannot be changed; restore it first".into(),
            ));
        }
        let mut next = Self::create(self.id, self.organization_id, fields, self.created_at);
        next.version = self.version + 1;
        next.updated_at = now;
        Ok(next)
    }

    pub fn archive(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.status == RecordStatus::Archived {
            return Err(StateConflict("the product is already archived".into()));
        }
        Ok(Self {
            status: RecordStatus::Archived,
            archived_at: Some(now),
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        })
    }

    pub fn restore(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.status == RecordStatus::Active {
            return Err(StateConflict("the product is not archived".into()));
        }
        Ok(Self {
            status: RecordStatus::Active,
            archived_at: None,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        })
    }

    /// A quantity in `unit` expressed in stock units (purchase or sales unit, or the stock unit).
    pub fn to_stock_units(&self, quantity: Quantity, unit: &str) -> Option<Quantity> {
        if unit == self.stock_unit {
            return Some(quantity);
        }
        let conversion = [&self.purchase_unit, &self.sales_unit]
            .into_iter()
            .flatten()
            .find(|c| c.unit == unit)?;
        let product = quantity
            .to_decimal()
            .checked_mul(conversion.factor.to_decimal())?;
        Quantity::from_decimal(product.round_dp(Quantity::SCALE)).ok()
    }
}

/// Filters of the products list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    pub status: Option<RecordStatus>,
    pub category: Option<String>,
    pub tracked: Option<bool>,
    /// Matches SKU or name, ignoring case.
    pub q: Option<String>,
}

impl ProductFilter {
    pub fn parse(
        status: Option<&str>,
        category: Option<&str>,
        tracked: Option<&str>,
        q: Option<&str>,
        errors: &mut FieldErrors,
    ) -> Self {
        let tracked = match tracked {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                errors.add("tracked", "invalid", "must be true or false");
                None
            }
        };
        Self {
            status: status_filter(status, errors),
            category: category
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            tracked,
            q: search_filter(q, errors),
        }
    }
}

#[cfg(test)]
mod tests;
