//! Demo data for `steelyard serve --demo`: a job shop a new user can explore at once.
//! Seeding is idempotent: a second start finds the demo organization and adds nothing.

use steelyard_domain::organization::{Organization, OrganizationDraft};
use steelyard_domain::page::PageRequest;
use steelyard_store::organizations::OrganizationFilter;

use crate::{App, Ctx, Result, organizations};

pub const DEMO_ORG_NAME: &str = "Demo Job Shop";

/// The demo organization, created if it does not exist yet. Returns it and whether it was new.
pub async fn seed(app: &App) -> Result<(Organization, bool)> {
    let ctx = Ctx::system();
    let filter = OrganizationFilter {
        status: None,
        q: Some(DEMO_ORG_NAME.into()),
    };
    let existing = organizations::list(app, &ctx, &filter, PageRequest::first(10)).await?;
    if let Some(org) = existing.items.into_iter().find(|o| o.name == DEMO_ORG_NAME) {
        return Ok((org, false));
    }
    let draft = OrganizationDraft {
        name: Some(DEMO_ORG_NAME.into()),
        legal_name: Some("Demo Job Shop LLC".into()),
        tax_id: Some("US-00-0000000".into()),
        base_currency: Some("USD".into()),
    };
    Ok((organizations::create(app, &ctx, draft).await?, true))
}
