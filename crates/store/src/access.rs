//! Memberships (which user works in which organization, with which role) and custom roles.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::sql::query;
use crate::time::{from_micros, now, parse_uuid, to_micros};
use crate::tx::Tx;

/// A user's place in one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub role: String,
    /// Set for EXTERNAL (partner portal) users.
    pub partner_id: Option<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub async fn insert_membership(tx: &mut Tx, m: &Membership) -> Result<()> {
    query("INSERT INTO memberships (user_id, org_id, role, partner_id, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(m.user_id.to_string())
        .bind(m.org_id.to_string())
        .bind(&m.role)
        .bind(m.partner_id.map(|p| p.to_string()))
        .bind(to_micros(m.created_at))
        .execute(tx)
        .await?;
    Ok(())
}

/// A user's memberships, oldest first (the first is where a sign-in lands by default).
pub async fn memberships_of(db: &Db, user_id: Uuid) -> Result<Vec<Membership>> {
    let rows = sqlx::query(
        "SELECT user_id, org_id, role, partner_id, created_at FROM memberships WHERE user_id = $1 ORDER BY created_at, org_id",
    )
    .bind(user_id.to_string())
    .fetch_all(&db.read)
    .await?;
    rows.iter().map(membership_from_row).collect()
}

pub async fn membership(db: &Db, user_id: Uuid, org_id: Uuid) -> Result<Option<Membership>> {
    let row = sqlx::query("SELECT user_id, org_id, role, partner_id, created_at FROM memberships WHERE user_id = $1 AND org_id = $2")
        .bind(user_id.to_string())
        .bind(org_id.to_string())
        .fetch_optional(&db.read)
        .await?;
    row.as_ref().map(membership_from_row).transpose()
}

fn membership_from_row(row: &AnyRow) -> Result<Membership> {
    Ok(Membership {
        user_id: parse_uuid(&row.try_get::<String, _>(0)?)?,
        org_id: parse_uuid(&row.try_get::<String, _>(1)?)?,
        role: row.try_get(2)?,
        partner_id: row
            .try_get::<Option<String>, _>(3)?
            .as_deref()
            .map(parse_uuid)
            .transpose()?,
        created_at: from_micros(row.try_get(4)?)?,
    })
}

/// A custom role of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub org_id: Uuid,
    pub name: String,
    pub permissions: Vec<String>,
    pub version: i64,
}

pub async fn insert_role(tx: &mut Tx, role: &RoleRow) -> Result<()> {
    let at = to_micros(now());
    query("INSERT INTO roles (org_id, name, permissions, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(role.org_id.to_string())
        .bind(&role.name)
        .bind(role.permissions.join(","))
        .bind(role.version)
        .bind(at)
        .bind(at)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn custom_role(db: &Db, org_id: Uuid, name: &str) -> Result<Option<RoleRow>> {
    let row = sqlx::query(
        "SELECT org_id, name, permissions, version FROM roles WHERE org_id = $1 AND name = $2",
    )
    .bind(org_id.to_string())
    .bind(name)
    .fetch_optional(&db.read)
    .await?;
    row.as_ref().map(role_from_row).transpose()
}

pub async fn custom_roles(db: &Db, org_id: Uuid) -> Result<Vec<RoleRow>> {
    let rows = sqlx::query(
        "SELECT org_id, name, permissions, version FROM roles WHERE org_id = $1 ORDER BY name",
    )
    .bind(org_id.to_string())
    .fetch_all(&db.read)
    .await?;
    rows.iter().map(role_from_row).collect()
}

fn role_from_row(row: &AnyRow) -> Result<RoleRow> {
    let permissions: String = row.try_get(2)?;
    Ok(RoleRow {
        org_id: parse_uuid(&row.try_get::<String, _>(0)?)?,
        name: row.try_get(1)?,
        permissions: permissions
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        version: row.try_get(3)?,
    })
}

/// The users of one organization with their roles, by email.
pub async fn members_of(db: &Db, org_id: Uuid) -> Result<Vec<(crate::users::UserRow, Membership)>> {
    let rows = sqlx::query(
        "SELECT u.id, u.email, u.display_name, u.password_hash, u.status, u.is_super_admin, u.version, u.created_at, \
         m.user_id, m.org_id, m.role, m.partner_id, m.created_at \
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.email_key",
    )
    .bind(org_id.to_string())
    .fetch_all(&db.read)
    .await?;
    rows.iter()
        .map(|row| {
            let user = crate::users::from_row(row)?;
            let membership = Membership {
                user_id: parse_uuid(&row.try_get::<String, _>(8)?)?,
                org_id: parse_uuid(&row.try_get::<String, _>(9)?)?,
                role: row.try_get(10)?,
                partner_id: row
                    .try_get::<Option<String>, _>(11)?
                    .as_deref()
                    .map(parse_uuid)
                    .transpose()?,
                created_at: from_micros(row.try_get(12)?)?,
            };
            Ok((user, membership))
        })
        .collect::<Result<Vec<_>>>()
        .map_err(|e: StoreError| e)
}
