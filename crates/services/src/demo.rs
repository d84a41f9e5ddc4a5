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
    seed_master_data(app, &org_ctx).await?;
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

/// Stock, a warehouse, and open purchase and sales orders, loaded once with the demo
/// organization.
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
    seed_sales_orders(app, ctx, warehouse.id, &products).await
}

/// Open customer orders: one confirmed (its stock reserved), one still a draft.
async fn seed_sales_orders(
    app: &App,
    ctx: &Ctx,
    warehouse: uuid::Uuid,
    products: &[steelyard_domain::product::Product],
) -> Result<()> {
    let filter = steelyard_domain::partner::PartnerFilter {
        kind: Some(steelyard_domain::partner::PartnerKind::Customer),
        ..Default::default()
    };
    let customers = crate::partners::list(app, ctx, &filter, PageRequest::first(10))
        .await?
        .items;
    for (customer, product, quantity, confirm) in [(0, 2, "5", true), (1, 3, "3", false)] {
        let (Some(customer), Some(product)) = (customers.get(customer), products.get(product))
        else {
            continue;
        };
        let draft: steelyard_domain::sales::SalesOrderDraft =
            serde_json::from_value(serde_json::json!({
                "customer_id": customer.id, "location_id": warehouse, "notes": "Demo order",
                "lines": [{"product_id": product.id, "quantity": quantity}]
            }))
            .map_err(|e| crate::Error::Internal(e.to_string()))?;
        let order = crate::sales::create(app, ctx, draft).await?;
        if confirm {
            crate::sales::confirm(app, ctx, order.id, None).await?;
        }
    }
    Ok(())
}

/// A demo commodity, as a client would send it.
#[derive(Debug)]
pub struct DemoCommodity {
    pub code: &'static str,
    pub name: &'static str,
    pub category: &'static str,
    pub hs_code: &'static str,
    pub unit: &'static str,
    /// Quality parameters: (name, min, max, unit).
    pub quality: &'static [(
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        &'static str,
    )],
}

pub const DEMO_COMMODITIES: &[DemoCommodity] = &[
    DemoCommodity {
        code: "COT-S6",
        name: "Raw cotton Shankar-6",
        category: "cotton",
        hs_code: "5201",
        unit: "bale",
        quality: &[
            ("staple length", Some("28.5"), Some("30"), "mm"),
            ("micronaire", Some("3.5"), Some("4.9"), ""),
            ("trash", None, Some("3"), "%"),
            ("moisture", None, Some("8"), "%"),
        ],
    },
    DemoCommodity {
        code: "YRN-30CW",
        name: "Cotton yarn 30s combed",
        category: "yarn",
        hs_code: "5205",
        unit: "kg",
        quality: &[
            ("count", Some("29.5"), Some("30.5"), "Ne"),
            ("strength", Some("15"), None, "cN/tex"),
        ],
    },
    DemoCommodity {
        code: "HRC-2MM",
        name: "Hot-rolled steel coil 2 mm",
        category: "steel",
        hs_code: "7208",
        unit: "t",
        quality: &[
            ("thickness", Some("1.9"), Some("2.1"), "mm"),
            ("yield strength", Some("235"), None, "MPa"),
        ],
    },
    DemoCommodity {
        code: "AL-6061",
        name: "Aluminium billet 6061",
        category: "aluminium",
        hs_code: "7601",
        unit: "kg",
        quality: &[
            ("silicon", Some("0.4"), Some("0.8"), "%"),
            ("magnesium", Some("0.8"), Some("1.2"), "%"),
        ],
    },
];

/// The demo taxes: (code, name, rate in percent, inclusive, applies to).
pub const DEMO_TAXES: &[(&str, &str, &str, bool, &str)] = &[
    ("ST7", "State sales tax 7 %", "7", false, "sales"),
    ("GST18", "GST 18 % included", "18", true, "both"),
    ("EXEMPT", "Tax exempt", "0", false, "both"),
];

/// The demo departments: (code, name).
pub const DEMO_DEPARTMENTS: &[(&str, &str)] = &[
    ("ADMIN", "Administration"),
    ("PURCH", "Purchasing"),
    ("PROD", "Production"),
    ("QA", "Quality"),
    ("WH", "Warehouse"),
];

/// The demo employees: (code, name, department code, job title).
pub const DEMO_EMPLOYEES: &[(&str, &str, &str, &str)] = &[
    ("E-001", "Alex Morgan", "ADMIN", "Plant manager"),
    ("E-002", "Priya Shah", "PURCH", "Buyer"),
    ("E-003", "Tom Becker", "PROD", "Machinist"),
    ("E-004", "Lena Novak", "PROD", "CNC operator"),
    ("E-005", "Sam Okafor", "QA", "Quality inspector"),
    ("E-006", "Maria Lopez", "WH", "Warehouse lead"),
];

/// Commodities, taxes, departments and employees; what exists already is left alone.
async fn seed_master_data(app: &App, ctx: &Ctx) -> Result<()> {
    use crate::master_data::{self, MasterData};
    use steelyard_domain::department::{Department, DepartmentFilter};
    use steelyard_domain::{commodity::Commodity, employee::Employee, tax::Tax};

    /// Creates one record from JSON; one that exists (same code) is skipped.
    async fn ensure<T: MasterData>(app: &App, ctx: &Ctx, draft: serde_json::Value) -> Result<()>
    where
        master_data::Draft<T>: serde::de::DeserializeOwned,
    {
        let draft =
            serde_json::from_value(draft).map_err(|e| crate::Error::Internal(e.to_string()))?;
        match master_data::create::<T>(app, ctx, draft).await {
            Ok(_) | Err(crate::Error::Conflict(_)) => Ok(()),
            Err(other) => Err(other),
        }
    }

    for demo in DEMO_COMMODITIES {
        let quality: Vec<serde_json::Value> = demo
            .quality
            .iter()
            .map(|(name, min, max, unit)| {
                serde_json::json!({"name": name, "min": min, "max": max, "unit": unit})
            })
            .collect();
        let draft = serde_json::json!({
            "code": demo.code, "name": demo.name, "category": demo.category,
            "hs_code": demo.hs_code, "unit": demo.unit, "quality": quality
        });
        ensure::<Commodity>(app, ctx, draft).await?;
    }
    for (code, name, rate, inclusive, applies_to) in DEMO_TAXES {
        let draft = serde_json::json!({
            "code": code, "name": name, "rate": rate, "inclusive": inclusive, "applies_to": applies_to
        });
        ensure::<Tax>(app, ctx, draft).await?;
    }
    for (code, name) in DEMO_DEPARTMENTS {
        ensure::<Department>(app, ctx, serde_json::json!({"code": code, "name": name})).await?;
    }
    let departments = master_data::list::<Department>(
        app,
        ctx,
        &DepartmentFilter::default(),
        PageRequest::first(100),
    )
    .await?
    .items;
    for (code, name, department, job_title) in DEMO_EMPLOYEES {
        let Some(department) = departments.iter().find(|d| d.fields.code == *department) else {
            continue;
        };
        let draft = serde_json::json!({
            "code": code, "name": name, "department_id": department.id, "job_title": job_title
        });
        ensure::<Employee>(app, ctx, draft).await?;
    }
    Ok(())
}
