//! Employees: the people of an organization, each in one of its departments.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::master::{
    MasterFields, RecordMeta, master_record, parse_code, patch_optional, patch_required,
    take_required,
};
use crate::partner::parse_email;
use crate::record::{RecordStatus, present, search_filter, status_filter};
use crate::text::{parse_line, parse_optional_line};
use crate::validation::{FieldError, FieldErrors, invalid};

pub const NAME_MAX: usize = 200;

/// The fields of an employee, as returned and as kept in its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EmployeeFields {
    /// The employee number; unique in the organization, ignoring case.
    pub code: String,
    pub name: String,
    /// An active department of the same organization.
    pub department_id: Uuid,
    pub job_title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub hired_on: Option<NaiveDate>,
}

/// An employee as stored and returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Employee {
    pub id: Uuid,
    pub organization_id: Uuid,
    #[serde(flatten)]
    pub fields: EmployeeFields,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

master_record!(Employee, EmployeeFields, "employee");

/// The body of `POST /api/v1/employees`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeDraft {
    #[schema(example = "E-0042")]
    pub code: Option<String>,
    #[schema(example = "Maria Lopez")]
    pub name: Option<String>,
    pub department_id: Option<Uuid>,
    pub job_title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(example = "2024-03-01")]
    pub hired_on: Option<String>,
}

/// The body of `PATCH /api/v1/employees/{id}`: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeePatchDraft {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub department_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub job_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub hired_on: Option<Option<String>>,
}

/// A calendar date as `YYYY-MM-DD`; blank is none.
fn parse_date(raw: &str) -> Result<Option<NaiveDate>, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| invalid("invalid", "must be a date as YYYY-MM-DD"))
}

fn parse_optional_email(raw: &str) -> Result<Option<String>, FieldError> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        parse_email(raw).map(Some)
    }
}

impl MasterFields for EmployeeFields {
    type Draft = EmployeeDraft;
    type Patch = EmployeePatchDraft;

    fn parse(draft: EmployeeDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let code = take_required(&mut errors, "code", draft.code, |c| parse_code(&c));
        let name = take_required(&mut errors, "name", draft.name, |n| {
            parse_line(&n, NAME_MAX)
        });
        let department_id = take_required(&mut errors, "department_id", draft.department_id, Ok);
        let job_title = errors
            .take(
                "job_title",
                parse_optional_line(draft.job_title.as_deref(), 120),
            )
            .flatten();
        let email = draft
            .email
            .and_then(|e| errors.take("email", parse_optional_email(&e)))
            .flatten();
        let phone = errors
            .take("phone", parse_optional_line(draft.phone.as_deref(), 40))
            .flatten();
        let hired_on = draft
            .hired_on
            .and_then(|d| errors.take("hired_on", parse_date(&d)))
            .flatten();
        errors.finish()?;
        Ok(Self {
            code: code.unwrap_or_default(),
            name: name.unwrap_or_default(),
            department_id: department_id.unwrap_or_default(),
            job_title,
            email,
            phone,
            hired_on,
        })
    }

    fn patched(self, patch: EmployeePatchDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = self;
        patch_required(&mut errors, "code", patch.code, &mut next.code, |c| {
            parse_code(&c)
        });
        patch_required(&mut errors, "name", patch.name, &mut next.name, |n| {
            parse_line(&n, NAME_MAX)
        });
        patch_required(
            &mut errors,
            "department_id",
            patch.department_id,
            &mut next.department_id,
            Ok,
        );
        patch_optional(
            &mut errors,
            "job_title",
            patch.job_title,
            &mut next.job_title,
            |t| parse_optional_line(Some(&t), 120),
        );
        patch_optional(&mut errors, "email", patch.email, &mut next.email, |e| {
            parse_optional_email(&e)
        });
        patch_optional(&mut errors, "phone", patch.phone, &mut next.phone, |p| {
            parse_optional_line(Some(&p), 40)
        });
        patch_optional(
            &mut errors,
            "hired_on",
            patch.hired_on,
            &mut next.hired_on,
            |d| parse_date(&d),
        );
        errors.finish()?;
        Ok(next)
    }
}

/// Filters of the employees list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmployeeFilter {
    pub status: Option<RecordStatus>,
    pub department_id: Option<Uuid>,
    /// Text the code or name contains, ignoring case.
    pub q: Option<String>,
}

impl EmployeeFilter {
    pub fn parse(
        status: Option<&str>,
        department_id: Option<&str>,
        q: Option<&str>,
        errors: &mut FieldErrors,
    ) -> Self {
        Self {
            status: status_filter(status, errors),
            department_id: department_id.and_then(|d| {
                errors.take(
                    "department_id",
                    Uuid::parse_str(d.trim()).map_err(|_| invalid("invalid", "must be a UUID")),
                )
            }),
            q: search_filter(q, errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_employee_needs_a_department_and_takes_a_date_and_an_email() {
        let department = crate::new_id();
        let fields = EmployeeFields::parse(
            serde_json::from_value(serde_json::json!({
                "code": "E-1", "name": "Maria Lopez", "department_id": department,
                "email": " maria@example.com ", "hired_on": "2024-03-01"
            }))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(fields.hired_on, NaiveDate::from_ymd_opt(2024, 3, 1));
        assert_eq!(fields.email.as_deref(), Some("maria@example.com"));
        let errors = EmployeeFields::parse(
            serde_json::from_value(serde_json::json!({
                "code": "E-1", "name": "Maria", "email": "maria", "hired_on": "01/03/2024"
            }))
            .unwrap(),
        )
        .unwrap_err();
        let fields: Vec<String> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["department_id", "email", "hired_on"]);
    }
}
