//! Organizations: the tenants that own all business data, and the rules for changing them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::record::{RecordStatus, present, required, search_filter, status_filter};
use crate::text::{parse_line, parse_optional_line};
use crate::validation::{FieldError, FieldErrors, invalid};

pub const NAME_MAX: usize = 200;
pub const TAX_ID_MAX: usize = 50;

/// An organization as stored and returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub legal_name: Option<String>,
    pub tax_id: Option<String>,
    /// ISO 4217 code of the currency the books are kept in.
    #[schema(example = "USD")]
    pub base_currency: String,
    pub status: OrgStatus,
    /// Grows by one with every change; sent back as the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// The lifecycle status of an organization (see [`RecordStatus`]).
pub type OrgStatus = RecordStatus;

/// The body of `POST /api/v1/organizations`, as sent.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationDraft {
    #[schema(example = "Northwind Machining")]
    pub name: Option<String>,
    pub legal_name: Option<String>,
    pub tax_id: Option<String>,
    /// Defaults to USD.
    pub base_currency: Option<String>,
}

/// The body of `PATCH /api/v1/organizations/{id}`: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPatchDraft {
    /// Cannot be cleared: `null` is refused.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub legal_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
    /// Cannot be cleared: `null` is refused.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub base_currency: Option<Option<String>>,
}

/// A valid new organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrganization {
    pub name: String,
    pub legal_name: Option<String>,
    pub tax_id: Option<String>,
    pub base_currency: String,
}

/// A valid change to an organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    pub legal_name: Option<Option<String>>,
    pub tax_id: Option<Option<String>>,
    pub base_currency: Option<String>,
}

impl NewOrganization {
    pub fn parse(draft: OrganizationDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.take(
            "name",
            parse_line(draft.name.as_deref().unwrap_or(""), NAME_MAX),
        );
        let legal_name = errors.take(
            "legal_name",
            parse_optional_line(draft.legal_name.as_deref(), NAME_MAX),
        );
        let tax_id = errors.take(
            "tax_id",
            parse_optional_line(draft.tax_id.as_deref(), TAX_ID_MAX),
        );
        let base_currency = errors.take(
            "base_currency",
            parse_currency(draft.base_currency.as_deref().unwrap_or("USD")),
        );
        errors.finish()?;
        Ok(Self {
            name: name.unwrap_or_default(),
            legal_name: legal_name.flatten(),
            tax_id: tax_id.flatten(),
            base_currency: base_currency.unwrap_or_default(),
        })
    }
}

impl OrganizationPatch {
    pub fn parse(draft: OrganizationPatchDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = draft
            .name
            .and_then(|n| errors.take("name", required(n).and_then(|n| parse_line(&n, NAME_MAX))));
        let legal_name = draft
            .legal_name
            .and_then(|v| errors.take("legal_name", parse_optional_line(v.as_deref(), NAME_MAX)));
        let tax_id = draft
            .tax_id
            .and_then(|v| errors.take("tax_id", parse_optional_line(v.as_deref(), TAX_ID_MAX)));
        let base_currency = draft.base_currency.and_then(|c| {
            errors.take(
                "base_currency",
                required(c).and_then(|c| parse_currency(&c)),
            )
        });
        errors.finish()?;
        Ok(Self {
            name,
            legal_name,
            tax_id,
            base_currency,
        })
    }
}

/// A business rule that forbids a change in the record's current state (answered 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateConflict(pub String);

impl Organization {
    pub fn create(id: Uuid, new: NewOrganization, now: DateTime<Utc>) -> Self {
        Self {
            id,
            name: new.name,
            legal_name: new.legal_name,
            tax_id: new.tax_id,
            base_currency: new.base_currency,
            status: OrgStatus::Active,
            version: 1,
            created_at: now,
            updated_at: now,
            archived_at: None,
        }
    }

    /// The organization after `patch`; archived organizations are read-only.
    pub fn apply(
        &self,
        patch: OrganizationPatch,
        now: DateTime<Utc>,
    ) -> Result<Self, StateConflict> {
        if self.status == OrgStatus::Archived {
            return Err(StateConflict(
                "an archived organization cannot be changed; restore it first".into(),
            ));
        }
        let mut next = self.clone();
        if let Some(name) = patch.name {
            next.name = name;
        }
        if let Some(legal_name) = patch.legal_name {
            next.legal_name = legal_name;
        }
        if let Some(tax_id) = patch.tax_id {
            next.tax_id = tax_id;
        }
        if let Some(currency) = patch.base_currency {
            next.base_currency = currency;
        }
        Ok(next.touched(now))
    }

