//! Who is acting and what they may see: the actor, its data scope and its permissions.
//!
//! The store filters every query by [`DataScope`]; services check a named [`Permission`]
//! before acting. Both are values here, so the rules are testable without a server.

use std::collections::BTreeSet;
use uuid::Uuid;

/// Which rows an actor can see at all (the SUPER_ADMIN / INTERNAL / EXTERNAL data isolation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataScope {
    /// SUPER_ADMIN: every organization.
    All,
    /// INTERNAL: the organization the actor acts in.
    Organization(Uuid),
    /// EXTERNAL: one business partner's documents inside one organization.
    Partner { org_id: Uuid, partner_id: Uuid },
}

impl DataScope {
    /// The organization the scope is confined to, if any.
    pub fn org_id(&self) -> Option<Uuid> {
        match self {
            Self::All => None,
            Self::Organization(org_id) | Self::Partner { org_id, .. } => Some(*org_id),
        }
    }

    /// Whether a row of `org_id` is visible at all.
    pub fn sees_org(&self, org_id: Uuid) -> bool {
        self.org_id().is_none_or(|own| own == org_id)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::All => "SUPER_ADMIN",
            Self::Organization(_) => "INTERNAL",
            Self::Partner { .. } => "EXTERNAL",
        }
    }
}

/// A named, fine-grained permission (`organization.update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(pub &'static str);

impl Permission {
    pub const ORGANIZATION_READ: Self = Self("organization.read");
    pub const ORGANIZATION_CREATE: Self = Self("organization.create");
    pub const ORGANIZATION_UPDATE: Self = Self("organization.update");
    pub const ORGANIZATION_ARCHIVE: Self = Self("organization.archive");
    pub const SYSTEM_HEALTH: Self = Self("system.health");
    pub const EVENT_READ: Self = Self("event.read");
    pub const USER_READ: Self = Self("user.read");
    pub const USER_MANAGE: Self = Self("user.manage");
    pub const ROLE_READ: Self = Self("role.read");
    pub const ROLE_MANAGE: Self = Self("role.manage");
    pub const TOKEN_MANAGE: Self = Self("token.manage");
    pub const PARTNER_READ: Self = Self("partner.read");
    pub const PARTNER_MANAGE: Self = Self("partner.manage");
    pub const PRODUCT_READ: Self = Self("product.read");
    pub const PRODUCT_MANAGE: Self = Self("product.manage");
    pub const INVENTORY_READ: Self = Self("inventory.read");
    pub const INVENTORY_MOVE: Self = Self("inventory.move");
    pub const PURCHASING_ORDER_READ: Self = Self("purchasing.order.read");
    pub const PURCHASING_ORDER_MANAGE: Self = Self("purchasing.order.manage");
    pub const PURCHASING_ORDER_APPROVE: Self = Self("purchasing.order.approve");
    pub const PURCHASING_ORDER_RECEIVE: Self = Self("purchasing.order.receive");
    pub const SALES_ORDER_READ: Self = Self("sales.order.read");
    pub const SALES_ORDER_MANAGE: Self = Self("sales.order.manage");
    pub const SALES_ORDER_SHIP: Self = Self("sales.order.ship");
    pub const MANUFACTURING_READ: Self = Self("manufacturing.read");
    pub const MANUFACTURING_PLAN: Self = Self("manufacturing.plan");
    pub const MANUFACTURING_OPERATE: Self = Self("manufacturing.operate");
    pub const MAINTENANCE_READ: Self = Self("maintenance.read");
    pub const MAINTENANCE_MANAGE: Self = Self("maintenance.manage");
    pub const QUALITY_READ: Self = Self("quality.read");
    pub const QUALITY_MANAGE: Self = Self("quality.manage");
    pub const ACCOUNTING_READ: Self = Self("accounting.read");
    pub const ACCOUNTING_POST: Self = Self("accounting.post");
    pub const HR_READ: Self = Self("hr.read");
    pub const HR_MANAGE: Self = Self("hr.manage");

    pub fn name(self) -> &'static str {
        self.0
    }
}

/// The caller of a service: a user, an integration token, or the server itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Recorded on every event: `user:<id>`, `token:<id>` or `system`.
    pub subject: String,
    pub user_id: Option<Uuid>,
    pub scope: DataScope,
    /// The organization the actor works in (new records go there); None for a super-admin
    /// who has not picked one.
    pub acting_org: Option<Uuid>,
    permissions: BTreeSet<&'static str>,
    /// Super-admins hold every permission.
    all_permissions: bool,
}

