//! Commodities: the traded goods of a trading business (raw cotton, yarn, steel coil), each
//! with its trading unit, its customs tariff code and the quality it is bought and sold at.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::master::{
    MasterFields, RecordMeta, master_record, parse_code, patch_optional, patch_required,
    take_required,
};
use crate::money::DecimalText;
use crate::product::parse_unit;
use crate::record::{RecordStatus, present, search_filter, status_filter};
use crate::text::{parse_line, parse_optional_line, search_key};
use crate::validation::{FieldError, FieldErrors, invalid};

pub const NAME_MAX: usize = 200;
pub const MAX_QUALITY_PARAMETERS: usize = 30;

/// One measurable quality parameter with its accepted range (`staple length`, 28 to 30 `mm`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QualityParameter {
    pub name: String,
    /// The lowest accepted value, an exact decimal as text.
    pub min: Option<String>,
    /// The highest accepted value, an exact decimal as text.
    pub max: Option<String>,
    /// The unit the bounds are in (`mm`, `%`, `g/tex`).
    pub unit: Option<String>,
}

/// A quality parameter as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityParameterDraft {
    #[schema(example = "staple length")]
    pub name: Option<String>,
    pub min: Option<DecimalText>,
    pub max: Option<DecimalText>,
    pub unit: Option<String>,
}

/// The fields of a commodity, as returned and as kept in its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommodityFields {
    /// Unique in the organization, ignoring case.
    pub code: String,
    pub name: String,
    pub category: Option<String>,
    /// The customs tariff code (HS or HSN), 4 to 10 digits.
    pub hs_code: Option<String>,
    /// The unit the commodity is traded in, from `GET /api/v1/units`.
    pub unit: String,
    /// The quality specification: each parameter with its accepted range.
    pub quality: Vec<QualityParameter>,
    /// Anything about quality the parameters do not say (variety, crop year, grade).
    pub quality_notes: Option<String>,
}

/// A commodity as stored and returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Commodity {
    pub id: Uuid,
    pub organization_id: Uuid,
    #[serde(flatten)]
    pub fields: CommodityFields,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

master_record!(Commodity, CommodityFields, "commodity");

/// The body of `POST /api/v1/commodities`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommodityDraft {
    #[schema(example = "COT-S6")]
    pub code: Option<String>,
    #[schema(example = "Raw cotton Shankar-6")]
    pub name: Option<String>,
    pub category: Option<String>,
    #[schema(example = "5201")]
    pub hs_code: Option<String>,
    #[schema(example = "bale")]
    pub unit: Option<String>,
    #[serde(default)]
    pub quality: Vec<QualityParameterDraft>,
    pub quality_notes: Option<String>,
}

/// The body of `PATCH /api/v1/commodities/{id}`: absent fields stay, `null` clears; `quality`
/// is replaced whole.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommodityPatchDraft {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub hs_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub unit: Option<Option<String>>,
    pub quality: Option<Vec<QualityParameterDraft>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub quality_notes: Option<Option<String>>,
}

impl MasterFields for CommodityFields {
    type Draft = CommodityDraft;
    type Patch = CommodityPatchDraft;

    fn parse(draft: CommodityDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let code = take_required(&mut errors, "code", draft.code, |c| parse_code(&c));
        let name = take_required(&mut errors, "name", draft.name, |n| {
            parse_line(&n, NAME_MAX)
        });
        let unit = take_required(&mut errors, "unit", draft.unit, |u| parse_unit(&u));
        let fields = Self {
            code: code.unwrap_or_default(),
            name: name.unwrap_or_default(),
            category: errors
                .take(
                    "category",
                    parse_optional_line(draft.category.as_deref(), 100),
                )
                .flatten(),
            hs_code: errors
                .take("hs_code", parse_hs_code(draft.hs_code.as_deref()))
                .flatten(),
            unit: unit.unwrap_or_default(),
            quality: check_quality(draft.quality, &mut errors),
            quality_notes: errors
                .take(
                    "quality_notes",
                    parse_optional_line(draft.quality_notes.as_deref(), 500),
                )
                .flatten(),
        };
        errors.finish()?;
        Ok(fields)
    }

    fn patched(self, patch: CommodityPatchDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = self;
        patch_required(&mut errors, "code", patch.code, &mut next.code, |c| {
            parse_code(&c)
        });
        patch_required(&mut errors, "name", patch.name, &mut next.name, |n| {
            parse_line(&n, NAME_MAX)
        });
        patch_optional(
            &mut errors,
            "category",
            patch.category,
            &mut next.category,
            |c| parse_optional_line(Some(&c), 100),
        );
        patch_optional(
            &mut errors,
            "hs_code",
            patch.hs_code,
            &mut next.hs_code,
            |h| parse_hs_code(Some(&h)),
        );
        patch_required(&mut errors, "unit", patch.unit, &mut next.unit, |u| {
            parse_unit(&u)
        });
        if let Some(quality) = patch.quality {
            next.quality = check_quality(quality, &mut errors);
        }
        patch_optional(
            &mut errors,
            "quality_notes",
            patch.quality_notes,
            &mut next.quality_notes,
            |n| parse_optional_line(Some(&n), 500),
        );
        errors.finish()?;
        Ok(next)
    }
}

/// A customs tariff code: 4 to 10 digits, dots and spaces between them ignored (`5201.00`).
fn parse_hs_code(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let digits: String = raw.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
    if (4..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Some(digits))
    } else {
        Err(invalid("invalid", "must be 4 to 10 digits, such as 5201"))
    }
}

