//! The permission catalogue and the built-in roles.
//!
//! Every permission a service may check is named here, so a custom role can only grant names
//! that exist, and the OpenAPI document and the authorization tests read the same list.

use crate::access::Permission;
use crate::validation::{FieldError, invalid};

/// Every permission, grouped by module. Later modules add theirs here.
pub const CATALOGUE: &[Permission] = &[
    Permission::ORGANIZATION_READ,
    Permission::ORGANIZATION_CREATE,
    Permission::ORGANIZATION_UPDATE,
    Permission::ORGANIZATION_ARCHIVE,
    Permission::USER_READ,
    Permission::USER_MANAGE,
    Permission::ROLE_READ,
    Permission::ROLE_MANAGE,
    Permission::TOKEN_MANAGE,
    Permission::EVENT_READ,
    Permission::SYSTEM_HEALTH,
    Permission::PARTNER_READ,
    Permission::PARTNER_MANAGE,
    Permission::PRODUCT_READ,
    Permission::PRODUCT_MANAGE,
    Permission::INVENTORY_READ,
    Permission::INVENTORY_MOVE,
    Permission::PURCHASING_ORDER_READ,
    Permission::PURCHASING_ORDER_MANAGE,
    Permission::PURCHASING_ORDER_APPROVE,
    Permission::PURCHASING_ORDER_RECEIVE,
    Permission::SALES_ORDER_READ,
    Permission::SALES_ORDER_MANAGE,
    Permission::SALES_ORDER_SHIP,
    Permission::MANUFACTURING_READ,
    Permission::MANUFACTURING_PLAN,
    Permission::MANUFACTURING_OPERATE,
    Permission::MAINTENANCE_READ,
    Permission::MAINTENANCE_MANAGE,
    Permission::QUALITY_READ,
    Permission::QUALITY_MANAGE,
    Permission::ACCOUNTING_READ,
    Permission::ACCOUNTING_POST,
    Permission::HR_READ,
    Permission::HR_MANAGE,
];

/// Permissions only the platform (super-admins) holds; no organization role can grant them.
pub const PLATFORM_ONLY: &[Permission] = &[
    Permission::ORGANIZATION_CREATE,
    Permission::ORGANIZATION_ARCHIVE,
    Permission::SYSTEM_HEALTH,
];

/// Looks a permission up by name.
pub fn permission(name: &str) -> Option<Permission> {
    CATALOGUE.iter().copied().find(|p| p.name() == name)
}

/// The built-in roles every organization has.
pub const BUILT_IN: &[(&str, &[Permission])] = {
    use Permission as P;
    &[
        (
            "admin",
            &[
                P::ORGANIZATION_READ,
                P::ORGANIZATION_UPDATE,
                P::USER_READ,
                P::USER_MANAGE,
                P::ROLE_READ,
                P::ROLE_MANAGE,
                P::TOKEN_MANAGE,
                P::EVENT_READ,
                P::PARTNER_READ,
                P::PARTNER_MANAGE,
                P::PRODUCT_READ,
                P::PRODUCT_MANAGE,
                P::INVENTORY_READ,
                P::INVENTORY_MOVE,
                P::PURCHASING_ORDER_READ,
                P::PURCHASING_ORDER_MANAGE,
                P::PURCHASING_ORDER_APPROVE,
                P::PURCHASING_ORDER_RECEIVE,
                P::SALES_ORDER_READ,
                P::SALES_ORDER_MANAGE,
                P::SALES_ORDER_SHIP,
                P::MANUFACTURING_READ,
                P::MANUFACTURING_PLAN,
                P::MANUFACTURING_OPERATE,
                P::MAINTENANCE_READ,
                P::MAINTENANCE_MANAGE,
                P::QUALITY_READ,
                P::QUALITY_MANAGE,
                P::ACCOUNTING_READ,
                P::ACCOUNTING_POST,
                P::HR_READ,
                P::HR_MANAGE,
            ],
        ),
        (
            "manager",
            &[
                P::ORGANIZATION_READ,
                P::USER_READ,
                P::ROLE_READ,
                P::TOKEN_MANAGE,
                P::EVENT_READ,
                P::PARTNER_READ,
                P::PARTNER_MANAGE,
                P::PRODUCT_READ,
                P::PRODUCT_MANAGE,
                P::INVENTORY_READ,
                P::PURCHASING_ORDER_READ,
                P::PURCHASING_ORDER_MANAGE,
                P::PURCHASING_ORDER_APPROVE,
                P::SALES_ORDER_READ,
                P::SALES_ORDER_MANAGE,
                P::MANUFACTURING_READ,
                P::MANUFACTURING_PLAN,
                P::MAINTENANCE_READ,
                P::QUALITY_READ,
                P::QUALITY_MANAGE,
                P::ACCOUNTING_READ,
                P::HR_READ,
            ],
        ),
        (
            "purchaser",
            &[
                P::ORGANIZATION_READ,
                P::TOKEN_MANAGE,
                P::PARTNER_READ,
                P::PARTNER_MANAGE,
                P::PRODUCT_READ,
                P::INVENTORY_READ,
                P::PURCHASING_ORDER_READ,
                P::PURCHASING_ORDER_MANAGE,
            ],
        ),
        (
            "sales",
            &[
                P::ORGANIZATION_READ,
                P::TOKEN_MANAGE,
                P::PARTNER_READ,
                P::PARTNER_MANAGE,
                P::PRODUCT_READ,
                P::INVENTORY_READ,
                P::SALES_ORDER_READ,
                P::SALES_ORDER_MANAGE,
            ],
        ),
        (
            "warehouse",
            &[
                P::ORGANIZATION_READ,
                P::PRODUCT_READ,
                P::INVENTORY_READ,
                P::INVENTORY_MOVE,
                P::PURCHASING_ORDER_READ,
                P::PURCHASING_ORDER_RECEIVE,
                P::SALES_ORDER_READ,
                P::SALES_ORDER_SHIP,
            ],
        ),
        (
            "planner",
            &[
                P::ORGANIZATION_READ,
                P::PRODUCT_READ,
                P::INVENTORY_READ,
                P::PURCHASING_ORDER_READ,
                P::SALES_ORDER_READ,
                P::MANUFACTURING_READ,
                P::MANUFACTURING_PLAN,
                P::MAINTENANCE_READ,
                P::HR_READ,
            ],
        ),
        (
            "operator",
            &[
                P::ORGANIZATION_READ,
                P::PRODUCT_READ,
                P::MANUFACTURING_READ,
                P::MANUFACTURING_OPERATE,
                P::MAINTENANCE_READ,
                P::QUALITY_READ,
            ],
        ),
        (
            "accountant",
            &[
                P::ORGANIZATION_READ,
                P::TOKEN_MANAGE,
                P::PARTNER_READ,
                P::PRODUCT_READ,
                P::INVENTORY_READ,
                P::PURCHASING_ORDER_READ,
                P::SALES_ORDER_READ,
                P::ACCOUNTING_READ,
                P::ACCOUNTING_POST,
                P::EVENT_READ,
            ],
        ),
        // EXTERNAL users: a vendor or customer reading its own documents.
        (
            "partner_portal",
            &[
                P::ORGANIZATION_READ,
                P::PURCHASING_ORDER_READ,
                P::SALES_ORDER_READ,
            ],
        ),
    ]
};

