//! Authentication at the edge: JWT access tokens, integration tokens, and the extractor that
//! turns either into the caller's [`Actor`].
//!
//! Access tokens are HS256 only: the algorithm is pinned, so `alg: none` and HS/RS confusion
//! are refused; signature, expiry, issuer and audience are all checked, and every failure is
//! the same 401 with no hint of which check failed. The token carries the actor's organization,
//! scope and permissions (read from the role at sign-in and at each refresh); every request
//! also checks that its session is open and its user active, so logout and disabling a user
//! take effect at once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

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
    /// Tokens whose signature and claims were checked already (see [`VerifiedTokens`]).
    verified: VerifiedTokens,
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
            verified: VerifiedTokens::default(),
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

    /// The claims of a valid token. A token seen before skips the signature and claim checks,
    /// which do not change, but not the expiry.
    fn verify(&self, token: &str) -> Option<Arc<Claims>> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let still_valid = |claims: &Claims| claims.exp + self.validation.leeway as i64 >= now;
        if let Some(claims) = self.verified.get(token) {
            return still_valid(&claims).then_some(claims);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| Arc::new(data.claims))?;
        self.verified
            .insert(token, Arc::clone(&claims), still_valid);
        Some(claims)
    }
}

/// Access tokens already verified, by their text. Checking an HS256 token (base64, two JSON
/// documents, an HMAC) was about a tenth of the server's CPU in a GET by id (BENCHMARKS.md,
/// cause 16), and a client sends the same token for its whole lifetime (15 minutes by
/// default). Only the expiry changes with time, so it is checked on every hit; the session
/// is still read on every request, so logout takes effect at once.
#[derive(Default)]
struct VerifiedTokens {
    tokens: Mutex<HashMap<Box<str>, Arc<Claims>>>,
}

/// At most this many tokens are kept: about 1 KiB each.
const VERIFIED_TOKENS: usize = 10_000;

impl VerifiedTokens {
    fn get(&self, token: &str) -> Option<Arc<Claims>> {
        self.lock().get(token).cloned()
    }

    /// Keeps a verified token. When full, expired tokens go first, and everything if none
    /// has expired: the cost is one verification per token afterwards.
    fn insert(&self, token: &str, claims: Arc<Claims>, still_valid: impl Fn(&Claims) -> bool) {
        let mut tokens = self.lock();
        if tokens.len() >= VERIFIED_TOKENS {
            tokens.retain(|_, claims| still_valid(claims));
            if tokens.len() >= VERIFIED_TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(token.into(), claims);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<Claims>>> {
        // The map holds no invariant a panic could break half-way.
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    claims: Arc<Claims>,
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
        claims,
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
            .map(|verified| Arc::clone(&verified.claims));
        let identity = match verified {
            Some(claims) => from_claims(state, &claims).await?,
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
    from_claims(state, &claims).await
}

/// The identity of verified JWT claims, once its session is found open and its user active.
async fn from_claims(state: &AppState, claims: &Claims) -> Result<Identity, Problem> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        let overrides = crate::config::Overrides {
            bind: None,
            data_dir: Some(std::env::temp_dir()),
            config_file: None,
        };
        let config = Config::from_sources(&overrides, &HashMap::new()).expect("default config");
        Keys::new(b"a test secret of enough length for HS256", &config)
    }

    fn token(keys: &Keys) -> String {
        let org = steelyard_domain::new_id();
        let actor = Actor::user(
            steelyard_domain::new_id(),
            DataScope::Organization(org),
            ["partners.read"],
        );
        keys.issue(&actor, steelyard_domain::new_id()).unwrap()
    }

    #[test]
    fn a_token_seen_before_is_not_verified_again_but_its_expiry_still_counts() {
        let keys = keys();
        let token = token(&keys);
        let first = keys.verify(&token).expect("a fresh token is valid");
        let again = keys.verify(&token).expect("still valid");
        assert!(
            Arc::ptr_eq(&first, &again),
            "served from the verified tokens"
        );

        // The same token once its expiry has passed (beyond the leeway) is refused.
        let mut expired = Claims::clone(&first);
        expired.exp = jsonwebtoken::get_current_timestamp() as i64 - 60;
        keys.verified.insert(&token, Arc::new(expired), |_| true);
        assert!(keys.verify(&token).is_none());
    }

    #[test]
    fn only_the_exact_token_text_is_served_from_the_verified_tokens() {
        let keys = keys();
        let token = token(&keys);
        assert!(keys.verify(&token).is_some());
        let mut tampered = token.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(keys.verify(&tampered).is_none());
    }

    #[test]
    fn a_full_cache_drops_expired_tokens_first() {
        let keys = keys();
        let template = keys.verify(&token(&keys)).unwrap();
        let claims = |exp| {
            let mut claims = Claims::clone(&template);
            claims.exp = exp;
            Arc::new(claims)
        };
        let (live, dead) = (claims(i64::MAX / 2), claims(0));
        let valid = |claims: &Claims| claims.exp > 0;
        let verified = VerifiedTokens::default();
        for n in 0..VERIFIED_TOKENS - 1 {
            verified.insert(&format!("dead-{n}"), Arc::clone(&dead), valid);
        }
        verified.insert("live", Arc::clone(&live), valid);
        verified.insert("newest", Arc::clone(&live), valid);
        let kept = verified.lock();
        assert!(kept.contains_key("live") && kept.contains_key("newest"));
        assert!(!kept.keys().any(|token| token.starts_with("dead-")));
    }
}
