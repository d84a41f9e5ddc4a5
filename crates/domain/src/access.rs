//! Who is acting and what they may see: the actor, its data scope and its permissions.
//!
//! The store filters every query by [`DataScope`]; services check a named [`Permission`]
//! before acting. Both are values here, so the rules are testable without a server.

use std::collections::BTreeSet;
use uuid::Uuid;

/// Which rows an actor can see at all (from the Cotton ERP document's data isolation).
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
            permissions: BTreeSet::new(),
            all_permissions: true,
        }
    }

    pub fn user(
        user_id: Uuid,
        scope: DataScope,
        permissions: impl IntoIterator<Item = &'static str>,
    ) -> Self {
        let all_permissions = scope == DataScope::All;
        Self {
            subject: format!("user:{user_id}"),
            user_id: Some(user_id),
            scope,
            permissions: permissions.into_iter().collect(),
            all_permissions,
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
