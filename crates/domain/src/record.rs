//! What every business record shares: the active/archived lifecycle, list filters, and the
//! merge-patch helpers that tell an absent field from a `null` one.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::validation::{FieldError, FieldErrors, invalid};

/// Active records are in use; archived ones stay readable (and in history) but are hidden from
/// default lists and cannot change until restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Active,
    Archived,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw {
            "active" => Ok(Self::Active),
            "archived" => Ok(Self::Archived),
            _ => Err(invalid("invalid", "must be active or archived")),
        }
    }
}

/// The longest `q=` a list search takes.
pub const SEARCH_MAX: usize = 200;

/// The `status` list filter: `active` by default, `archived`, or `all` (None).
pub fn status_filter(raw: Option<&str>, errors: &mut FieldErrors) -> Option<RecordStatus> {
    match raw {
        None | Some("active") => Some(RecordStatus::Active),
        Some("all") => None,
        Some(other) => errors.take(
            "status",
            RecordStatus::parse(other)
                .map_err(|_| invalid("invalid", "must be active, archived or all")),
        ),
    }
}

/// The `q` list filter: trimmed, blank is none, at most [`SEARCH_MAX`] characters.
pub fn search_filter(raw: Option<&str>, errors: &mut FieldErrors) -> Option<String> {
    let q = raw
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_owned);
    if q.as_ref().is_some_and(|q| q.chars().count() > SEARCH_MAX) {
        errors.add(
            "q",
            "too_long",
            format!("must be at most {SEARCH_MAX} characters"),
        );
    }
    q
}

/// A present value of a patch field that cannot be cleared (`null` is refused).
pub fn required<T>(value: Option<T>) -> Result<T, FieldError> {
    value.ok_or_else(|| invalid("required", "cannot be cleared"))
}

/// Deserializes a field that is present (possibly `null`) as `Some(..)`; absent stays `None`.
/// Use with `#[serde(default, deserialize_with = "present")]` on `Option<Option<T>>`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_filter_defaults_to_active_and_all_means_every_status() {
        let mut errors = FieldErrors::new();
        assert_eq!(status_filter(None, &mut errors), Some(RecordStatus::Active));
        assert_eq!(status_filter(Some("all"), &mut errors), None);
        assert_eq!(
            status_filter(Some("archived"), &mut errors),
            Some(RecordStatus::Archived)
        );
        assert!(errors.is_empty());
        status_filter(Some("gone"), &mut errors);
        assert_eq!(errors.as_slice()[0].field, "status");
    }

    #[test]
    fn searches_are_trimmed_and_bounded() {
        let mut errors = FieldErrors::new();
        assert_eq!(search_filter(Some("  "), &mut errors), None);
        assert_eq!(
            search_filter(Some(" acme "), &mut errors).as_deref(),
            Some("acme")
        );
        search_filter(Some(&"x".repeat(SEARCH_MAX + 1)), &mut errors);
        assert_eq!(errors.as_slice()[0].code, "too_long");
    }
}
