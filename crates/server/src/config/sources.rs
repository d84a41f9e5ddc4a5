//! Where a setting's value comes from (the environment, then the file, then its default) and
//! how each kind of value is read. Every problem is collected with its fix, so that all of them
//! are reported at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ConfigProblem, Environment, FileConfig, MIN_SECRET_LEN, Overrides, Secret};

/// The environment, and the problems found so far.
pub(super) struct Sources<'a> {
    env: &'a HashMap<String, String>,
    problems: Vec<ConfigProblem>,
}

impl<'a> Sources<'a> {
    pub(super) fn new(env: &'a HashMap<String, String>) -> Self {
        Self {
            env,
            problems: Vec::new(),
        }
    }

    /// The variable's value, trimmed; None when it is unset or blank.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        self.env
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn problem(&mut self, setting: &str, problem: impl Into<String>, fix: &str) {
        self.problems.push(ConfigProblem {
            setting: setting.into(),
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    /// The problems found, in the order the settings were read.
    pub(super) fn into_problems(self) -> Vec<ConfigProblem> {
        self.problems
    }

    /// A positive number of seconds.
    pub(super) fn seconds(
        &mut self,
        name: &str,
        file_value: Option<u64>,
        default: u64,
    ) -> Duration {
        let seconds = match (self.get(name), file_value) {
            (Some(raw), _) => match raw.parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => {
                    self.problem(
                        name,
                        format!("{raw:?} is not a positive number of seconds"),
                        "use a whole number, e.g. 30",
                    );
                    default
                }
            },
            (None, Some(0)) => {
                self.problem(
                    name,
                    "is 0 in the config file",
                    "use a positive number of seconds",
                );
                default
            }
            (None, value) => value.unwrap_or(default),
        };
        Duration::from_secs(seconds)
    }

    /// A positive whole number; `fix` says what it counts.
    pub(super) fn positive(
        &mut self,
        name: &str,
        file_value: Option<u32>,
        default: u32,
        fix: &str,
    ) -> u32 {
        match (self.get(name), file_value) {
            (Some(raw), _) => match raw.parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => {
                    self.problem(name, format!("{raw:?} is not a positive number"), fix);
                    default
                }
            },
            (None, Some(0)) => {
                self.problem(name, "is 0 in the config file", fix);
                default
            }
            (None, value) => value.unwrap_or(default),
        }
    }

    /// A count of bytes.
    pub(super) fn bytes(&mut self, name: &str, file_value: Option<usize>, default: usize) -> usize {
        match self.get(name) {
            None => file_value.unwrap_or(default),
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                self.problem(
                    name,
                    format!("{raw:?} is not a number"),
                    "use a byte count, e.g. 2097152",
                );
                default
            }),
        }
    }

    /// A switch: `true`, `on`, `yes`, `1` or `false`, `off`, `no`, `0`.
    pub(super) fn switch(&mut self, name: &str, file_value: Option<bool>, default: bool) -> bool {
        match self.get(name).as_deref() {
            None => file_value.unwrap_or(default),
            Some("true" | "on" | "yes" | "1") => true,
            Some("false" | "off" | "no" | "0") => false,
            Some(other) => {
                self.problem(
                    name,
                    format!("{other:?} is neither on nor off"),
                    "use true or false (on or off)",
                );
                default
            }
        }
    }
}

/// The TOML file named by `--config` or `STEELYARD_CONFIG`, if any.
pub(super) fn file(sources: &mut Sources, overrides: &Overrides) -> FileConfig {
    let path = overrides
        .config_file
        .clone()
        .or_else(|| sources.get("STEELYARD_CONFIG").map(PathBuf::from));
    let Some(path) = path else {
        return FileConfig::default();
    };
    read_file(&path).unwrap_or_else(|text| {
        sources.problem(
            "STEELYARD_CONFIG",
            text,
            "point it at a readable TOML file, or unset it",
        );
        FileConfig::default()
    })
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{} is not valid: {e}", path.display()))
}

