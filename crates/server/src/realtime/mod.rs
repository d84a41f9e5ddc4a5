//! Real-time updates: committed events pushed to WebSocket clients, on one instance or many
//! (through Redis), with resume from a seq so a client that reconnects misses nothing.
//! The protocol is in docs/realtime.md.

pub mod connection;
pub mod hub;
pub mod protocol;
pub mod redis_bus;
mod socket;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

pub use hub::Hub;

use crate::problem::Problem;
use crate::state::AppState;

/// The subprotocol the server selects when a client authenticates in
/// `Sec-WebSocket-Protocol` (`["steelyard.v1", "bearer.<token>"]`).
pub const SUBPROTOCOL: &str = "steelyard.v1";
const BEARER_PROTOCOL_PREFIX: &str = "bearer.";

/// How often every organization stream reads the events table for anything missed.
const CATCH_UP_EVERY: Duration = Duration::from_secs(5);
/// What a socket buffers before writing to the network; a burst of separate frames goes out
/// in writes of about this size.
const WRITE_BUFFER: usize = 8 * 1024;

/// The dependency-free browser client, served at [`CLIENT_PATH`].
pub const CLIENT_JS: &str = include_str!("client.js");
pub const CLIENT_PATH: &str = "/assets/steelyard-realtime.js";

/// Tunables of the hub (defaults suit production; tests shorten them).
#[derive(Debug, Clone, Copy)]
pub struct RealtimeSettings {
    /// Pings go out this often; a peer silent for two intervals is dropped.
    pub heartbeat: Duration,
    /// Events queued per connection before it counts as a slow consumer.
    pub queue_capacity: usize,
    /// How long a new socket has to authenticate.
    pub auth_timeout: Duration,
    /// How long one write may take; a peer that reads nothing for this long is dropped.
    pub send_timeout: Duration,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(20),
            queue_capacity: 1024,
            auth_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// Feeds this instance's committed events to the hub (and to Redis for the other
/// instances), and other instances' events from Redis to the hub.
pub fn start(state: &AppState) {
    let hub = Arc::clone(&state.hub);
    let mut local = state.app.db.bus().subscribe();
    let publisher = state
        .config
        .redis_url
        .as_deref()
        .and_then(|url| redis_bus::start(url, Arc::clone(&hub)));
    // A safety net for events no bus announced (a lost Redis message in a quiet
    // organization, a change made by the CLI): every stream checks the table now and then.
    let sweeper = Arc::clone(&hub);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CATCH_UP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            sweeper.catch_up().await;
        }
    });
    tokio::spawn(async move {
        loop {
            match local.recv().await {
                Ok(event) => {
                    hub.offer(&event);
                    if let Some(publisher) = &publisher {
                        publisher.publish(event);
                    }
                }
                // Missed events are read back from the events table by the hub's gap fill.
                Err(RecvError::Lagged(missed)) => {
                    metrics::counter!("ws_bus_lagged_total").increment(missed);
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// The socket endpoints: the multiplexed one and the source documents' pre-subscribed paths.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/ws", get(multiplexed))
        .route("/api/v1/ws/updates", get(updates))
        .route("/api/v1/ws/shop-floor/{work_center_id}", get(shop_floor))
        .route("/api/v1/ws/work-order/{work_order_id}", get(work_order))
        .route(CLIENT_PATH, get(client_js))
}

type Upgrade = Result<WebSocketUpgrade, WebSocketUpgradeRejection>;

async fn multiplexed(State(state): State<AppState>, headers: HeaderMap, ws: Upgrade) -> Response {
    open(state, &headers, ws, Vec::new())
}

async fn updates(State(state): State<AppState>, headers: HeaderMap, ws: Upgrade) -> Response {
    open(state, &headers, ws, vec!["org".to_owned()])
}

async fn shop_floor(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    open(state, &headers, ws, vec![format!("work_center:{id}")])
}

async fn work_order(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    open(state, &headers, ws, vec![format!("work_order:{id}")])
}

async fn client_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        CLIENT_JS,
    )
        .into_response()
}

fn open(state: AppState, headers: &HeaderMap, ws: Upgrade, topics: Vec<String>) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(_) => {
            return Problem::new(
                StatusCode::UPGRADE_REQUIRED,
                "upgrade-required",
                "this is a WebSocket endpoint; the protocol is in docs/realtime.md",
            )
            .into_response();
        }
    };
    let token = bearer_protocol(headers);
    // Small buffers: the defaults (128 KiB to read per socket) would cost gigabytes at tens
    // of thousands of sockets; client messages are small and events are written whole.
    ws.protocols([SUBPROTOCOL])
        .read_buffer_size(4 * 1024)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| {
            let hub = Arc::clone(&state.hub);
            connection::run(socket, state, hub, connection::Opening { topics, token })
        })
}

/// A token offered as the `bearer.<token>` subprotocol.
fn bearer_protocol(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .find_map(|protocol| protocol.strip_prefix(BEARER_PROTOCOL_PREFIX))
        .map(str::to_owned)
}
