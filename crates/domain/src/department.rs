//! Departments: the units of an organization its employees belong to (assembly, quality,
//! purchasing).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::master::{
    MasterFields, RecordMeta, master_record, parse_code, patch_optional, patch_required,
    take_required,
};
use crate::record::{RecordStatus, present, search_filter, status_filter};
use crate::text::{parse_line, parse_optional_line};
use crate::validation::FieldErrors;

pub const NAME_MAX: usize = 120;

/// The fields of a department, as returned and as kept in its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DepartmentFields {
    /// Unique in the organization, ignoring case.
    pub code: String,
    pub name: String,
    pub description: Option<String>,
}

/// A department as stored and returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Department {
    pub id: Uuid,
    pub organization_id: Uuid,
    #[serde(flatten)]
    pub fields: DepartmentFields,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

master_record!(Department, DepartmentFields, "department");

/// The body of `POST /api/v1/departments`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentDraft {
    #[schema(example = "ASSY")]
    pub code: Option<String>,
    #[schema(example = "Assembly")]
    pub name: Option<String>,
    pub description: Option<String>,
}

/// The body of `PATCH /api/v1/departments/{id}`: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPatchDraft {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

impl MasterFields for DepartmentFields {
    type Draft = DepartmentDraft;
    type Patch = DepartmentPatchDraft;

    fn parse(draft: DepartmentDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let code = take_required(&mut errors, "code", draft.code, |c| parse_code(&c));
        let name = take_required(&mut errors, "name", draft.name, |n| {
            parse_line(&n, NAME_MAX)
        });
        let description = errors
            .take(
                "description",
                parse_optional_line(draft.description.as_deref(), 500),
            )
            .flatten();
        errors.finish()?;
        Ok(Self {
            code: code.unwrap_or_default(),
            name: name.unwrap_or_default(),
            description,
        })
    }

    fn patched(self, patch: DepartmentPatchDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = self;
        patch_required(&mut errors, "code", patch.code, &mut next.code, |c| {
            parse_code(&c)
        });
        patch_required(&mut errors, "name", patch.name, &mut next.name, |n| {
            parse_line(&n, NAME_MAX)
        });
        patch_optional(
            &mut errors,
            "description",
            patch.description,
            &mut next.description,
            |d| parse_optional_line(Some(&d), 500),
        );
        errors.finish()?;
        Ok(next)
    }
}

/// Filters of the departments list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepartmentFilter {
    pub status: Option<RecordStatus>,
    /// Text the code or name contains, ignoring case.
    pub q: Option<String>,
}

impl DepartmentFilter {
    pub fn parse(status: Option<&str>, q: Option<&str>, errors: &mut FieldErrors) -> Self {
        Self {
            status: status_filter(status, errors),
            q: search_filter(q, errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_department_needs_a_code_and_a_name_and_a_patch_cannot_clear_them() {
        let errors = DepartmentFields::parse(DepartmentDraft::default()).unwrap_err();
        assert_eq!(errors.as_slice().len(), 2);
        let fields = DepartmentFields::parse(DepartmentDraft {
            code: Some("QA".into()),
            name: Some(" Quality ".into()),
            description: Some(" ".into()),
        })
        .unwrap();
        assert_eq!(
            (fields.name.as_str(), &fields.description),
            ("Quality", &None)
        );
        let patch: DepartmentPatchDraft =
            serde_json::from_value(serde_json::json!({"code": null})).unwrap();
        assert_eq!(
            fields.patched(patch).unwrap_err().as_slice()[0].code,
            "required"
        );
    }
}
