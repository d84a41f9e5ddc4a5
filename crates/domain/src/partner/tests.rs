//! Unit tests of partners: drafts and patches, e-mail addresses, kinds, and archiving.

use super::*;

fn draft() -> PartnerDraft {
    serde_json::from_value(serde_json::json!({
        "name": " Anderson Steel ", "kind": "vendor", "email": "sales@anderson.example",
        "contacts": [{"name": "Ann", "email": "ann@anderson.example"}],
        "addresses": [{"kind": "billing", "line1": "1 Mill Rd", "city": "Pittsburgh", "country": "us"}]
    }))
    .unwrap()
}

#[test]
fn a_valid_draft_is_trimmed_normalized_and_gets_default_terms() {
    let fields = PartnerFields::parse(draft()).unwrap();
    assert_eq!(
        (fields.name.as_str(), fields.kind, fields.payment_terms_days),
        ("Anderson Steel", PartnerKind::Vendor, 30)
    );
    assert_eq!(fields.addresses[0].country, "US");
}

#[test]
fn every_bad_field_is_named_including_inside_lists() {
    let bad: PartnerDraft = serde_json::from_value(serde_json::json!({
        "name": "", "kind": "supplier", "email": "nope", "payment_terms_days": 400,
        "contacts": [{"name": "Ok"}, {"name": " ", "email": "x"}],
        "addresses": [{"kind": "shipping", "line1": "x", "city": "y", "country": "Germany"}]
    }))
    .unwrap();
    let fields: Vec<String> = PartnerFields::parse(bad)
        .unwrap_err()
        .into_vec()
        .into_iter()
        .map(|e| e.field)
        .collect();
    for expected in [
        "name",
        "kind",
        "email",
        "payment_terms_days",
        "contacts[1].name",
        "addresses[0].country",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} missing from {fields:?}"
        );
    }
}

#[test]
fn a_patch_replaces_lists_clears_nullable_fields_and_refuses_clearing_the_name() {
    let fields = PartnerFields::parse(draft()).unwrap();
    let patch: PartnerPatchDraft =
        serde_json::from_value(serde_json::json!({"email": null, "contacts": []})).unwrap();
    let next = fields.clone().patched(patch).unwrap();
    assert_eq!(
        (next.email, next.contacts.len(), next.name),
        (None, 0, fields.name.clone())
    );
    let clear_name: PartnerPatchDraft =
        serde_json::from_value(serde_json::json!({"name": null})).unwrap();
    assert_eq!(
        fields.patched(clear_name).unwrap_err().into_vec()[0].code,
        "required"
    );
}

#[test]
fn emails_need_a_local_part_and_a_dotted_domain() {
    assert_eq!(parse_email(" ann@example.com ").unwrap(), "ann@example.com");
    for bad in [
        "",
        "ann",
        "ann@",
        "@example.com",
        "ann@example",
        "an n@example.com",
        "ann@.com",
    ] {
        assert!(parse_email(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn both_means_customer_and_vendor() {
    assert!(PartnerKind::Both.includes(PartnerKind::Vendor));
    assert!(PartnerKind::Vendor.includes(PartnerKind::Vendor));
    assert!(!PartnerKind::Customer.includes(PartnerKind::Vendor));
}

#[test]
fn archived_partners_are_read_only_until_restored() {
    let partner = Partner::create(
        crate::new_id(),
        crate::new_id(),
        PartnerFields::parse(draft()).unwrap(),
        Utc::now(),
    );
    let archived = partner.archive(Utc::now()).unwrap();
    assert!(archived.with_fields(partner.fields(), Utc::now()).is_err());
    assert!(archived.archive(Utc::now()).is_err());
    assert_eq!(archived.restore(Utc::now()).unwrap().version, 3);
}