pub(super) fn environment(sources: &mut Sources, file_value: Option<String>) -> Environment {
    match sources.get("STEELYARD_ENV").or(file_value).as_deref() {
        None | Some("development" | "dev") => Environment::Development,
        Some("production" | "prod") => Environment::Production,
        Some(other) => {
            sources.problem(
                "STEELYARD_ENV",
                format!("unknown environment {other:?}"),
                "use development or production",
            );
            Environment::Development
        }
    }
}

pub(super) fn bind(
    sources: &mut Sources,
    overrides: &Overrides,
    file_value: Option<String>,
) -> SocketAddr {
    let text = overrides
        .bind
        .clone()
        .or_else(|| sources.get("STEELYARD_BIND"))
        .or(file_value)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    text.parse().unwrap_or_else(|_| {
        sources.problem(
            "STEELYARD_BIND",
            format!("{text:?} is not an address"),
            "use host:port, e.g. 0.0.0.0:8080",
        );
        SocketAddr::from(([127, 0, 0, 1], 8080))
    })
}

pub(super) fn database_url(sources: &mut Sources, file_value: Option<String>) -> Option<String> {
    let url = sources.get("DATABASE_URL").or(file_value)?;
    if !["postgres://", "postgresql://", "sqlite:"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        sources.problem(
            "DATABASE_URL",
            "is neither postgres:// nor sqlite:",
            "use postgres://user@host/db, or unset it for SQLite in the data dir",
        );
    }
    Some(url)
}

pub(super) fn redis_url(sources: &mut Sources, file_value: Option<String>) -> Option<String> {
    let url = sources.get("REDIS_URL").or(file_value)?;
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        sources.problem(
            "REDIS_URL",
            "is not a redis:// URL",
            "use redis://host:6379, or unset it",
        );
    } else if redis::Client::open(url.as_str()).is_err() {
        sources.problem("REDIS_URL", "cannot be parsed", "use redis://host:6379/0");
    }
    Some(url)
}

/// The token signing secret: long enough when given, and required in production.
pub(super) fn jwt_secret(
    sources: &mut Sources,
    file_value: Option<String>,
    environment: Environment,
) -> Option<Secret> {
    let secret = sources
        .get("STEELYARD_JWT_SECRET")
        .or(file_value)
        .map(Secret);
    match (&secret, environment) {
        (Some(secret), _) if secret.0.len() < MIN_SECRET_LEN => sources.problem(
            "STEELYARD_JWT_SECRET",
            format!("is shorter than {MIN_SECRET_LEN} characters"),
            "generate one with `openssl rand -base64 48`",
        ),
        (None, Environment::Production) => sources.problem(
            "STEELYARD_JWT_SECRET",
            "is required in production",
            "set it to a random string of 32+ characters (`openssl rand -base64 48`)",
        ),
        _ => {}
    }
    secret
}

/// `json` (the default) or `pretty`: whether logs are JSON lines.
pub(super) fn log_json(sources: &mut Sources, file_value: Option<String>) -> bool {
    match sources
        .get("STEELYARD_LOG_FORMAT")
        .or(file_value)
        .as_deref()
    {
        None | Some("json") => true,
        Some("pretty" | "text") => false,
        Some(other) => {
            sources.problem(
                "STEELYARD_LOG_FORMAT",
                format!("unknown format {other:?}"),
                "use json or pretty",
            );
            true
        }
    }
}

