//! The state every handler shares: the services' app, the configuration, keys and metrics.

use std::sync::Arc;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;
use steelyard_services::App;

use crate::auth::Keys;
use crate::config::Config;

#[derive(Clone, Debug)]
pub struct AppState {
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
