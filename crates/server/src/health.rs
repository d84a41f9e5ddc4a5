//! Liveness, readiness, the detailed health view for administrators, and Prometheus metrics.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use steelyard_domain::access::Permission;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: answers while the process runs; touches no dependency.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Status)))]
pub async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness: the database answers, and Redis when configured. 503 names what is down.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Status), (status = 503, body = Problem)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Status>, Problem> {
    let mut down = Vec::new();
    match tokio::time::timeout(Duration::from_secs(2), state.app.db.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: database unreachable");
            down.push("database");
        }
        Err(_) => {
            tracing::warn!("readiness: database timed out");
            down.push("database");
        }
    }
    if let Some(redis) = &state.redis
        && let Err(error) = redis.ping().await
    {
        tracing::warn!(%error, "readiness: Redis unreachable");
        down.push("redis");
    }
    if down.is_empty() {
        Ok(Json(Status { status: "ok" }))
    } else {
        Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            format!("unavailable: {}", down.join(", ")),
        ))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetailedHealth {
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    pub database: String,
    pub redis: String,
    pub pool: PoolView,
    pub migrations: Vec<MigrationView>,
    /// Resident memory of the process, when the platform reports it.
    pub memory_rss_bytes: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolView {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MigrationView {
    pub version: i64,
    pub description: String,
}

/// Version, uptime, backend, pool, migrations and memory; administrators only.
#[utoipa::path(get, path = "/health/detailed", tag = "health", security(("bearer" = [])),
    responses((status = 200, body = DetailedHealth), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn detailed(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
) -> ApiResult<Json<DetailedHealth>> {
    ctx.require(Permission::SYSTEM_HEALTH)?;
    let db = &state.app.db;
    let database = match db.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(error) => format!("down: {error}"),
    };
    let redis = match &state.redis {
        None => "not configured".to_owned(),
        Some(link) => link
            .ping()
            .await
            .map_or_else(|e| format!("down: {e}"), |()| "ok".to_owned()),
    };
    let pool = db.pool_stats();
    let migrations = db
        .applied_migrations()
        .await
        .map_err(steelyard_services::Error::from)?
        .into_iter()
        .map(|m| MigrationView {
            version: m.version,
            description: m.description,
        })
        .collect();
    Ok(Json(DetailedHealth {
        status: if database == "ok" { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        backend: db.backend().name(),
        database,
        redis,
        pool: PoolView {
            size: pool.size,
            idle: pool.idle,
            max: pool.max,
        },
        migrations,
        memory_rss_bytes: resident_memory(),
    }))
}

/// Prometheus text exposition. With `STEELYARD_METRICS_PUBLIC=false` it needs a token holding
/// `system.health` (a super-admin's integration token, for the scraper).
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(
    State(state): State<AppState>,
    caller: Result<Authenticated, Problem>,
) -> Response {
    if !state.config.metrics_public {
        let allowed = caller.and_then(|Authenticated(ctx, _)| {
            ctx.require(Permission::SYSTEM_HEALTH)
                .map_err(Problem::from)
        });
        if let Err(problem) = allowed {
            return problem.into_response();
        }
    }
    let pool = state.app.db.pool_stats();
    metrics::gauge!("db_pool_connections", "state" => "open").set(f64::from(pool.size));
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("db_pool_connections_max").set(f64::from(pool.max));
    metrics::gauge!("process_uptime_seconds").set(state.started.elapsed().as_secs_f64());
    if let Some(rss) = resident_memory() {
        metrics::gauge!("process_resident_memory_bytes").set(rss as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// VmRSS from /proc, in bytes (Linux only).
pub fn resident_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
