//! Authentication at the edge: JWT access tokens, integration tokens, and the extractor that
//! turns either into the caller's [`Actor`].
//!
//! Access tokens are HS256 only: the algorithm is pinned, so `alg: none` and HS/RS confusion
//! are refused; signature, expiry, issuer and audience are all checked, and every failure is
//! the same 401 with no hint of which check failed. The token carries the actor's organization,
//! scope and permissions (read from the role at sign-in and at each refresh); every request
//! also checks that its session is open and its user active, so logout and disabling a user
//! take effect at once.

use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use steelyard_domain::access::{Actor, DataScope};
use steelyard_services::{Ctx, sessions, tokens};
use uuid::Uuid;

use crate::config::{Config, Environment};
use crate::edge::RequestId;
use crate::problem::Problem;
use crate::state::AppState;

/// The signing keys and the rules tokens are checked against.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub ttl_secs: u64,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    jti: String,
    /// The session the token belongs to; logging out closes it.
    sid: String,
    /// The organization the caller acts in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<Uuid>,
    /// Set for EXTERNAL (partner portal) users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    partner: Option<Uuid>,
    /// Super-admin (SUPER_ADMIN scope, every permission).
    #[serde(default)]
    sa: bool,
    #[serde(default)]
    perms: Vec<String>,
}

impl Keys {
    pub fn new(secret: &[u8], config: &Config) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl_secs: config.access_token_ttl.as_secs(),
        }
    }

    /// An access token for `actor` in session `session_id`.
    pub fn issue(&self, actor: &Actor, session_id: Uuid) -> Result<String, Problem> {
        let user_id = actor.user_id.ok_or_else(Problem::unauthorized)?;
        let now = chrono::Utc::now().timestamp();
        let partner = match actor.scope {
            DataScope::Partner { partner_id, .. } => Some(partner_id),
            _ => None,
        };
        let claims = Claims {
            sub: user_id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_secs as i64,
            jti: steelyard_domain::new_id().to_string(),
            sid: session_id.to_string(),
            org: actor.acting_org,
            partner,
            sa: actor.is_super_admin(),
            perms: if actor.is_super_admin() {
                Vec::new()
            } else {
                actor
                    .permission_names()
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            },
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| steelyard_services::Error::Internal(e.to_string()).into())
    }

    fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

impl Claims {
    fn actor(&self) -> Option<Actor> {
        let user_id: Uuid = self.sub.parse().ok()?;
        if self.sa {
            return Some(Actor::super_admin(user_id, self.org));
        }
        let org_id = self.org?;
        let scope = match self.partner {
            Some(partner_id) => DataScope::Partner { org_id, partner_id },
            None => DataScope::Organization(org_id),
        };
        let permissions = self
            .perms
            .iter()
            .filter_map(|name| steelyard_domain::roles::permission(name))
            .map(|p| p.name());
        Some(Actor::user(user_id, scope, permissions))
    }
}

/// The JWT secret: the configured one, or in development one generated once and kept (in
/// the data dir next to the SQLite file, or in the database when it is shared).
pub async fn load_secret(
    config: &Config,
    app: &steelyard_services::App,
) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.0.as_bytes().to_vec());
    }
    anyhow::ensure!(
        config.environment == Environment::Development,
        "production needs STEELYARD_JWT_SECRET"
    );
    let generated = random_secret();
    let secret = match app.db.backend() {
        steelyard_store::Backend::Sqlite => secret_file(&config.data_dir, &generated)?,
        steelyard_store::Backend::Postgres => {
            steelyard_store::users::instance_secret(&app.db, "jwt_secret", &generated).await?
        }
    };
    tracing::warn!(
        "no STEELYARD_JWT_SECRET set: using a generated development secret; set one for production"
    );
    Ok(secret.into_bytes())
}

fn random_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 48] = rand::random();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

fn secret_file(data_dir: &Path, generated: &str) -> anyhow::Result<String> {
    let path = data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        anyhow::ensure!(
            existing.len() >= crate::config::MIN_SECRET_LEN,
            "{} holds a secret shorter than {} characters: delete it to have a new one generated",
            path.display(),
            crate::config::MIN_SECRET_LEN
        );
        return Ok(existing);
    }
    std::fs::create_dir_all(data_dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    options.open(&path)?.write_all(generated.as_bytes())?;
    Ok(generated.to_owned())
}

/// A request's bearer JWT, verified once by the rate limiter and kept in the request's
/// extensions so the handler's authentication does not verify it again.
#[derive(Debug, Clone)]
pub struct VerifiedBearer {
    token: String,
    claims: std::sync::Arc<Claims>,
}

impl VerifiedBearer {
    /// The user id the token stands for (the rate limiter keys on it).
    pub fn subject(&self) -> &str {
        &self.claims.sub
    }
}

/// The request's bearer JWT, if it is valid.
pub fn verify_bearer(keys: &Keys, headers: &axum::http::HeaderMap) -> Option<VerifiedBearer> {
    let token = bearer(headers)?;
    let claims = keys.verify(token)?;
    Some(VerifiedBearer {
        token: token.to_owned(),
        claims: std::sync::Arc::new(claims),
    })
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim())
}

/// A request made by a signed-in caller: the service context and, for JWTs, the session
/// (integration tokens have none).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Ctx, pub Option<Uuid>);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(Problem::unauthorized)?;
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        let verified = parts
            .extensions
            .get::<VerifiedBearer>()
            .filter(|verified| verified.token == token)
            .map(|verified| Claims::clone(&verified.claims));
        let identity = match verified {
            Some(claims) => from_claims(state, claims).await?,
            None => authenticate(state, token).await?,
        };
        tracing::Span::current().record("user", tracing::field::display(&identity.actor.subject));
        Ok(Self(Ctx::new(identity.actor, request_id), identity.session))
    }
}

/// Who a valid token stands for.
#[derive(Debug, Clone)]
pub struct Identity {
    pub actor: Actor,
    /// The session of a JWT (integration tokens have none).
    pub session: Option<Uuid>,
    /// When a JWT expires, in Unix seconds (integration tokens do not).
    pub expires_at: Option<i64>,
}

/// Checks an access token (JWT or `sy_` integration token) the way every request does:
/// signature and claims, then that the session is open and the user active.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Identity, Problem> {
    if token.starts_with(tokens::TOKEN_PREFIX) {
        let actor = tokens::token_actor(&state.app, token)
            .await?
            .ok_or_else(Problem::unauthorized)?;
        return Ok(Identity {
            actor,
            session: None,
            expires_at: None,
        });
    }
    let claims = state.keys.verify(token).ok_or_else(Problem::unauthorized)?;
    from_claims(state, claims).await
}

/// The identity of verified JWT claims, once its session is found open and its user active.
async fn from_claims(state: &AppState, claims: Claims) -> Result<Identity, Problem> {
    let actor = claims.actor().ok_or_else(Problem::unauthorized)?;
    let session_id: Uuid = claims.sid.parse().map_err(|_| Problem::unauthorized())?;
    let user_id = actor.user_id.ok_or_else(Problem::unauthorized)?;
    // A database outage is an error, not a bad token: clients must not throw tokens away.
    if !sessions::is_open_for_active_user(&state.app, session_id, user_id).await? {
        return Err(Problem::unauthorized());
    }
    Ok(Identity {
        actor,
        session: Some(session_id),
        expires_at: Some(claims.exp),
    })
}
