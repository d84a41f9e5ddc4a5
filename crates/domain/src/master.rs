//! What the master-data records share (commodities, taxes, accounts, departments, employees):
//! the lifecycle fields, archive and restore, codes unique per organization, and the helpers
//! that apply a merge patch field by field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::organization::StateConflict;
use crate::record::{RecordStatus, required};
use crate::validation::{FieldError, FieldErrors, invalid};

pub const CODE_MAX: usize = 32;

/// The lifecycle part of a master-data record, the same for every kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordMeta {
    pub status: RecordStatus,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

impl RecordMeta {
    /// A record created `now`: active, at version 1.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            status: RecordStatus::Active,
            version: 1,
            created_at: now,
            updated_at: now,
            archived_at: None,
        }
    }

    fn next(&self, now: DateTime<Utc>) -> Self {
        Self {
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }
}

/// The parsed, valid fields of a kind of record: parsed from a create draft, or from the
/// current fields with a merge patch applied.
pub trait MasterFields: Sized {
    /// The body of a create, as sent.
    type Draft;
    /// The body of a patch, as sent: absent fields stay, `null` clears.
    type Patch;

    fn parse(draft: Self::Draft) -> Result<Self, FieldErrors>;

    /// `self` with `patch` applied; every changed field is checked again.
    fn patched(self, patch: Self::Patch) -> Result<Self, FieldErrors>;
}

/// A master-data record: an id, its organization, its own fields and the shared lifecycle.
/// Archived records stay readable and in history but cannot change until restored.
pub trait MasterRecord: Clone + Sized {
    type Fields: MasterFields + Clone;
    /// How messages name the kind: `tax`, `account`.
    const NOUN: &'static str;

    fn assemble(id: Uuid, organization_id: Uuid, fields: Self::Fields, meta: RecordMeta) -> Self;
    fn id(&self) -> Uuid;
    fn organization_id(&self) -> Uuid;
    fn fields(&self) -> &Self::Fields;
    fn meta(&self) -> &RecordMeta;
    fn meta_mut(&mut self) -> &mut RecordMeta;

    fn create(id: Uuid, organization_id: Uuid, fields: Self::Fields, now: DateTime<Utc>) -> Self {
        Self::assemble(id, organization_id, fields, RecordMeta::new(now))
    }

    /// The record with new fields, at the next version.
    fn with_fields(&self, fields: Self::Fields, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.meta().status == RecordStatus::Archived {
            return Err(StateConflict(format!(
                "an archived {} cannot be changed; restore it first",
                Self::NOUN
            )));
        }
        Ok(Self::assemble(
            self.id(),
            self.organization_id(),
            fields,
            self.meta().next(now),
        ))
    }

    fn archive(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.meta().status == RecordStatus::Archived {
            return Err(StateConflict(format!(
                "the {} is already archived",
                Self::NOUN
            )));
        }
        let mut next = self.clone();
        *next.meta_mut() = RecordMeta {
            status: RecordStatus::Archived,
            archived_at: Some(now),
            ..self.meta().next(now)
        };
        Ok(next)
    }

    fn restore(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.meta().status == RecordStatus::Active {
            return Err(StateConflict(format!("the {} is not archived", Self::NOUN)));
        }
        let mut next = self.clone();
        *next.meta_mut() = RecordMeta {
            status: RecordStatus::Active,
            archived_at: None,
            ..self.meta().next(now)
        };
        Ok(next)
    }
}

