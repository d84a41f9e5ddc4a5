//! The one typed configuration: defaults, then an optional TOML file, then the environment,
//! then command-line flags. Every problem is collected and reported at once, with its fix.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

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
        let mut problems = Vec::new();
        let mut problem = |setting: &str, text: String, fix: &str| {
            problems.push(ConfigProblem {
                setting: setting.into(),
                problem: text,
                fix: fix.into(),
            })
        };
        let get = |name: &str| {
            env.get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let file_path = overrides
            .config_file
            .clone()
            .or_else(|| get("STEELYARD_CONFIG").map(PathBuf::from));
        let file = match &file_path {
            None => FileConfig::default(),
            Some(path) => match read_file(path) {
                Ok(file) => file,
                Err(text) => {
                    problem(
                        "STEELYARD_CONFIG",
                        text,
                        "point it at a readable TOML file, or unset it",
                    );
                    FileConfig::default()
                }
            },
        };

        let environment = match get("STEELYARD_ENV").or(file.env).as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                problem(
                    "STEELYARD_ENV",
                    format!("unknown environment {other:?}"),
                    "use development or production",
                );
                Environment::Development
            }
        };

        let bind_text = overrides
            .bind
            .clone()
            .or_else(|| get("STEELYARD_BIND"))
            .or(file.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind = bind_text.parse().unwrap_or_else(|_| {
            problem(
                "STEELYARD_BIND",
                format!("{bind_text:?} is not an address"),
                "use host:port, e.g. 0.0.0.0:8080",
            );
            SocketAddr::from(([127, 0, 0, 1], 8080))
        });

        let data_dir = overrides
            .data_dir
            .clone()
            .or_else(|| get("STEELYARD_DATA_DIR").map(PathBuf::from))
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));

        let database_url = get("DATABASE_URL").or(file.database_url);
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
        {
            problem(
                "DATABASE_URL",
                "is neither postgres:// nor sqlite:".into(),
                "use postgres://user@host/db, or unset it for SQLite in the data dir",
            );
        }
        let redis_url = get("REDIS_URL").or(file.redis_url);
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            problem(
                "REDIS_URL",
                "is not a redis:// URL".into(),
                "use redis://host:6379, or unset it",
            );
        }

        let jwt_secret = get("STEELYARD_JWT_SECRET").or(file.jwt_secret).map(Secret);
        match (&jwt_secret, environment) {
            (Some(secret), _) if secret.0.len() < MIN_SECRET_LEN => problem(
                "STEELYARD_JWT_SECRET",
                format!("is shorter than {MIN_SECRET_LEN} characters"),
                "generate one with `openssl rand -base64 48`",
            ),
            (None, Environment::Production) => problem(
                "STEELYARD_JWT_SECRET",
                "is required in production".into(),
                "set it to a random string of 32+ characters (`openssl rand -base64 48`)",
            ),
            _ => {}
        }

        let mut seconds = |name: &str, file_value: Option<u64>, default: u64| -> Duration {
            match get(name) {
                None => match file_value {
                    Some(0) => {
                        problem(
                            name,
                            "is 0 in the config file".into(),
                            "use a positive number of seconds",
                        );
                        Duration::from_secs(default)
                    }
                    value => Duration::from_secs(value.unwrap_or(default)),
                },
                Some(raw) => match raw.parse::<u64>() {
                    Ok(n) if n > 0 => Duration::from_secs(n),
                    _ => {
                        problem(
                            name,
                            format!("{raw:?} is not a positive number of seconds"),
                            "use a whole number, e.g. 30",
                        );
                        Duration::from_secs(default)
                    }
                },
            }
        };
        let access_token_ttl = seconds(
            "STEELYARD_ACCESS_TOKEN_TTL_SECS",
            file.access_token_ttl_secs,
            900,
        );
        let request_timeout = seconds(
            "STEELYARD_REQUEST_TIMEOUT_SECS",
            file.request_timeout_secs,
            30,
        );
        let shutdown_grace = seconds(
            "STEELYARD_SHUTDOWN_GRACE_SECS",
            file.shutdown_grace_secs,
            20,
        );

        let body_limit_bytes = match get("STEELYARD_BODY_LIMIT_BYTES") {
            None => file.body_limit_bytes.unwrap_or(2 * 1024 * 1024),
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                problem(
                    "STEELYARD_BODY_LIMIT_BYTES",
                    format!("{raw:?} is not a number"),
                    "use a byte count, e.g. 2097152",
                );
                2 * 1024 * 1024
            }),
        };
        let db_max_connections = match get("STEELYARD_DB_MAX_CONNECTIONS") {
            None => file.db_max_connections.unwrap_or(10),
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => {
                    problem(
                        "STEELYARD_DB_MAX_CONNECTIONS",
                        format!("{raw:?} is not a positive number"),
                        "use e.g. 10",
                    );
                    10
                }
            },
        };
        let hsts = match get("STEELYARD_HSTS").as_deref() {
            None => file.hsts.unwrap_or(false),
            Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                problem(
                    "STEELYARD_HSTS",
                    format!("{other:?} is not a boolean"),
                    "use true or false",
                );
                false
            }
        };
        let log_json = match get("STEELYARD_LOG_FORMAT").or(file.log_format).as_deref() {
            None | Some("json") => true,
            Some("pretty" | "text") => false,
            Some(other) => {
                problem(
                    "STEELYARD_LOG_FORMAT",
                    format!("unknown format {other:?}"),
                    "use json or pretty",
                );
                true
            }
        };
        let cors_origins = get("STEELYARD_CORS_ORIGINS")
            .map(|raw| {
                raw.split(',')
                    .map(|o| o.trim().to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .or(file.cors_origins)
            .unwrap_or_default();
        for origin in &cors_origins {
            if origin == "*" || !(origin.starts_with("http://") || origin.starts_with("https://")) {
                problem(
                    "STEELYARD_CORS_ORIGINS",
                    format!("{origin:?} is not an origin"),
                    "list origins like https://erp.example.com, comma-separated",
                );
            }
        }
        let mut positive = |name: &str, default: u32, fix: &str| -> u32 {
            match get(name) {
                None => default,
                Some(raw) => match raw.parse::<u32>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        problem(name, format!("{raw:?} is not a positive number"), fix);
                        default
                    }
                },
            }
        };
        let ws_max_connections_per_user = positive(
            "STEELYARD_WS_MAX_CONNECTIONS_PER_USER",
            10,
            "use a count, e.g. 10",
        ) as usize;
        let ws_heartbeat_secs =
            positive("STEELYARD_WS_HEARTBEAT_SECS", 20, "use seconds, e.g. 20") as u64;
        let ws_send_timeout_secs =
            positive("STEELYARD_WS_SEND_TIMEOUT_SECS", 10, "use seconds, e.g. 10") as u64;
        let ws_send_queue = positive(
            "STEELYARD_WS_SEND_QUEUE",
            1024,
            "use a count of events, e.g. 1024",
        ) as usize;
        let mut per_minute = |name: &str, default: u32| -> u32 {
            match get(name) {
                None => default,
                Some(raw) => match raw.parse::<u32>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        problem(
                            name,
                            format!("{raw:?} is not a positive number"),
                            "use requests per minute, e.g. 100",
                        );
                        default
                    }
                },
            }
        };
        let ws_messages_per_minute = per_minute("STEELYARD_WS_MESSAGES_PER_MINUTE", 120);
        let rate_limits = crate::ratelimit::Limits {
            strict: per_minute("STEELYARD_RATE_LIMIT_STRICT_PER_MIN", 10),
            moderate: per_minute("STEELYARD_RATE_LIMIT_MODERATE_PER_MIN", 100),
            relaxed: per_minute("STEELYARD_RATE_LIMIT_RELAXED_PER_MIN", 1000),
        };
        let rate_limits_enabled = match get("STEELYARD_RATE_LIMITS").as_deref() {
            None | Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(other) => {
                problem(
                    "STEELYARD_RATE_LIMITS",
                    format!("{other:?} is not on or off"),
                    "use on or off",
                );
                true
            }
        };
        let mut trusted_proxies = Vec::new();
        for entry in get("STEELYARD_TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match crate::client_ip::IpNet::parse(entry) {
                Some(net) => trusted_proxies.push(net),
                None => problem(
                    "STEELYARD_TRUSTED_PROXIES",
                    format!("{entry:?} is not an address or range"),
                    "list addresses or CIDR ranges, e.g. 10.0.0.0/8,127.0.0.1",
                ),
            }
        }
        let mut settings = steelyard_services::Settings::default();
        if let Some(raw) = get("STEELYARD_PO_APPROVAL_THRESHOLD") {
            match steelyard_domain::money::Money::parse(&raw) {
                Ok(amount) if !amount.is_negative() => settings.po_approval_threshold = amount,
                _ => problem(
                    "STEELYARD_PO_APPROVAL_THRESHOLD",
                    format!("{raw:?} is not an amount"),
                    "use a decimal amount, e.g. 10000",
                ),
            }
        }
        if let Some(raw) = get("STEELYARD_RECEIPT_TOLERANCE_PERCENT") {
            match raw.parse::<u32>() {
                Ok(percent) if percent <= 100 => settings.receipt_tolerance_percent = percent,
                _ => problem(
                    "STEELYARD_RECEIPT_TOLERANCE_PERCENT",
                    format!("{raw:?} is not a percentage"),
                    "use a whole number from 0 to 100",
                ),
            }
        }
        let metrics_public = match get("STEELYARD_METRICS_PUBLIC").as_deref() {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                problem(
                    "STEELYARD_METRICS_PUBLIC",
                    format!("{other:?} is not a boolean"),
                    "use true or false",
                );
                true
            }
        };
        let forwarded_header = match get("STEELYARD_FORWARDED_HEADER") {
            None => crate::client_ip::ForwardedHeader::XForwardedFor,
            Some(raw) => crate::client_ip::ForwardedHeader::parse(&raw).unwrap_or_else(|| {
                problem(
                    "STEELYARD_FORWARDED_HEADER",
                    format!("{raw:?} is not a forwarding header"),
                    "use x-forwarded-for or forwarded",
                );
                crate::client_ip::ForwardedHeader::XForwardedFor
            }),
        };
        let sentry_dsn = get("SENTRY_DSN").or(file.sentry_dsn);
        if let Some(dsn) = &sentry_dsn
            && dsn.parse::<sentry::types::Dsn>().is_err()
        {
            problem(
                "SENTRY_DSN",
                "is not a valid DSN".into(),
                "copy the DSN from your Sentry project settings, or unset it",
            );
        }
        if let Some(url) = &redis_url
            && redis::Client::open(url.as_str()).is_err()
        {
            problem(
                "REDIS_URL",
                "cannot be parsed".into(),
                "use redis://host:6379/0",
            );
        }
        let admin_email = get("STEELYARD_ADMIN_EMAIL");
        let admin_password = get("STEELYARD_ADMIN_PASSWORD").map(Secret);
        if let Some(Err(why)) = admin_password
            .as_ref()
            .map(|p| steelyard_services::identity::check_password_policy(&p.0))
        {
            problem(
                "STEELYARD_ADMIN_PASSWORD",
                why.to_owned(),
                "choose 12+ characters mixing letters, digits or symbols",
            );
        }
        if admin_email.is_some() != admin_password.is_some() {
            problem(
                "STEELYARD_ADMIN_EMAIL",
                "and STEELYARD_ADMIN_PASSWORD must be set together".into(),
                "set both, or neither",
            );
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            environment,
            bind,
            data_dir,
            database_url,
            redis_url,
            sentry_dsn: sentry_dsn.map(Secret),
            jwt_secret,
            jwt_issuer: get("STEELYARD_JWT_ISSUER")
                .or(file.jwt_issuer)
                .unwrap_or_else(|| "steelyard".into()),
            jwt_audience: get("STEELYARD_JWT_AUDIENCE")
                .or(file.jwt_audience)
                .unwrap_or_else(|| "steelyard-api".into()),
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
            ws_heartbeat_secs,
            ws_send_queue,
            ws_send_timeout_secs,
            metrics_public,
            settings,
        })
    }

    pub fn db_target(&self) -> steelyard_store::DbTarget {
        steelyard_store::DbTarget::select(self.database_url.as_deref(), &self.data_dir)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{} is not valid: {e}", path.display()))
}

mod describe;
#[cfg(test)]
mod tests;
