//! The state every handler shares: the services' app, the configuration, keys and metrics.

use std::sync::Arc;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;
use steelyard_services::App;

use crate::auth::Keys;
use crate::config::Config;

/// Cloned several times per request (every middleware and extractor takes its own copy), so
/// it is one reference count, not one per field.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
#[derive(Debug)]
pub struct Shared {
    pub app: App,
    pub config: Arc<Config>,
    pub keys: Arc<Keys>,
    pub metrics: PrometheusHandle,
    pub started: Instant,
    pub redis: Option<crate::redis_link::RedisLink>,
    pub sentry_enabled: bool,
    /// None when rate limiting is switched off.
    pub limiter: Option<Arc<crate::ratelimit::RateLimiter>>,
    /// Connection and message caps for WebSocket clients.
    pub socket_limits: Arc<crate::socket_limits::SocketLimits>,
    /// The real-time hub: live events for this instance's sockets.
    pub hub: Arc<crate::realtime::Hub>,
}