/// The role that ties a user to one business partner (EXTERNAL scope).
pub const PARTNER_PORTAL: &str = "partner_portal";

pub fn built_in(name: &str) -> Option<&'static [Permission]> {
    BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, perms)| *perms)
}

/// A custom role's name: lower-case letters, digits and `_`, 2 to 40 characters, not a
/// built-in name.
pub fn parse_role_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim().to_owned();
    let valid = (2..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(invalid(
            "invalid",
            "use 2 to 40 lower-case letters, digits or _",
        ));
    }
    if built_in(&name).is_some() {
        return Err(invalid("taken", "is the name of a built-in role"));
    }
    Ok(name)
}

/// The permissions a custom role may grant: known names, none platform-only.
pub fn parse_grants(names: &[String]) -> Result<Vec<Permission>, FieldError> {
    let mut grants = Vec::new();
    for name in names {
        let permission = permission(name)
            .ok_or_else(|| invalid("unknown", format!("{name:?} is not a permission")))?;
        if PLATFORM_ONLY.contains(&permission) {
            return Err(invalid(
                "forbidden",
                format!("{name:?} is reserved to platform administrators"),
            ));
        }
        if !grants.contains(&permission) {
            grants.push(permission);
        }
    }
    grants.sort();
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_role_grants_only_catalogued_organization_permissions() {
        for (role, permissions) in BUILT_IN {
            for permission in *permissions {
                assert!(CATALOGUE.contains(permission), "{role}: {permission:?}");
                assert!(
                    !PLATFORM_ONLY.contains(permission),
                    "{role} grants platform-only {permission:?}"
                );
            }
        }
        let names: Vec<_> = BUILT_IN.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "admin",
                "manager",
                "purchaser",
                "sales",
                "warehouse",
                "planner",
                "operator",
                "accountant",
                "partner_portal"
            ]
        );
    }

    #[test]
    fn only_managers_and_admins_approve_purchase_orders() {
        let approvers: Vec<_> = BUILT_IN
            .iter()
            .filter(|(_, perms)| perms.contains(&Permission::PURCHASING_ORDER_APPROVE))
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(approvers, ["admin", "manager"]);
    }

    #[test]
    fn custom_roles_take_valid_names_and_known_non_platform_grants() {
        assert_eq!(parse_role_name(" qa_lead ").unwrap(), "qa_lead");
        assert_eq!(parse_role_name("admin").unwrap_err().code, "taken");
        assert_eq!(parse_role_name("QA Lead").unwrap_err().code, "invalid");
        let grants = parse_grants(&[
            "quality.manage".into(),
            "quality.read".into(),
            "quality.read".into(),
        ])
        .unwrap();
        assert_eq!(
            grants,
            [Permission::QUALITY_MANAGE, Permission::QUALITY_READ]
        );
        assert_eq!(parse_grants(&["nope".into()]).unwrap_err().code, "unknown");
        assert_eq!(
            parse_grants(&["organization.create".into()])
                .unwrap_err()
                .code,
            "forbidden"
        );
    }
}
