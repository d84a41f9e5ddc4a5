//! Access control use cases: which actor a user becomes in an organization, organization
//! users and their roles, custom roles, and integration tokens.

use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::access::{Actor, DataScope, Permission};
use steelyard_domain::event::NewEvent;
use steelyard_domain::roles::{self, PARTNER_PORTAL};
use steelyard_store::access::{self as store, Membership, RoleRow};
use steelyard_store::users::{self, UserRow};
use steelyard_store::{StoreError, sessions};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::identity::{self, User};
use crate::{App, Ctx, Error, Result};

/// The permissions a role grants in an organization: built-in, or custom from the database.
pub async fn role_permissions(
    app: &App,
    org_id: Uuid,
    role: &str,
) -> Result<Option<Vec<&'static str>>> {
    if let Some(built_in) = roles::built_in(role) {
        return Ok(Some(built_in.iter().map(|p| p.name()).collect()));
    }
    Ok(store::custom_role(&app.db, org_id, role).await?.map(|row| {
        row.permissions
            .iter()
            .filter_map(|n| roles::permission(n))
            .map(Permission::name)
            .collect()
    }))
}

/// The actor `user` becomes in `org` (None: the first organization they belong to). None when
/// they belong nowhere they could act.
pub async fn actor_for(app: &App, user: &UserRow, org: Option<Uuid>) -> Result<Option<Actor>> {
    if user.is_super_admin {
        return Ok(Some(Actor::super_admin(user.id, org)));
    }
    let membership = match org {
        Some(org_id) => store::membership(&app.db, user.id, org_id).await?,
        None => store::memberships_of(&app.db, user.id)
            .await?
            .into_iter()
            .next(),
    };
    let Some(membership) = membership else {
        return Ok(None);
    };
    let Some(permissions) = role_permissions(app, membership.org_id, &membership.role).await?
    else {
        return Ok(None);
    };
    let scope = match membership.partner_id {
        Some(partner_id) => DataScope::Partner {
            org_id: membership.org_id,
            partner_id,
        },
        None => DataScope::Organization(membership.org_id),
    };
    Ok(Some(Actor::user(user.id, scope, permissions)))
}

/// Moves a session to another organization the user belongs to; returns the new actor.
pub async fn switch_organization(
    app: &App,
    ctx: &Ctx,
    session_id: Uuid,
    org_id: Uuid,
) -> Result<Actor> {
    let user_id = ctx.actor.user_id.ok_or(Error::NotFound("user"))?;
    let user = identity::get_user(app, user_id).await?;
    let actor = actor_for(app, &user, Some(org_id))
        .await?
        .ok_or(Error::NotFound("organization"))?;
    let mut tx = app.begin(ctx).await?;
    sessions::set_org(&mut tx, session_id, Some(org_id)).await?;
    app.commit(tx).await?;
    Ok(actor)
}

/// The organization an action applies to: the one named (super-admins only) or the actor's.
fn target_org(ctx: &Ctx, named: Option<Uuid>) -> Result<Uuid> {
    match (named, ctx.actor.acting_org) {
        (Some(org), _) if ctx.actor.is_super_admin() || ctx.actor.acting_org == Some(org) => {
            Ok(org)
        }
        (Some(_), _) => Err(Error::NotFound("organization")),
        (None, Some(org)) => Ok(org),
        (None, None) => Err(Error::Validation(FieldErrors::single(
            "organization_id",
            "required",
            "name the organization (you are not acting in one)",
        ))),
    }
}

/// A user as an organization sees them: with their role there.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Member {
    #[serde(flatten)]
    pub user: User,
    pub organization_id: Uuid,
    pub role: String,
    pub partner_id: Option<Uuid>,
}

/// The body of `POST /api/v1/users`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDraft {
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// A built-in role (`purchaser`, …) or a custom role of the organization.
    pub role: Option<String>,
    /// Required for `partner_portal` users: the business partner whose documents they see.
    pub partner_id: Option<Uuid>,
    /// Super-admins only; others add users to the organization they act in.
    pub organization_id: Option<Uuid>,
}

/// A new user and the one-time password to hand them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedUser {
    #[serde(flatten)]
    pub user: Member,
    /// Shown once; the user should change it. Absent when an existing user was added to one
    /// more organization, and when an Idempotency-Key retry replays the answer (secrets are
    /// never stored).
    pub one_time_password: Option<String>,
}

