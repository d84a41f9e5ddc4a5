//! Demo data for `steelyard serve --demo`: a job shop a new user can explore at once.
//! Seeding is idempotent: a second start finds what exists and adds only what is missing.

use steelyard_domain::organization::{Organization, OrganizationDraft};
use steelyard_domain::page::PageRequest;
use steelyard_domain::text::search_key;
use steelyard_store::organizations::OrganizationFilter;

use crate::access::{self, UserDraft};
use crate::{App, Ctx, Result, organizations};

pub const DEMO_ORG_NAME: &str = "Demo Job Shop";

/// The demo users: (email, role).
pub const DEMO_USERS: &[(&str, &str)] = &[
    ("manager@demo.steelyard.local", "manager"),
    ("purchaser@demo.steelyard.local", "purchaser"),
    ("sales@demo.steelyard.local", "sales"),
    ("warehouse@demo.steelyard.local", "warehouse"),
    ("planner@demo.steelyard.local", "planner"),
    ("operator@demo.steelyard.local", "operator"),
    ("accountant@demo.steelyard.local", "accountant"),
];

/// The demo partners: (name, kind, payment terms in days).
pub const DEMO_PARTNERS: &[(&str, &str, u32)] = &[
    ("Anderson Steel Supply", "vendor", 30),
    ("Precision Fasteners Inc", "vendor", 45),
    ("Great Lakes Aluminum", "vendor", 30),
    ("Midwest Tooling Co", "both", 30),
    ("Northwind Machining", "customer", 30),
    ("Contoso Robotics", "customer", 60),
    ("Fabrikam Aerospace", "customer", 45),
];

/// What seeding did.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub organization: Organization,
    pub organization_created: bool,
    /// Each demo user: email, role, and the password when the user was created just now.
    pub users: Vec<(String, String, Option<String>)>,
}