/// Browser origins allowed to call the API, comma-separated.
pub(super) fn cors_origins(sources: &mut Sources, file_value: Option<Vec<String>>) -> Vec<String> {
    let origins: Vec<String> = sources
        .get("STEELYARD_CORS_ORIGINS")
        .map(|raw| {
            raw.split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .or(file_value)
        .unwrap_or_default();
    for origin in &origins {
        if origin == "*" || !(origin.starts_with("http://") || origin.starts_with("https://")) {
            sources.problem(
                "STEELYARD_CORS_ORIGINS",
                format!("{origin:?} is not an origin"),
                "list origins like https://erp.example.com, comma-separated",
            );
        }
    }
    origins
}

/// Requests per minute of one rate-limit tier (or of one WebSocket's messages).
pub(super) fn per_minute(sources: &mut Sources, name: &str, default: u32) -> u32 {
    sources.positive(name, None, default, "use requests per minute, e.g. 100")
}

/// Peers whose forwarding headers are believed, as addresses or CIDR ranges.
pub(super) fn trusted_proxies(sources: &mut Sources) -> Vec<crate::client_ip::IpNet> {
    let listed = sources.get("STEELYARD_TRUSTED_PROXIES").unwrap_or_default();
    let mut proxies = Vec::new();
    for entry in listed.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match crate::client_ip::IpNet::parse(entry) {
            Some(net) => proxies.push(net),
            None => sources.problem(
                "STEELYARD_TRUSTED_PROXIES",
                format!("{entry:?} is not an address or range"),
                "list addresses or CIDR ranges, e.g. 10.0.0.0/8,127.0.0.1",
            ),
        }
    }
    proxies
}

pub(super) fn forwarded_header(sources: &mut Sources) -> crate::client_ip::ForwardedHeader {
    use crate::client_ip::ForwardedHeader;
    let Some(raw) = sources.get("STEELYARD_FORWARDED_HEADER") else {
        return ForwardedHeader::XForwardedFor;
    };
    ForwardedHeader::parse(&raw).unwrap_or_else(|| {
        sources.problem(
            "STEELYARD_FORWARDED_HEADER",
            format!("{raw:?} is not a forwarding header"),
            "use x-forwarded-for or forwarded",
        );
        ForwardedHeader::XForwardedFor
    })
}

/// The business settings handed to the services.
pub(super) fn business(sources: &mut Sources) -> steelyard_services::Settings {
    let mut settings = steelyard_services::Settings::default();
    if let Some(raw) = sources.get("STEELYARD_PO_APPROVAL_THRESHOLD") {
        match steelyard_domain::money::Money::parse(&raw) {
            Ok(amount) if !amount.is_negative() => settings.po_approval_threshold = amount,
            _ => sources.problem(
                "STEELYARD_PO_APPROVAL_THRESHOLD",
                format!("{raw:?} is not an amount"),
                "use a decimal amount, e.g. 10000",
            ),
        }
    }
    if let Some(raw) = sources.get("STEELYARD_RECEIPT_TOLERANCE_PERCENT") {
        match raw.parse::<u32>() {
            Ok(percent) if percent <= 100 => settings.receipt_tolerance_percent = percent,
            _ => sources.problem(
                "STEELYARD_RECEIPT_TOLERANCE_PERCENT",
                format!("{raw:?} is not a percentage"),
                "use a whole number from 0 to 100",
            ),
        }
    }
    settings
}

pub(super) fn sentry_dsn(sources: &mut Sources, file_value: Option<String>) -> Option<Secret> {
    let dsn = sources.get("SENTRY_DSN").or(file_value)?;
    if dsn.parse::<sentry::types::Dsn>().is_err() {
        sources.problem(
            "SENTRY_DSN",
            "is not a valid DSN",
            "copy the DSN from your Sentry project settings, or unset it",
        );
    }
    Some(Secret(dsn))
}

/// The first administrator: both settings or neither, and a password the policy accepts.
pub(super) fn admin(sources: &mut Sources) -> (Option<String>, Option<Secret>) {
    let email = sources.get("STEELYARD_ADMIN_EMAIL");
    let password = sources.get("STEELYARD_ADMIN_PASSWORD").map(Secret);
    if let Some(Err(why)) = password
        .as_ref()
        .map(|p| steelyard_services::identity::check_password_policy(&p.0))
    {
        sources.problem(
            "STEELYARD_ADMIN_PASSWORD",
            why,
            "choose 12+ characters mixing letters, digits or symbols",
        );
    }
    if email.is_some() != password.is_some() {
        sources.problem(
            "STEELYARD_ADMIN_EMAIL",
            "and STEELYARD_ADMIN_PASSWORD must be set together",
            "set both, or neither",
        );
    }
    (email, password)
}
