//! The baseline chart of accounts: real account rows (with their `account.created` events)
//! made in the transaction that creates an organization, and at server start for
//! organizations made before charts were seeded.

use steelyard_domain::account::{Account, AccountFields};
use steelyard_domain::event::NewEvent;
use steelyard_domain::master::MasterRecord;
use steelyard_store::{Tx, master, master_data};
use uuid::Uuid;

use super::MasterData;
use crate::{App, Ctx, Result};

/// Adds the baseline chart to `org_id`, in the transaction `tx` (the organization's creation).
pub(crate) async fn seed_chart(tx: &mut Tx, org_id: Uuid) -> Result<()> {
    let now = steelyard_store::now();
    for fields in AccountFields::baseline() {
        let account = Account::create(steelyard_domain::new_id(), org_id, fields, now);
        master::insert(tx, &account).await?;
        tx.record(NewEvent::of_change(
            org_id,
            Account::EVENTS.aggregate,
            account.id,
            Account::EVENTS.created,
            None,
            &account,
        ));
    }
    Ok(())
}

/// Seeds the baseline chart of every organization that has no account at all; returns how
/// many were seeded. Safe on many instances at once: a chart another instance just seeded
/// clashes on the unique code and is skipped.
pub async fn seed_missing_charts(app: &App) -> Result<usize> {
    let ctx = Ctx::system();
    let mut seeded = 0;
    for org_id in master_data::organizations_without_accounts(&app.db).await? {
        let mut tx = app.begin(&ctx).await?;
        match seed_chart(&mut tx, org_id).await {
            Ok(()) => {
                app.commit(tx).await?;
                seeded += 1;
                tracing::info!(%org_id, "seeded the baseline chart of accounts");
            }
            // A unique-code clash (`StoreError::Duplicate` becomes `Conflict`): already seeded.
            Err(crate::Error::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(seeded)
}
