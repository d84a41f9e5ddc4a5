//! The tax an order line names: an active tax of the organization that may go on the order's
//! kind of document (sales or purchases).

use steelyard_domain::FieldErrors;
use steelyard_domain::access::DataScope;
use steelyard_domain::record::RecordStatus;
use steelyard_domain::tax::{Tax, TaxUse};
use steelyard_store::{StoreError, master};
use uuid::Uuid;

use crate::{App, Result};

/// The tax `tax_id` of line `index` names, if any. A tax that is unknown, archived or for the
/// other kind of document is recorded in `errors` under `lines[index].tax_id`, and the line
/// goes on without it (the errors refuse the order anyway).
pub(crate) async fn line_tax(
    app: &App,
    scope: &DataScope,
    tax_id: Option<Uuid>,
    wanted: TaxUse,
    index: usize,
    errors: &mut FieldErrors,
) -> Result<Option<Tax>> {
    let Some(id) = tax_id else {
        return Ok(None);
    };
    let field = &format!("lines[{index}].tax_id");
    match master::get::<Tax>(&app.db, scope, id).await {
        Ok(tax) if tax.meta.status == RecordStatus::Active => {
            if tax.fields.applies_to.includes(wanted) {
                return Ok(Some(tax));
            }
            errors.add(
                field,
                "not_applicable",
                format!("is a tax for {} only", tax.fields.applies_to.as_str()),
            );
        }
        Ok(_) | Err(StoreError::NotFound) => errors.add(
            field,
            "unknown",
            "is not an active tax of this organization",
        ),
        Err(other) => return Err(other.into()),
    }
    Ok(None)
}