    pub fn archive(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.status == OrgStatus::Archived {
            return Err(StateConflict("the organization is already archived".into()));
        }
        let mut next = self.clone();
        next.status = OrgStatus::Archived;
        next.archived_at = Some(now);
        Ok(next.touched(now))
    }

    pub fn restore(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.status == OrgStatus::Active {
            return Err(StateConflict("the organization is not archived".into()));
        }
        let mut next = self.clone();
        next.status = OrgStatus::Active;
        next.archived_at = None;
        Ok(next.touched(now))
    }

    fn touched(mut self, now: DateTime<Utc>) -> Self {
        self.version += 1;
        self.updated_at = now;
        self
    }
}

/// Filters of the organizations list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationFilter {
    /// None lists every status.
    pub status: Option<OrgStatus>,
    /// Matches names containing this text, ignoring case and spacing.
    pub q: Option<String>,
}

impl OrganizationFilter {
    /// From the `status` (`active` by default, `archived`, or `all`) and `q` query parameters;
    /// errors are recorded under those names.
    pub fn parse(status: Option<&str>, q: Option<&str>, errors: &mut FieldErrors) -> Self {
        Self {
            status: status_filter(status, errors),
            q: search_filter(q, errors),
        }
    }
}

/// An ISO 4217 code: three ASCII letters, upper-cased.
pub fn parse_currency(raw: &str) -> Result<String, FieldError> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(invalid(
            "invalid",
            "must be a three-letter ISO 4217 currency code",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> Organization {
        let new = NewOrganization::parse(OrganizationDraft {
            name: Some(" Northwind ".into()),
            ..Default::default()
        })
        .unwrap();
        Organization::create(crate::new_id(), new, Utc::now())
    }

    #[test]
    fn a_draft_reports_every_bad_field_at_once() {
        let errors = NewOrganization::parse(OrganizationDraft {
            name: Some("".into()),
            tax_id: Some("x".repeat(51)),
            base_currency: Some("dollars".into()),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "tax_id", "base_currency"]);
    }

    #[test]
    fn a_new_organization_is_active_at_version_one_in_usd() {
        let org = org();
        assert_eq!(
            (org.name.as_str(), org.version, org.status),
            ("Northwind", 1, OrgStatus::Active)
        );
        assert_eq!(org.base_currency, "USD");
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_null_clears() {
        let mut org = org();
        org.tax_id = Some("DE123".into());
        let patch: OrganizationPatchDraft =
            serde_json::from_str(r#"{"legal_name":"Northwind GmbH","tax_id":null}"#).unwrap();
        let next = org
            .apply(OrganizationPatch::parse(patch).unwrap(), Utc::now())
            .unwrap();
        assert_eq!(next.name, "Northwind");
        assert_eq!(next.legal_name.as_deref(), Some("Northwind GmbH"));
        assert_eq!(next.tax_id, None);
        assert_eq!(next.version, org.version + 1);
    }

    #[test]
    fn a_patch_cannot_clear_required_fields() {
        let patch: OrganizationPatchDraft =
            serde_json::from_str(r#"{"name":null,"base_currency":null}"#).unwrap();
        let fields: Vec<_> = OrganizationPatch::parse(patch)
            .unwrap_err()
            .into_vec()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["name", "base_currency"]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<OrganizationDraft>(r#"{"nme":"x"}"#).is_err());
    }

    #[test]
    fn archived_organizations_are_read_only_until_restored() {
        let archived = org().archive(Utc::now()).unwrap();
        assert_eq!(archived.status, OrgStatus::Archived);
        assert!(archived.archive(Utc::now()).is_err());
        assert!(
            archived
                .apply(OrganizationPatch::default(), Utc::now())
                .is_err()
        );
        let restored = archived.restore(Utc::now()).unwrap();
        assert_eq!(
            (restored.status, restored.archived_at),
            (OrgStatus::Active, None)
        );
        assert_eq!(restored.version, 3);
    }
}