pub async fn seed(app: &App) -> Result<Seeded> {
    let ctx = Ctx::system();
    let (organization, organization_created) = demo_organization(app, &ctx).await?;
    let mut users = Vec::new();
    for (email, role) in DEMO_USERS {
        let password = if steelyard_store::users::find_by_email(&app.db, email)
            .await?
            .is_some()
        {
            None
        } else {
            let draft = UserDraft {
                email: Some((*email).into()),
                display_name: Some(format!("Demo {role}")),
                role: Some((*role).into()),
                partner_id: None,
                organization_id: Some(organization.id),
            };
            access::create_user(app, &ctx, draft)
                .await?
                .one_time_password
        };
        users.push(((*email).to_owned(), (*role).to_owned(), password));
    }
    let org_ctx = Ctx::new(
        steelyard_domain::access::Actor::system_in(organization.id),
        None,
    );
    for (name, kind, terms) in DEMO_PARTNERS {
        let draft = steelyard_domain::partner::PartnerDraft {
            name: Some((*name).into()),
            kind: Some((*kind).into()),
            payment_terms_days: Some(*terms),
            ..Default::default()
        };
        match crate::partners::create(app, &org_ctx, draft).await {
            // A second start finds them already there.
            Ok(_) | Err(crate::Error::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    if organization_created {
        seed_operations(app, &org_ctx).await?;
    }
    Ok(Seeded {
        organization,
        organization_created,
        users,
    })
}

async fn demo_organization(app: &App, ctx: &Ctx) -> Result<(Organization, bool)> {
    let filter = OrganizationFilter {
        status: None,
        q: Some(DEMO_ORG_NAME.into()),
    };
    let existing = organizations::list(app, ctx, &filter, PageRequest::first(50)).await?;
    if let Some(org) = existing
        .items
        .into_iter()
        .find(|o| search_key(&o.name) == search_key(DEMO_ORG_NAME))
    {
        return Ok((org, false));
    }
    let draft = OrganizationDraft {
        name: Some(DEMO_ORG_NAME.into()),
        legal_name: Some("Demo Job Shop LLC".into()),
        tax_id: Some("US-00-0000000".into()),
        base_currency: Some("USD".into()),
    };
    Ok((organizations::create(app, ctx, draft).await?, true))
}

/// A demo product: amounts as decimal text, as a client would send them.
struct DemoProduct {
    sku: &'static str,
    name: &'static str,
    stock_unit: &'static str,
    cost: &'static str,
    price: &'static str,
    /// Purchase unit and how many stock units it holds.
    purchase: Option<(&'static str, &'static str)>,
    opening_stock: &'static str,
}

const DEMO_PRODUCTS: &[DemoProduct] = &[
    DemoProduct {
        sku: "BRK-1020",
        name: "Steel bracket 1020",
        stock_unit: "ea",
        cost: "4.20",
        price: "9.50",
        purchase: Some(("box", "10")),
        opening_stock: "140",
    },
    DemoProduct {
        sku: "BOLT-M8",
        name: "Hex bolt M8x30",
        stock_unit: "ea",
        cost: "0.08",
        price: "0.25",
        purchase: Some(("box", "100")),
        opening_stock: "2400",
    },
    DemoProduct {
        sku: "PLT-6061",
        name: "Aluminium plate 6061",
        stock_unit: "kg",
        cost: "5.80",
        price: "12.00",
        purchase: None,
        opening_stock: "310.5",
    },
    DemoProduct {
        sku: "SHAFT-25",
        name: "Turned shaft 25 mm",
        stock_unit: "ea",
        cost: "18.40",
        price: "42.00",
        purchase: None,
        opening_stock: "35",
    },
];

/// Stock, a warehouse and open purchase orders, loaded once with the demo organization.
async fn seed_operations(app: &App, ctx: &Ctx) -> Result<()> {
    use steelyard_domain::inventory::LocationDraft;
    use steelyard_domain::product::ProductDraft;
    let warehouse = crate::inventory::create_location(
        app,
        ctx,
        LocationDraft {
            code: Some("WH1".into()),
            name: Some("Main warehouse".into()),
            parent_id: None,
        },
    )
    .await?;
    let mut products = Vec::new();
    for demo in DEMO_PRODUCTS {
        let mut draft: ProductDraft = serde_json::from_value(serde_json::json!({
            "sku": demo.sku, "name": demo.name, "stock_unit": demo.stock_unit, "standard_cost": demo.cost,
            "list_price": demo.price,
            "low_stock_threshold": "20"
        }))
        .map_err(|e| crate::Error::Internal(e.to_string()))?;
        if let Some((unit, factor)) = demo.purchase {
            draft.purchase_unit =
                serde_json::from_value(serde_json::json!({"unit": unit, "factor": factor})).ok();
        }
        let product = crate::products::create(app, ctx, draft).await?;
        let adjustment: crate::inventory::AdjustmentDraft = serde_json::from_value(serde_json::json!({
            "product_id": product.id, "location_id": warehouse.id, "quantity": demo.opening_stock,
            "unit_cost": demo.cost,
            "reason": "opening stock"
        }))
        .map_err(|e| crate::Error::Internal(e.to_string()))?;
        crate::inventory::adjust(app, ctx, adjustment).await?;
        products.push(product);
    }
    let filter = steelyard_domain::partner::PartnerFilter {
        kind: Some(steelyard_domain::partner::PartnerKind::Vendor),
        ..Default::default()
    };
    let vendors = crate::partners::list(app, ctx, &filter, PageRequest::first(10))
        .await?
        .items;
    for (vendor, product, quantity) in [(0, 0, "20"), (1, 1, "50")] {
        let (Some(vendor), Some(product)) = (vendors.get(vendor), products.get(product)) else {
            continue;
        };
        let draft: steelyard_domain::purchase::PurchaseOrderDraft = serde_json::from_value(serde_json::json!({
            "vendor_id": vendor.id, "notes": "Demo replenishment", "lines": [{"product_id": product.id, "quantity": quantity}]
        }))
        .map_err(|e| crate::Error::Internal(e.to_string()))?;
        let po = crate::purchasing::create(app, ctx, draft).await?;
        crate::purchasing::confirm(app, ctx, po.id, None).await?;
    }
    Ok(())
}