impl Actor {
    /// The server acting on its own (start-up, migrations, seeding, the CLI).
    pub fn system() -> Self {
        Self {
            subject: "system".into(),
            user_id: None,
            scope: DataScope::All,
            acting_org: None,
            permissions: BTreeSet::new(),
            all_permissions: true,
        }
    }

    /// The server acting on its own inside one organization (seeding, importers).
    pub fn system_in(org_id: Uuid) -> Self {
        Self {
            acting_org: Some(org_id),
            ..Self::system()
        }
    }

    /// A user acting in the organization of `scope` with these permissions; `DataScope::All`
    /// makes a super-admin, who holds every permission.
    pub fn user(
        user_id: Uuid,
        scope: DataScope,
        permissions: impl IntoIterator<Item = &'static str>,
    ) -> Self {
        let all_permissions = scope == DataScope::All;
        Self {
            subject: format!("user:{user_id}"),
            user_id: Some(user_id),
            acting_org: scope.org_id(),
            scope,
            permissions: permissions.into_iter().collect(),
            all_permissions,
        }
    }

    /// A super-admin, optionally working in one organization.
    pub fn super_admin(user_id: Uuid, acting_org: Option<Uuid>) -> Self {
        Self {
            acting_org,
            ..Self::user(user_id, DataScope::All, [])
        }
    }

    /// An integration token of a user: the user's scope, and only the permissions both the
    /// token and the user's current role grant.
    pub fn token(token_id: Uuid, user: &Actor, granted: &[&str]) -> Self {
        let permissions = if user.all_permissions {
            granted
                .iter()
                .filter_map(|name| crate::roles::permission(name))
                .map(Permission::name)
                .collect()
        } else {
            user.permissions
                .iter()
                .copied()
                .filter(|p| granted.contains(p))
                .collect()
        };
        Self {
            subject: format!("token:{token_id}"),
            user_id: user.user_id,
            scope: user.scope.clone(),
            acting_org: user.acting_org,
            permissions,
            all_permissions: false,
        }
    }

    /// The permissions held, by name (every catalogued one for a super-admin).
    pub fn permission_names(&self) -> Vec<&'static str> {
        if self.all_permissions {
            crate::roles::CATALOGUE.iter().map(|p| p.name()).collect()
        } else {
            self.permissions.iter().copied().collect()
        }
    }

    pub fn may(&self, permission: Permission) -> bool {
        self.all_permissions || self.permissions.contains(permission.0)
    }

    pub fn is_super_admin(&self) -> bool {
        self.scope == DataScope::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn super_admins_see_every_organization_and_may_do_anything() {
        let admin = Actor::user(crate::new_id(), DataScope::All, []);
        assert!(admin.scope.sees_org(crate::new_id()));
        assert!(admin.may(Permission::ORGANIZATION_ARCHIVE));
    }

    #[test]
    fn a_token_holds_only_what_both_the_token_and_the_user_hold() {
        let org = crate::new_id();
        let user = Actor::user(
            crate::new_id(),
            DataScope::Organization(org),
            ["organization.read", "partner.read"],
        );
        let token = Actor::token(crate::new_id(), &user, &["partner.read", "partner.manage"]);
        assert!(token.may(Permission::PARTNER_READ));
        assert!(!token.may(Permission::PARTNER_MANAGE), "the user lacks it");
        assert!(
            !token.may(Permission::ORGANIZATION_READ),
            "the token lacks it"
        );
        assert_eq!(token.scope, user.scope);
        let admin_token = Actor::token(
            crate::new_id(),
            &Actor::super_admin(crate::new_id(), None),
            &["organization.read"],
        );
        assert!(
            admin_token.may(Permission::ORGANIZATION_READ)
                && !admin_token.may(Permission::ORGANIZATION_CREATE)
        );
    }

    #[test]
    fn internal_users_see_only_their_organization_and_hold_only_their_permissions() {
        let org = crate::new_id();
        let user = Actor::user(
            crate::new_id(),
            DataScope::Organization(org),
            ["organization.read"],
        );
        assert!(user.scope.sees_org(org));
        assert!(!user.scope.sees_org(crate::new_id()));
        assert!(user.may(Permission::ORGANIZATION_READ));
        assert!(!user.may(Permission::ORGANIZATION_UPDATE));
    }
}
