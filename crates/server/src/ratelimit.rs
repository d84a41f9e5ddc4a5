//! Tiered rate limits (GCRA), keyed per user when authenticated and per client IP otherwise.
//!
//! On one instance the buckets live in process (governor). With Redis they live in Redis and
//! one Lua script checks and updates a bucket in one round trip, so every instance enforces
//! one shared limit. When Redis fails, limiting falls back to in-process buckets for a few
//! seconds at a time (with a warning and a metric) and returns to Redis by itself.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

use crate::client_ip::ClientIp;
use crate::problem::Problem;
use crate::redis_link::RedisLink;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Sign-in, refresh and password endpoints.
    Strict,
    /// Ordinary API calls.
    Moderate,
    /// High-frequency reads.
    Relaxed,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Moderate => "moderate",
            Self::Relaxed => "relaxed",
        }
    }

    /// The tier of a request, or None for exempt paths (health, readiness, docs, metrics).
    pub fn of(method: &Method, path: &str) -> Option<Self> {
        const EXEMPT: [&str; 5] = [
            "/health",
            "/ready",
            "/metrics",
            "/api/docs",
            "/api/openapi.json",
        ];
        if EXEMPT
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")))
        {
            return None;
        }
        const STRICT: [&str; 3] = [
            "/api/v1/auth/login",
            "/api/v1/auth/refresh",
            "/api/v1/auth/password",
        ];
        if STRICT.iter().any(|p| path.starts_with(p)) {
            return Some(Self::Strict);
        }
        if method == Method::GET || method == Method::HEAD {
            Some(Self::Relaxed)
        } else {
            Some(Self::Moderate)
        }
    }
}

/// Requests per minute of each tier.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub strict: u32,
    pub moderate: u32,
    pub relaxed: u32,
}

impl Limits {
    pub fn per_minute(self, tier: Tier) -> u32 {
        match tier {
            Tier::Strict => self.strict,
            Tier::Moderate => self.moderate,
            Tier::Relaxed => self.relaxed,
        }
    }
}

type Local =
    Governor<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// What one check decided, and what the response headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
    pub retry_after_secs: u64,
}

pub struct RateLimiter {
    limits: Limits,
    local: [Local; 3],
    redis: Option<RedisLink>,
    /// Until when (ms since `started`) Redis is skipped after a failure.
    redis_skip_until_ms: AtomicU64,
    started: Instant,
    script: redis::Script,
    client_ip: ClientIp,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if allow_at > now then
  return {0, 0, math.ceil(allow_at - now), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, math.floor((now - allow_at) / interval), 0, math.ceil(new_tat - now)}
"#;

impl RateLimiter {
    pub fn new(limits: Limits, redis: Option<RedisLink>, client_ip: ClientIp) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least 1"));
        let local = |n| Governor::keyed(quota(n)).with_middleware::<StateInformationMiddleware>();
        Self {
            limits,
            local: [
                local(limits.strict),
                local(limits.moderate),
                local(limits.relaxed),
            ],
            redis,
            redis_skip_until_ms: AtomicU64::new(0),
            started: Instant::now(),
            script: redis::Script::new(GCRA),
            client_ip,
        }
    }

    pub async fn check(&self, tier: Tier, key: &str) -> Decision {
        let decision = match self.check_redis(tier, key).await {
            Some(decision) => decision,
            None => self.check_local(tier, key),
        };
        let outcome = if decision.allowed {
            "allowed"
        } else {
            "limited"
        };
        metrics::counter!("ratelimit_decisions_total", "tier" => tier.name(), "outcome" => outcome)
            .increment(1);
        decision
    }

