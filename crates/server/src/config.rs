//! The one typed configuration: defaults, then an optional TOML file, then the environment,
//! then command-line flags. Every problem is collected and reported at once, with its fix.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use self::sources::Sources;

/// Development or production; production refuses unsafe settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// A value that is never printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Printed with `{:?}` it shows [`Config::describe`]: secrets and URL passwords masked.
#[derive(Clone)]
pub struct Config {
    pub environment: Environment,
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub sentry_dsn: Option<Secret>,
    /// None in development until the server generates and keeps one (see `auth::keys`).
    pub jwt_secret: Option<Secret>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub admin_email: Option<String>,
    pub admin_password: Option<Secret>,
    pub cors_origins: Vec<String>,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub hsts: bool,
    pub db_max_connections: u32,
    pub log_json: bool,
    /// Off only for load tests; on by default.
    pub rate_limits_enabled: bool,
    pub rate_limits: crate::ratelimit::Limits,
    /// Peers whose `X-Forwarded-For`/`Forwarded` headers are believed.
    pub trusted_proxies: Vec<crate::client_ip::IpNet>,
    /// The header trusted proxies put the client address in.
    pub forwarded_header: crate::client_ip::ForwardedHeader,
    pub ws_max_connections_per_user: usize,
    pub ws_messages_per_minute: u32,
    /// Seconds between WebSocket pings; a peer silent for two is dropped.
    pub ws_heartbeat_secs: u64,
    /// Events queued per WebSocket before the client counts as too slow and is closed.
    pub ws_send_queue: usize,
    /// Seconds one write to a WebSocket may take before the connection is dropped.
    pub ws_send_timeout_secs: u64,
    /// When false, `/metrics` needs a token with `system.health`.
    pub metrics_public: bool,
    /// Business settings handed to the services.
    pub settings: steelyard_services::Settings,
}

/// One thing wrong with the configuration, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub setting: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.setting, self.problem, self.fix)
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
}

/// The TOML file's shape: the same names as the environment, lower case, without `STEELYARD_`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    env: Option<String>,
    bind: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    redis_url: Option<String>,
    sentry_dsn: Option<String>,
    jwt_secret: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    access_token_ttl_secs: Option<u64>,
    cors_origins: Option<Vec<String>>,
    body_limit_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    hsts: Option<bool>,
    db_max_connections: Option<u32>,
    log_format: Option<String>,
}

pub const MIN_SECRET_LEN: usize = 32;

impl Config {
    /// Reads the process environment and the optional file.
    pub fn load(overrides: &Overrides) -> Result<Self, Vec<ConfigProblem>> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::from_sources(overrides, &env)
    }

    pub fn from_sources(
        overrides: &Overrides,
        env: &HashMap<String, String>,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let mut src = Sources::new(env);
        let file = sources::file(&mut src, overrides);
        let environment = sources::environment(&mut src, file.env);
        let bind = sources::bind(&mut src, overrides, file.bind);
        let data_dir = overrides
            .data_dir
            .clone()
            .or_else(|| src.get("STEELYARD_DATA_DIR").map(PathBuf::from))
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = sources::database_url(&mut src, file.database_url);
        let redis_url = sources::redis_url(&mut src, file.redis_url);
        let jwt_secret = sources::jwt_secret(&mut src, file.jwt_secret, environment);
        let access_token_ttl = src.seconds(
            "STEELYARD_ACCESS_TOKEN_TTL_SECS",
            file.access_token_ttl_secs,
            900,
        );
        let request_timeout = src.seconds(
            "STEELYARD_REQUEST_TIMEOUT_SECS",
            file.request_timeout_secs,
            30,
        );
        let shutdown_grace = src.seconds(
            "STEELYARD_SHUTDOWN_GRACE_SECS",
            file.shutdown_grace_secs,
            20,
        );
        let body_limit_bytes = src.bytes(
            "STEELYARD_BODY_LIMIT_BYTES",
            file.body_limit_bytes,
            2 * 1024 * 1024,
        );
        let db_max_connections = src.positive(
            "STEELYARD_DB_MAX_CONNECTIONS",
            file.db_max_connections,
            10,
            "use e.g. 10",
        );
        let hsts = src.switch("STEELYARD_HSTS", file.hsts, false);
        let log_json = sources::log_json(&mut src, file.log_format);
        let cors_origins = sources::cors_origins(&mut src, file.cors_origins);
        let ws_max_connections_per_user = src.positive(
            "STEELYARD_WS_MAX_CONNECTIONS_PER_USER",
            None,
            10,
            "use a count, e.g. 10",
        ) as usize;
        let ws_heartbeat_secs = src.positive(
            "STEELYARD_WS_HEARTBEAT_SECS",
            None,
            20,
            "use seconds, e.g. 20",
        );
        let ws_send_timeout_secs = src.positive(
            "STEELYARD_WS_SEND_TIMEOUT_SECS",
            None,
            10,
            "use seconds, e.g. 10",
        );
        let ws_send_queue = src.positive(
            "STEELYARD_WS_SEND_QUEUE",
            None,
            1024,
            "use a count of events, e.g. 1024",
        ) as usize;
        let ws_messages_per_minute =
            sources::per_minute(&mut src, "STEELYARD_WS_MESSAGES_PER_MINUTE", 120);
        let rate_limits = crate::ratelimit::Limits {
            strict: sources::per_minute(&mut src, "STEELYARD_RATE_LIMIT_STRICT_PER_MIN", 10),
            moderate: sources::per_minute(&mut src, "STEELYARD_RATE_LIMIT_MODERATE_PER_MIN", 100),
            relaxed: sources::per_minute(&mut src, "STEELYARD_RATE_LIMIT_RELAXED_PER_MIN", 1000),
        };
        let rate_limits_enabled = src.switch("STEELYARD_RATE_LIMITS", None, true);
        let trusted_proxies = sources::trusted_proxies(&mut src);
        let settings = sources::business(&mut src);
        let metrics_public = src.switch("STEELYARD_METRICS_PUBLIC", None, true);
        let forwarded_header = sources::forwarded_header(&mut src);
        let sentry_dsn = sources::sentry_dsn(&mut src, file.sentry_dsn);
        let (admin_email, admin_password) = sources::admin(&mut src);
        let jwt_issuer = src
            .get("STEELYARD_JWT_ISSUER")
            .or(file.jwt_issuer)
            .unwrap_or_else(|| "steelyard".into());
        let jwt_audience = src
            .get("STEELYARD_JWT_AUDIENCE")
            .or(file.jwt_audience)
            .unwrap_or_else(|| "steelyard-api".into());

        let problems = src.into_problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            environment,
            bind,
            data_dir,
            database_url,
            redis_url,
            sentry_dsn,
            jwt_secret,
            jwt_issuer,
            jwt_audience,
            access_token_ttl,
            admin_email,
            admin_password,
            cors_origins,
            body_limit_bytes,
            request_timeout,
            shutdown_grace,
            hsts,
            db_max_connections,
            log_json,
            rate_limits_enabled,
            rate_limits,
            trusted_proxies,
            forwarded_header,
            ws_max_connections_per_user,
            ws_messages_per_minute,
            ws_heartbeat_secs: u64::from(ws_heartbeat_secs),
            ws_send_queue,
            ws_send_timeout_secs: u64::from(ws_send_timeout_secs),
            metrics_public,
            settings,
        })
    }

    pub fn db_target(&self) -> steelyard_store::DbTarget {
        steelyard_store::DbTarget::select(self.database_url.as_deref(), &self.data_dir)
    }
}

mod describe;
mod sources;
#[cfg(test)]
mod tests;