/// Implements [`MasterRecord`] for a struct of `id`, `organization_id`, `fields` and `meta`.
macro_rules! master_record {
    ($record:ty, $fields:ty, $noun:literal) => {
        impl $crate::master::MasterRecord for $record {
            type Fields = $fields;
            const NOUN: &'static str = $noun;

            fn assemble(
                id: ::uuid::Uuid,
                organization_id: ::uuid::Uuid,
                fields: $fields,
                meta: $crate::master::RecordMeta,
            ) -> Self {
                Self {
                    id,
                    organization_id,
                    fields,
                    meta,
                }
            }

            fn id(&self) -> ::uuid::Uuid {
                self.id
            }

            fn organization_id(&self) -> ::uuid::Uuid {
                self.organization_id
            }

            fn fields(&self) -> &$fields {
                &self.fields
            }

            fn meta(&self) -> &$crate::master::RecordMeta {
                &self.meta
            }

            fn meta_mut(&mut self) -> &mut $crate::master::RecordMeta {
                &mut self.meta
            }
        }
    };
}
pub(crate) use master_record;

/// A code (`VAT19`, `1000`, `COT-S6`): 1 to 32 letters, digits, `-`, `_`, `.` or `/`; unique
/// per organization and kind, ignoring case.
pub fn parse_code(raw: &str) -> Result<String, FieldError> {
    let code = raw.trim();
    if code.is_empty() {
        return Err(invalid("required", "must not be empty"));
    }
    if code.len() > CODE_MAX
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
    {
        return Err(invalid(
            "invalid",
            format!("use up to {CODE_MAX} letters, digits, -, _, . or /"),
        ));
    }
    Ok(code.to_owned())
}

/// The key codes are compared by.
pub fn code_key(code: &str) -> String {
    code.to_ascii_lowercase()
}

/// A required draft field: parsed when present, `required` when absent.
pub fn take_required<R, T>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<R>,
    parse: impl FnOnce(R) -> Result<T, FieldError>,
) -> Option<T> {
    errors.take(
        field,
        value
            .ok_or_else(|| invalid("required", "is required"))
            .and_then(parse),
    )
}

/// One patch field that cannot be cleared: absent keeps `target`, a value is parsed into it,
/// `null` is refused.
pub fn patch_required<R, T>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<Option<R>>,
    target: &mut T,
    parse: impl FnOnce(R) -> Result<T, FieldError>,
) {
    if let Some(value) = value
        && let Some(parsed) = errors.take(field, required(value).and_then(parse))
    {
        *target = parsed;
    }
}

/// One nullable patch field: absent keeps `target`, `null` clears it, a value is parsed (and
/// may itself mean none, as a blank text does).
pub fn patch_optional<R, T>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<Option<R>>,
    target: &mut Option<T>,
    parse: impl FnOnce(R) -> Result<Option<T>, FieldError>,
) {
    match value {
        None => {}
        Some(None) => *target = None,
        Some(Some(raw)) => {
            if let Some(parsed) = errors.take(field, parse(raw)) {
                *target = parsed;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_take_a_small_alphabet_and_compare_ignoring_case() {
        assert_eq!(parse_code(" VAT-19 ").unwrap(), "VAT-19");
        assert_eq!(code_key("VAT-19"), code_key("vat-19"));
        assert_eq!(parse_code("").unwrap_err().code, "required");
        assert_eq!(parse_code("VAT 19").unwrap_err().code, "invalid");
        assert_eq!(parse_code(&"x".repeat(33)).unwrap_err().code, "invalid");
    }

    #[test]
    fn a_required_patch_field_refuses_null_and_an_optional_one_clears() {
        let mut errors = FieldErrors::new();
        let mut name = "old".to_owned();
        patch_required(&mut errors, "name", Some(None::<String>), &mut name, Ok);
        assert_eq!(
            (name.as_str(), errors.as_slice()[0].code),
            ("old", "required")
        );
        let mut note = Some("x".to_owned());
        patch_optional(&mut errors, "note", Some(None::<String>), &mut note, |n| {
            Ok(Some(n))
        });
        assert_eq!(note, None);
        patch_optional(
            &mut errors,
            "note",
            None::<Option<String>>,
            &mut note,
            |n| Ok(Some(n)),
        );
        assert_eq!((note, errors.as_slice().len()), (None, 1));
    }
}
