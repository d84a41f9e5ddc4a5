//! Integration tokens: long-lived, scoped to a subset of their user's permissions, shown once,
//! revocable at once.

use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::access::{Actor, Permission};
use steelyard_domain::event::NewEvent;
use steelyard_store::StoreError;
use steelyard_store::api_tokens::{self, ApiTokenRow};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::actor_for;
use crate::identity;
use crate::{App, Ctx, Error, Result};

/// An integration token as listed (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    pub organization_id: Option<Uuid>,
    pub permissions: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&ApiTokenRow> for TokenView {
    fn from(row: &ApiTokenRow) -> Self {
        Self {
            id: row.id,
            name: row.name.clone(),
            organization_id: row.org_id,
            permissions: row.permissions.clone(),
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenDraft {
    pub name: Option<String>,
    /// A subset of the caller's permissions; all of them when absent.
    pub permissions: Option<Vec<String>>,
    /// 1 to 3650; no expiry when absent.
    pub expires_in_days: Option<u32>,
}

/// A new token: the secret is in `token` and is never shown again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The secret, shown once. Absent when an Idempotency-Key retry replays the answer:
    /// secrets are never stored (revoke the token and create another).
    pub token: Option<String>,
}

/// Integration tokens start with this, so they are told apart from JWTs (and found by secret
/// scanners).
pub const TOKEN_PREFIX: &str = "sy_";

pub async fn create_token(app: &App, ctx: &Ctx, draft: TokenDraft) -> Result<CreatedToken> {
    ctx.require(Permission::TOKEN_MANAGE)?;
    let user_id = ctx
        .actor
        .user_id
        .ok_or(Error::Forbidden(Permission::TOKEN_MANAGE))?;
    if ctx.actor.subject.starts_with("token:") {
        return Err(Error::Conflict(
            "integration tokens cannot create tokens; sign in".into(),
        ));
    }
    let mut errors = FieldErrors::new();
    let name = errors.take(
        "name",
        steelyard_domain::text::parse_line(draft.name.as_deref().unwrap_or(""), 100),
    );
    let held = ctx.actor.permission_names();
    let permissions: Vec<String> = match draft.permissions {
        None => held.iter().map(|p| (*p).to_owned()).collect(),
        Some(asked) => {
            for name in &asked {
                if !held.contains(&name.as_str()) {
                    errors.add(
                        "permissions",
                        "not_held",
                        format!("you do not hold {name:?}"),
                    );
                }
            }
            asked
        }
    };
    if let Some(days) = draft.expires_in_days
        && !(1..=3650).contains(&days)
    {
        errors.add("expires_in_days", "out_of_range", "must be from 1 to 3650");
    }
    errors.finish()?;
    let (token, hash) = crate::sessions::new_secret(TOKEN_PREFIX);
    let now = steelyard_store::now();
    let row = ApiTokenRow {
        id: steelyard_domain::new_id(),
        user_id,
        org_id: ctx.actor.acting_org,
        name: name.unwrap_or_default(),
        permissions,
        created_at: now,
        expires_at: draft
            .expires_in_days
            .map(|d| now + chrono::Duration::days(i64::from(d))),
        last_used_at: None,
        revoked_at: None,
    };
    let view = TokenView::from(&row);
    let mut tx = app.begin(ctx).await?;
    api_tokens::insert(&mut tx, &row, &hash).await?;
    let org = row.org_id.unwrap_or(identity::PLATFORM_ORG);
    tx.record(NewEvent::of_change(
        org,
        "api_token",
        row.id,
        "api_token.created",
        None,
        &view,
    ));
    let mut created = CreatedToken { view, token: None };
    ctx.remember_created(&mut tx, &created)?;
    app.commit(tx).await?;
    created.token = Some(token);
    Ok(created)
}

pub async fn list_tokens(app: &App, ctx: &Ctx) -> Result<Vec<TokenView>> {
    ctx.require(Permission::TOKEN_MANAGE)?;
    let user_id = ctx
        .actor
        .user_id
        .ok_or(Error::Forbidden(Permission::TOKEN_MANAGE))?;
    Ok(api_tokens::list_for_user(&app.db, user_id)
        .await?
        .iter()
        .map(TokenView::from)
        .collect())
}

pub async fn get_token(app: &App, ctx: &Ctx, id: Uuid) -> Result<TokenView> {
    list_tokens(app, ctx)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(Error::NotFound("token"))
}

pub async fn revoke_token(app: &App, ctx: &Ctx, id: Uuid) -> Result<()> {
    ctx.require(Permission::TOKEN_MANAGE)?;
    let user_id = ctx
        .actor
        .user_id
        .ok_or(Error::Forbidden(Permission::TOKEN_MANAGE))?;
    let mut tx = app.begin(ctx).await?;
    api_tokens::revoke(&mut tx, user_id, id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::NotFound("token"),
            other => other.into(),
        })?;
    let org = ctx.actor.acting_org.unwrap_or(identity::PLATFORM_ORG);
    tx.record(NewEvent {
        org_id: org,
        aggregate_type: "api_token",
        aggregate_id: id,
        kind: "api_token.revoked",
        data: serde_json::json!({"id": id}),
        changes: serde_json::json!({}),
    });
    app.commit(tx).await?;
    Ok(())
}

/// The actor behind an integration token, or None when it is unknown, revoked, expired, or its
/// user is disabled or no longer in the token's organization.
pub async fn token_actor(app: &App, presented: &str) -> Result<Option<Actor>> {
    let Some(row) = api_tokens::find_live(&app.db, &identity::token_hash(presented)).await? else {
        return Ok(None);
    };
    let user = identity::get_user(app, row.user_id).await?;
    if user.status != "active" {
        return Ok(None);
    }
    let Some(user_actor) = actor_for(app, &user, row.org_id).await? else {
        return Ok(None);
    };
    if let Err(error) = api_tokens::touch(&app.db, row.id).await {
        tracing::warn!(%error, "could not note the token's last use");
    }
    let granted: Vec<&str> = row.permissions.iter().map(String::as_str).collect();
    Ok(Some(Actor::token(row.id, &user_actor, &granted)))
}
