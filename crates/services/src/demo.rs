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
