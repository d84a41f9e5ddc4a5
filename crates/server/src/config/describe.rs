//! The effective configuration as `check-config` prints it, with secrets and URL passwords
//! masked; `{:?}` of a [`Config`] shows the same.

use std::fmt;

use super::{Config, Secret};

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.describe()).finish()
    }
}

impl Config {
    /// The effective configuration, secrets masked, as `check-config` prints it.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let mask = |s: &Option<Secret>| {
            if s.is_some() {
                "****".to_owned()
            } else {
                "(not set)".to_owned()
            }
        };
        let target =
            steelyard_store::DbTarget::select(self.database_url.as_deref(), &self.data_dir);
        vec![
            (
                "environment",
                format!("{:?}", self.environment).to_lowercase(),
            ),
            ("bind", self.bind.to_string()),
            ("data_dir", self.data_dir.display().to_string()),
            ("database", target.redacted()),
            (
                "redis_url",
                self.redis_url
                    .as_deref()
                    .map(steelyard_store::redact_url)
                    .unwrap_or_else(|| "(not set)".into()),
            ),
            ("sentry_dsn", mask(&self.sentry_dsn)),
            (
                "jwt_secret",
                if self.jwt_secret.is_some() {
                    "****".into()
                } else {
                    "(generated: kept in the data dir on SQLite, in the database on PostgreSQL)"
                        .into()
                },
            ),
            ("jwt_issuer", self.jwt_issuer.clone()),
            ("jwt_audience", self.jwt_audience.clone()),
            (
                "access_token_ttl_secs",
                self.access_token_ttl.as_secs().to_string(),
            ),
            (
                "admin_email",
                self.admin_email
                    .clone()
                    .unwrap_or_else(|| "(not set)".into()),
            ),
            ("admin_password", mask(&self.admin_password)),
            (
                "cors_origins",
                if self.cors_origins.is_empty() {
                    "(none)".into()
                } else {
                    self.cors_origins.join(",")
                },
            ),
            ("body_limit_bytes", self.body_limit_bytes.to_string()),
            (
                "request_timeout_secs",
                self.request_timeout.as_secs().to_string(),
            ),
            (
                "shutdown_grace_secs",
                self.shutdown_grace.as_secs().to_string(),
            ),
            ("hsts", self.hsts.to_string()),
            ("db_max_connections", self.db_max_connections.to_string()),
            (
                "log_format",
                if self.log_json {
                    "json".into()
                } else {
                    "pretty".into()
                },
            ),
            (
                "rate_limits",
                if self.rate_limits_enabled {
                    "on".into()
                } else {
                    "off".into()
                },
            ),
            (
                "rate_limit_per_min",
                format!(
                    "strict {}, moderate {}, relaxed {}",
                    self.rate_limits.strict, self.rate_limits.moderate, self.rate_limits.relaxed
                ),
            ),
            (
                "trusted_proxies",
                if self.trusted_proxies.is_empty() {
                    "(none)".into()
                } else {
                    format!("{} range(s)", self.trusted_proxies.len())
                },
            ),
            ("forwarded_header", format!("{:?}", self.forwarded_header)),
            (
                "ws_max_connections_per_user",
                self.ws_max_connections_per_user.to_string(),
            ),
            (
                "ws_messages_per_minute",
                self.ws_messages_per_minute.to_string(),
            ),
            ("ws_heartbeat_secs", self.ws_heartbeat_secs.to_string()),
            ("ws_send_queue", self.ws_send_queue.to_string()),
            (
                "ws_send_timeout_secs",
                self.ws_send_timeout_secs.to_string(),
            ),
            ("metrics_public", self.metrics_public.to_string()),
            (
                "po_approval_threshold",
                self.settings.po_approval_threshold.to_string(),
            ),
            (
                "receipt_tolerance_percent",
                self.settings.receipt_tolerance_percent.to_string(),
            ),
        ]
    }
}
