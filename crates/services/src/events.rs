//! Reading the audit trail: the events of an organization, filtered, oldest first.

use steelyard_domain::access::Permission;
use steelyard_domain::event::EventRecord;
use steelyard_store::events::{self as store, EventFilter};
use uuid::Uuid;

use crate::{App, Ctx, Error, Result};

/// A page of events after `after_seq`, and whether more follow. Super-admins may name any
/// organization; everyone else reads the one they act in. EXTERNAL actors cannot read the
/// trail (it spans every partner).
pub async fn list(
    app: &App,
    ctx: &Ctx,
    organization: Option<Uuid>,
    filter: &EventFilter,
    after_seq: i64,
    limit: u32,
) -> Result<(Vec<EventRecord>, bool)> {
    ctx.require(Permission::EVENT_READ)?;
    if matches!(
        ctx.actor.scope,
        steelyard_domain::access::DataScope::Partner { .. }
    ) {
        return Err(Error::Forbidden(Permission::EVENT_READ));
    }
    let org_id = match organization {
        Some(org) if ctx.actor.scope.sees_org(org) => org,
        Some(_) => return Err(Error::NotFound("organization")),
        None => ctx.acting_org()?,
    };
    Ok(store::list(&app.db, org_id, filter, after_seq, limit).await?)
}