/// A quality bound: an exact decimal, kept as its normalized text (`3.80` is `3.8`).
fn parse_bound(raw: &DecimalText) -> Result<Decimal, FieldError> {
    raw.0
        .trim()
        .parse::<Decimal>()
        .map(|d| d.normalize())
        .map_err(|_| invalid("invalid", "must be a decimal number"))
}

fn check_quality(
    drafts: Vec<QualityParameterDraft>,
    errors: &mut FieldErrors,
) -> Vec<QualityParameter> {
    if drafts.len() > MAX_QUALITY_PARAMETERS {
        errors.add(
            "quality",
            "too_many",
            format!("at most {MAX_QUALITY_PARAMETERS} parameters"),
        );
        return Vec::new();
    }
    let mut seen = Vec::new();
    let mut parameters = Vec::new();
    for (i, draft) in drafts.into_iter().enumerate() {
        let at = |field: &str| format!("quality[{i}].{field}");
        let name = take_required(errors, &at("name"), draft.name, |n| parse_line(&n, 80));
        if let Some(name) = &name {
            if seen.contains(&search_key(name)) {
                errors.add(&at("name"), "duplicate", "names each parameter once");
            }
            seen.push(search_key(name));
        }
        if draft.min.is_none() && draft.max.is_none() {
            errors.add(&at("min"), "required", "give min, max or both");
        }
        let min = draft
            .min
            .and_then(|m| errors.take(&at("min"), parse_bound(&m)));
        let max = draft
            .max
            .and_then(|m| errors.take(&at("max"), parse_bound(&m)));
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            errors.add(&at("max"), "out_of_range", "must not be below min");
        }
        let unit = errors
            .take(&at("unit"), parse_optional_line(draft.unit.as_deref(), 20))
            .flatten();
        if let Some(name) = name {
            parameters.push(QualityParameter {
                name,
                min: min.map(|d| d.to_string()),
                max: max.map(|d| d.to_string()),
                unit,
            });
        }
    }
    parameters
}

/// Filters of the commodities list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommodityFilter {
    pub status: Option<RecordStatus>,
    pub category: Option<String>,
    /// Text the code or name contains, ignoring case.
    pub q: Option<String>,
}

impl CommodityFilter {
    pub fn parse(
        status: Option<&str>,
        category: Option<&str>,
        q: Option<&str>,
        errors: &mut FieldErrors,
    ) -> Self {
        Self {
            status: status_filter(status, errors),
            category: category
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            q: search_filter(q, errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::MasterRecord;
    use chrono::Utc;

    fn draft(json: serde_json::Value) -> CommodityDraft {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_commodity_keeps_its_quality_bounds_exact_and_its_tariff_code_as_digits() {
        let fields = CommodityFields::parse(draft(serde_json::json!({
            "code": "COT-S6", "name": " Raw cotton ", "unit": "BALE", "hs_code": "5201.00",
            "quality": [
                {"name": "staple length", "min": "28.50", "max": 30, "unit": "mm"},
                {"name": "trash", "max": "3.0", "unit": "%"}
            ]
        })))
        .unwrap();
        assert_eq!(
            (
                fields.name.as_str(),
                fields.unit.as_str(),
                fields.hs_code.as_deref()
            ),
            ("Raw cotton", "bale", Some("520100"))
        );
        assert_eq!(fields.quality[0].min.as_deref(), Some("28.5"));
        assert_eq!(fields.quality[1].max.as_deref(), Some("3"));
    }

    #[test]
    fn every_bad_field_is_named_including_inside_the_quality_list() {
        let errors = CommodityFields::parse(draft(serde_json::json!({
            "code": "a b", "unit": "bushel", "hs_code": "52",
            "quality": [
                {"name": "micronaire", "min": "4.9", "max": "3.5"},
                {"name": "Micronaire", "min": "x"},
                {"name": "colour"}
            ]
        })))
        .unwrap_err();
        let fields: Vec<String> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "code",
                "name",
                "unit",
                "hs_code",
                "quality[0].max",
                "quality[1].name",
                "quality[1].min",
                "quality[2].min"
            ]
        );
    }

    #[test]
    fn a_patch_replaces_the_quality_list_and_archived_commodities_are_read_only() {
        let fields = CommodityFields::parse(draft(
            serde_json::json!({"code": "C1", "name": "Cotton", "unit": "kg"}),
        ))
        .unwrap();
        let patch: CommodityPatchDraft = serde_json::from_value(serde_json::json!({
            "quality": [{"name": "moisture", "max": "8"}], "unit": null
        }))
        .unwrap();
        assert_eq!(
            fields.clone().patched(patch).unwrap_err().into_vec()[0].field,
            "unit"
        );
        let commodity = Commodity::create(crate::new_id(), crate::new_id(), fields, Utc::now());
        let archived = commodity.archive(Utc::now()).unwrap();
        assert_eq!(archived.meta.version, 2);
        assert!(
            archived
                .with_fields(commodity.fields.clone(), Utc::now())
                .is_err()
        );
        assert_eq!(archived.restore(Utc::now()).unwrap().meta.version, 3);
    }

    #[test]
    fn the_json_of_a_commodity_is_flat() {
        let fields = CommodityFields::parse(draft(
            serde_json::json!({"code": "C1", "name": "Cotton", "unit": "kg"}),
        ))
        .unwrap();
        let commodity = Commodity::create(crate::new_id(), crate::new_id(), fields, Utc::now());
        let json = serde_json::to_value(&commodity).unwrap();
        assert_eq!(
            (&json["code"], &json["version"]),
            (&serde_json::json!("C1"), &serde_json::json!(1))
        );
        let back: Commodity = serde_json::from_value(json).unwrap();
        assert_eq!(back, commodity);
    }
}