pub async fn create_user(app: &App, ctx: &Ctx, draft: UserDraft) -> Result<CreatedUser> {
    ctx.require(Permission::USER_MANAGE)?;
    let org_id = target_org(ctx, draft.organization_id)?;
    let mut errors = FieldErrors::new();
    let email = errors.take(
        "email",
        steelyard_domain::partner::parse_email(draft.email.as_deref().unwrap_or("")),
    );
    let display_name = errors.take(
        "display_name",
        steelyard_domain::text::parse_optional_line(draft.display_name.as_deref(), 120),
    );
    let role = draft.role.unwrap_or_default();
    if role_permissions(app, org_id, &role).await?.is_none() {
        errors.add(
            "role",
            "unknown",
            format!("{role:?} is not a role of this organization"),
        );
    }
    match (role == PARTNER_PORTAL, draft.partner_id) {
        (true, None) => errors.add(
            "partner_id",
            "required",
            "partner portal users belong to one business partner",
        ),
        (false, Some(_)) => errors.add(
            "partner_id",
            "invalid",
            "only partner_portal users belong to a partner",
        ),
        (true, Some(partner_id)) => {
            let scope = DataScope::Organization(org_id);
            if steelyard_store::partners::get(&app.db, &scope, partner_id)
                .await
                .is_err()
            {
                errors.add(
                    "partner_id",
                    "unknown",
                    "is not a partner of this organization",
                );
            }
        }
        _ => {}
    }
    errors.finish()?;
    let email = email.unwrap_or_default();
    if let Some(existing) = users::find_by_email(&app.db, &email).await? {
        return add_membership(app, ctx, existing, org_id, role, draft.partner_id).await;
    }
    let password = identity::generate_password();
    let now = steelyard_store::now();
    let row = UserRow {
        id: steelyard_domain::new_id(),
        display_name: display_name.flatten().unwrap_or_else(|| email.clone()),
        email,
        password_hash: identity::hash_password(password.clone()).await?,
        status: "active".into(),
        is_super_admin: false,
        version: 1,
        created_at: now,
    };
    let membership = Membership {
        user_id: row.id,
        org_id,
        role,
        partner_id: draft.partner_id,
        created_at: now,
    };
    let mut tx = app.begin(ctx).await?;
    users::insert(&mut tx, &row).await.map_err(|e| match e {
        StoreError::Duplicate(_) => {
            Error::Conflict(format!("a user with the email {:?} exists", row.email))
        }
        other => other.into(),
    })?;
    store::insert_membership(&mut tx, &membership).await?;
    let member = Member {
        user: User::from(&row),
        organization_id: org_id,
        role: membership.role.clone(),
        partner_id: membership.partner_id,
    };
    tx.record(NewEvent::of_change(
        org_id,
        "user",
        row.id,
        "user.created",
        None,
        &member,
    ));
    let mut created = CreatedUser {
        user: member,
        one_time_password: None,
    };
    ctx.remember_created(&mut tx, &created)?;
    app.commit(tx).await?;
    created.one_time_password = Some(password);
    Ok(created)
}

/// Puts an existing user into one more organization. Only super-admins may: an organization
/// admin must not be able to pull in, or probe for, accounts of other organizations (they get
/// the same 409 as for any taken email).
async fn add_membership(
    app: &App,
    ctx: &Ctx,
    user: UserRow,
    org_id: Uuid,
    role: String,
    partner_id: Option<Uuid>,
) -> Result<CreatedUser> {
    let taken = || Error::Conflict(format!("a user with the email {:?} exists", user.email));
    if !ctx.actor.is_super_admin() || user.is_super_admin {
        return Err(taken());
    }
    if store::membership(&app.db, user.id, org_id).await?.is_some() {
        return Err(Error::Conflict(format!(
            "{:?} already belongs to this organization",
            user.email
        )));
    }
    let membership = Membership {
        user_id: user.id,
        org_id,
        role,
        partner_id,
        created_at: steelyard_store::now(),
    };
    let member = Member {
        user: User::from(&user),
        organization_id: org_id,
        role: membership.role.clone(),
        partner_id,
    };
    let mut tx = app.begin(ctx).await?;
    store::insert_membership(&mut tx, &membership).await?;
    tx.record(NewEvent::of_change(
        org_id,
        "user",
        user.id,
        "user.added_to_organization",
        None,
        &member,
    ));
    let created = CreatedUser {
        user: member,
        one_time_password: None,
    };
    ctx.remember_created(&mut tx, &created)?;
    app.commit(tx).await?;
    Ok(created)
}

pub async fn list_users(app: &App, ctx: &Ctx, org: Option<Uuid>) -> Result<Vec<Member>> {
    ctx.require(Permission::USER_READ)?;
    let org_id = target_org(ctx, org)?;
    Ok(store::members_of(&app.db, org_id)
        .await?
        .into_iter()
        .map(|(user, m)| Member {
            user: User::from(&user),
            organization_id: m.org_id,
            role: m.role,
            partner_id: m.partner_id,
        })
        .collect())
}