    fn check_local(&self, tier: Tier, key: &str) -> Decision {
        let limit = self.limits.per_minute(tier);
        let limiter = &self.local[tier as usize];
        let per_request = 60.0 / f64::from(limit.max(1));
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_secs: (f64::from(limit - remaining.min(limit)) * per_request).ceil()
                        as u64,
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let retry = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_secs: 60,
                    retry_after_secs: retry.max(1),
                }
            }
        }
    }

    /// The shared check; None when Redis is not configured or not usable right now.
    async fn check_redis(&self, tier: Tier, key: &str) -> Option<Decision> {
        let link = self.redis.as_ref()?;
        let now_ms = self.started.elapsed().as_millis() as u64;
        if now_ms < self.redis_skip_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        let limit = self.limits.per_minute(tier);
        // Not connected yet (start-up, or Redis down since start): in process, with no
        // back-off, so limiting moves to Redis the moment the connection exists.
        let mut manager = link.manager().await?;
        let mut invocation = self
            .script
            .key(format!("steelyard:rl:{}:{key}", tier.name()));
        invocation.arg(limit).arg(60_000);
        let reply = tokio::time::timeout(
            Duration::from_secs(1),
            invocation.invoke_async::<Vec<i64>>(&mut manager),
        );
        let result = match reply.await {
            Ok(Ok(values)) if values.len() == 4 => Ok(values),
            Ok(Ok(_)) => Err("unexpected script reply".to_owned()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".to_owned()),
        };
        match result {
            Ok(v) => Some(Decision {
                allowed: v[0] == 1,
                limit,
                remaining: u32::try_from(v[1].max(0)).unwrap_or(0),
                reset_secs: (v[3].max(0) as u64).div_ceil(1000),
                retry_after_secs: (v[2].max(0) as u64)
                    .div_ceil(1000)
                    .max(u64::from(v[0] != 1)),
            }),
            Err(error) => {
                let previous = self
                    .redis_skip_until_ms
                    .swap(now_ms + 5_000, Ordering::Relaxed);
                if previous <= now_ms {
                    tracing::warn!(%error, "Redis rate limiting unavailable: limiting in process for now");
                }
                link.reset().await;
                metrics::counter!("ratelimit_redis_fallback_total").increment(1);
                None
            }
        }
    }

    /// The client's address, by the configured proxy rule.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        self.client_ip.resolve(peer, headers)
    }

    /// Forgets buckets that are full again, so memory follows the active clients only.
    pub fn prune(&self) {
        for limiter in &self.local {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// The middleware: checks the request's tier bucket and sets the RateLimit headers.
pub async fn limit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(limiter) = state.limiter.clone() else {
        return next.run(request).await;
    };
    let Some(tier) = Tier::of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let key = caller_key(&state, &limiter, tier, &mut request);
    let decision = limiter.check(tier, &key).await;
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        let mut problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!(
                "too many requests in the {} tier; retry after the given seconds",
                tier.name()
            ),
        );
        problem.retry_after_seconds = Some(decision.retry_after_secs);
        let mut response = problem.into_response();
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(decision.retry_after_secs));
        response
    };
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(decision.reset_secs));
    response
}

/// `user:<id>` for a valid bearer token (outside the strict tier), else `ip:<client address>`.
fn caller_key(
    state: &AppState,
    limiter: &Arc<RateLimiter>,
    tier: Tier,
    request: &mut Request,
) -> String {
    if tier != Tier::Strict
        && let Some(verified) = crate::auth::verify_bearer(&state.keys, request.headers())
    {
        let key = format!("user:{}", verified.subject());
        request.extensions_mut().insert(verified);
        return key;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match limiter.client_ip(peer, request.headers()) {
        Some(ip) => format!("ip:{ip}"),
        None => "ip:unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_ip::ForwardedHeader;

    fn limiter() -> RateLimiter {
        let limits = Limits {
            strict: 3,
            moderate: 100,
            relaxed: 1000,
        };
        RateLimiter::new(
            limits,
            None,
            ClientIp::new(Vec::new(), ForwardedHeader::XForwardedFor),
        )
    }

    #[test]
    fn tiers_follow_the_route_and_health_and_docs_are_exempt() {
        assert_eq!(
            Tier::of(&Method::POST, "/api/v1/auth/login"),
            Some(Tier::Strict)
        );
        assert_eq!(
            Tier::of(&Method::GET, "/api/v1/organizations"),
            Some(Tier::Relaxed)
        );
        assert_eq!(
            Tier::of(&Method::PATCH, "/api/v1/organizations/x"),
            Some(Tier::Moderate)
        );
        for path in [
            "/health",
            "/ready",
            "/api/docs/",
            "/api/openapi.json",
            "/metrics",
        ] {
            assert_eq!(Tier::of(&Method::GET, path), None, "{path}");
        }
    }

    #[tokio::test]
    async fn the_bucket_allows_its_limit_then_refuses_with_a_retry_time() {
        let limiter = limiter();
        for expected_remaining in [2, 1, 0] {
            let decision = limiter.check(Tier::Strict, "ip:1.2.3.4").await;
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
        }
        let refused = limiter.check(Tier::Strict, "ip:1.2.3.4").await;
        assert!(!refused.allowed);
        assert!((1..=20).contains(&refused.retry_after_secs), "{refused:?}");
        assert!(
            limiter.check(Tier::Strict, "ip:5.6.7.8").await.allowed,
            "buckets are per key"
        );
    }
}
