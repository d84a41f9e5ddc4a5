//! Unit tests of products: drafts and patches, and unit conversions to the stock unit.

use super::*;

fn draft(json: serde_json::Value) -> ProductDraft {
    serde_json::from_value(json).unwrap()
}

#[test]
fn a_valid_draft_defaults_to_a_tracked_each_with_zero_amounts() {
    let f = ProductFields::parse(draft(
        serde_json::json!({"sku": "BRK-1", "name": "Bracket"}),
    ))
    .unwrap();
    assert_eq!(
        (f.stock_unit.as_str(), f.tracked, f.standard_cost),
        ("ea", true, Money::ZERO)
    );
}

#[test]
fn every_bad_field_is_named() {
    let bad = draft(serde_json::json!({
        "sku": "has space", "name": "", "stock_unit": "furlong", "standard_cost": "-1",
        "list_price": "1.23456", "purchase_unit": {"unit": "box", "factor": "0"}
    }));
    let fields: Vec<String> = ProductFields::parse(bad)
        .unwrap_err()
        .into_vec()
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        [
            "sku",
            "name",
            "stock_unit",
            "purchase_unit.factor",
            "standard_cost",
            "list_price"
        ]
    );
}

#[test]
fn purchase_and_sales_units_convert_to_stock_units_exactly() {
    let f = ProductFields::parse(draft(serde_json::json!({
        "sku": "BOLT", "name": "Bolt", "purchase_unit": {"unit": "box", "factor": "12"},
        "sales_unit": {"unit": "pc", "factor": "1"}
    })))
    .unwrap();
    let p = Product::create(crate::new_id(), crate::new_id(), f, Utc::now());
    assert_eq!(
        p.to_stock_units(Quantity::parse("2.5").unwrap(), "box"),
        Some(Quantity::parse("30").unwrap())
    );
    assert_eq!(
        p.to_stock_units(Quantity::parse("3").unwrap(), "ea"),
        Some(Quantity::parse("3").unwrap())
    );
    assert_eq!(p.to_stock_units(Quantity::parse("3").unwrap(), "kg"), None);
}

#[test]
fn a_patch_can_clear_a_conversion_but_not_the_sku() {
    let f = ProductFields::parse(draft(
        serde_json::json!({"sku": "X", "name": "X", "purchase_unit": {"unit": "box", "factor": 6}}),
    ))
    .unwrap();
    let patch: ProductPatchDraft =
        serde_json::from_value(serde_json::json!({"purchase_unit": null, "list_price": 9.99}))
            .unwrap();
    let next = f.clone().patched(patch).unwrap();
    assert_eq!(
        (next.purchase_unit, next.list_price),
        (None, Money::parse("9.99").unwrap())
    );
    let clear_sku: ProductPatchDraft =
        serde_json::from_value(serde_json::json!({"sku": null})).unwrap();
    assert!(f.patched(clear_sku).is_err());
}
