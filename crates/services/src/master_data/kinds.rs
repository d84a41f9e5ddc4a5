//! Each kind of master data: its events, the permissions that guard it, and the rules between
//! kinds (an employee works in an active department of its organization; a department with
//! active employees cannot be archived).

use std::future::Future;

use steelyard_domain::FieldErrors;
use steelyard_domain::access::{DataScope, Permission};
use steelyard_domain::account::Account;
use steelyard_domain::commodity::Commodity;
use steelyard_domain::department::Department;
use steelyard_domain::employee::Employee;
use steelyard_domain::record::RecordStatus;
use steelyard_domain::tax::Tax;
use steelyard_store::{StoreError, Tx, master, master_data};

use super::{EventKinds, MasterData};
use crate::{Error, Result};

/// The event kinds of an aggregate named by a literal: `kinds!("tax")`.
macro_rules! kinds {
    ($aggregate:literal) => {
        EventKinds {
            aggregate: $aggregate,
            created: concat!($aggregate, ".created"),
            updated: concat!($aggregate, ".updated"),
            archived: concat!($aggregate, ".archived"),
            restored: concat!($aggregate, ".restored"),
        }
    };
}

impl MasterData for Commodity {
    const EVENTS: EventKinds = kinds!("commodity");
    const READ: Permission = Permission::PRODUCT_READ;
    const MANAGE: Permission = Permission::PRODUCT_MANAGE;
}

impl MasterData for Tax {
    const EVENTS: EventKinds = kinds!("tax");
    const READ: Permission = Permission::ACCOUNTING_READ;
    const MANAGE: Permission = Permission::ACCOUNTING_POST;
}

impl MasterData for Account {
    const EVENTS: EventKinds = kinds!("account");
    const READ: Permission = Permission::ACCOUNTING_READ;
    const MANAGE: Permission = Permission::ACCOUNTING_POST;
}

impl MasterData for Department {
    const EVENTS: EventKinds = kinds!("department");
    const READ: Permission = Permission::HR_READ;
    const MANAGE: Permission = Permission::HR_MANAGE;

    fn check_references(
        tx: &mut Tx,
        before: Option<&Self>,
        after: &Self,
    ) -> impl Future<Output = Result<()>> + Send {
        let archiving = before.is_some_and(|b| b.meta.status == RecordStatus::Active)
            && after.meta.status == RecordStatus::Archived;
        let (org_id, id) = (after.organization_id, after.id);
        async move {
            if !archiving {
                return Ok(());
            }
            let employees = master_data::active_employees(tx, org_id, id).await?;
            if employees > 0 {
                return Err(Error::Conflict(format!(
                    "the department has {employees} active employee(s); move or archive them first"
                )));
            }
            Ok(())
        }
    }
}

impl MasterData for Employee {
    const EVENTS: EventKinds = kinds!("employee");
    const READ: Permission = Permission::HR_READ;
    const MANAGE: Permission = Permission::HR_MANAGE;

    fn check_references(
        tx: &mut Tx,
        before: Option<&Self>,
        after: &Self,
    ) -> impl Future<Output = Result<()>> + Send {
        let restoring = before.is_some_and(|b| b.meta.status == RecordStatus::Archived)
            && after.meta.status == RecordStatus::Active;
        let moved = before.is_none_or(|b| b.fields.department_id != after.fields.department_id);
        let (org_id, department_id) = (after.organization_id, after.fields.department_id);
        async move {
            if !(restoring || moved) {
                return Ok(());
            }
            let department: Option<Department> =
                match master::get_in(tx, &DataScope::Organization(org_id), department_id).await {
                    Ok(department) => Some(department),
                    Err(StoreError::NotFound) => None,
                    Err(other) => return Err(other.into()),
                };
            let active = department
                .as_ref()
                .is_some_and(|d| d.meta.status == RecordStatus::Active);
            match (active, restoring) {
                (true, _) => Ok(()),
                (false, true) => Err(Error::Conflict(
                    "the employee's department is archived; restore it or move the employee first"
                        .into(),
                )),
                (false, false) if department.is_some() => Err(Error::Validation(
                    FieldErrors::single("department_id", "archived", "is an archived department"),
                )),
                (false, false) => Err(Error::Validation(FieldErrors::single(
                    "department_id",
                    "unknown",
                    "is not a department of this organization",
                ))),
            }
        }
    }
}