/// One user of the organization you act in (super-admins: any member of any organization, seen
/// through their first membership).
pub async fn get_member(app: &App, ctx: &Ctx, user_id: Uuid) -> Result<Member> {
    ctx.require(Permission::USER_READ)?;
    let membership = match ctx.actor.acting_org {
        Some(org) => store::membership(&app.db, user_id, org).await?,
        None if ctx.actor.is_super_admin() => store::memberships_of(&app.db, user_id)
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    let membership = membership.ok_or(Error::NotFound("user"))?;
    let user = identity::get_user(app, user_id).await?;
    Ok(Member {
        user: User::from(&user),
        organization_id: membership.org_id,
        role: membership.role,
        partner_id: membership.partner_id,
    })
}

/// Disables or re-enables a user of the actor's organization. Disabling closes every session
/// at once, so the user's tokens stop working on their next request.
pub async fn set_user_enabled(app: &App, ctx: &Ctx, user_id: Uuid, enabled: bool) -> Result<User> {
    ctx.require(Permission::USER_MANAGE)?;
    if ctx.actor.user_id == Some(user_id) {
        return Err(Error::Conflict(
            "you cannot disable or enable yourself".into(),
        ));
    }
    let user = identity::get_user(app, user_id).await?;
    let visible = ctx.actor.is_super_admin()
        || match ctx.actor.acting_org {
            Some(org) => store::membership(&app.db, user_id, org).await?.is_some(),
            None => false,
        };
    if !visible || (user.is_super_admin && !ctx.actor.is_super_admin()) {
        return Err(Error::NotFound("user"));
    }
    let status = if enabled { "active" } else { "disabled" };
    if user.status == status {
        if !enabled {
            // Disabled by another request, whose commit may still be settling.
            sessions::settle_closes(app.db.backend()).await;
        }
        return Ok(User::from(&user));
    }
    let mut tx = app.begin(ctx).await?;
    users::set_status(&mut tx, user_id, status, user.version)
        .await
        .map_err(|e| match e {
            StoreError::Stale => Error::Stale {
                current: user.version,
            },
            other => other.into(),
        })?;
    if !enabled {
        sessions::revoke_all(&mut tx, user_id, "user disabled").await?;
    }
    let mut after = user.clone();
    after.status = status.into();
    after.version += 1;
    let org = ctx.actor.acting_org.unwrap_or(identity::PLATFORM_ORG);
    let kind = if enabled {
        "user.enabled"
    } else {
        "user.disabled"
    };
    tx.record(NewEvent::of_change(
        org,
        "user",
        user_id,
        kind,
        Some(&User::from(&user)),
        &User::from(&after),
    ));
    app.commit(tx).await?;
    Ok(User::from(&after))
}

/// A role as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleView {
    pub name: String,
    pub built_in: bool,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDraft {
    pub name: Option<String>,
    pub permissions: Option<Vec<String>>,
}

pub async fn list_roles(app: &App, ctx: &Ctx) -> Result<Vec<RoleView>> {
    ctx.require(Permission::ROLE_READ)?;
    let mut views: Vec<RoleView> = roles::BUILT_IN
        .iter()
        .map(|(name, perms)| RoleView {
            name: (*name).into(),
            built_in: true,
            permissions: perms.iter().map(|p| p.name().into()).collect(),
        })
        .collect();
    if let Some(org) = ctx.actor.acting_org {
        for row in store::custom_roles(&app.db, org).await? {
            views.push(RoleView {
                name: row.name,
                built_in: false,
                permissions: row.permissions,
            });
        }
    }
    Ok(views)
}

pub async fn get_role(app: &App, ctx: &Ctx, name: &str) -> Result<RoleView> {
    list_roles(app, ctx)
        .await?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or(Error::NotFound("role"))
}

pub async fn create_role(app: &App, ctx: &Ctx, draft: RoleDraft) -> Result<RoleView> {
    ctx.require(Permission::ROLE_MANAGE)?;
    let org_id = target_org(ctx, None)?;
    let mut errors = FieldErrors::new();
    let name = errors.take(
        "name",
        roles::parse_role_name(draft.name.as_deref().unwrap_or("")),
    );
    let grants = errors.take(
        "permissions",
        roles::parse_grants(&draft.permissions.unwrap_or_default()),
    );
    errors.finish()?;
    let row = RoleRow {
        org_id,
        name: name.unwrap_or_default(),
        permissions: grants
            .unwrap_or_default()
            .iter()
            .map(|p| p.name().to_owned())
            .collect(),
        version: 1,
    };
    let view = RoleView {
        name: row.name.clone(),
        built_in: false,
        permissions: row.permissions.clone(),
    };
    let mut tx = app.begin(ctx).await?;
    store::insert_role(&mut tx, &row)
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => Error::Conflict(format!("the role {:?} exists", row.name)),
            other => other.into(),
        })?;
    tx.record(NewEvent::of_change(
        org_id,
        "role",
        org_id,
        "role.created",
        None,
        &view,
    ));
    ctx.remember_created(&mut tx, &view)?;
    app.commit(tx).await?;
    Ok(view)
}
