//! One WebSocket connection: authenticate, follow topics with optional resume, deliver live
//! events the caller may see, keep the connection healthy, and close with a clear code.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use governor::DefaultDirectRateLimiter;
use steelyard_domain::realtime::{may_see, parse_topic};
use uuid::Uuid;

use super::hub::Joined;
use super::protocol::{self, ClientMessage, LiveEvent, close};
use super::socket::{Closing, SEND_TIMEOUT, close_with, first_auth, send, send_all, send_message};
use super::{Hub, RealtimeSettings, WRITE_BUFFER};
use crate::auth::{Identity, authenticate};
use crate::state::AppState;

mod subscribing;

/// Events read per query while replaying a resumed subscription.
const REPLAY_PAGE: u32 = 500;
/// Most events merged into one `batch` frame.
const MAX_BATCH: usize = 256;
/// Most events one resume may replay; further back, the client must reload instead.
pub const MAX_REPLAY: i64 = 10_000;
/// Most topics one socket may follow.
const MAX_SUBSCRIPTIONS: usize = 100;
/// How often an open socket's token is checked again, so a revoked token, a closed session
/// or a disabled user stops the socket within this time, whatever the token's expiry.
const RECHECK: Duration = Duration::from_secs(60);

/// The topics a path subscribes to by itself, and a token from `Sec-WebSocket-Protocol`.
#[derive(Debug, Default)]
pub struct Opening {
    pub topics: Vec<String>,
    pub token: Option<String>,
}

struct Connection {
    socket: WebSocket,
    state: AppState,
    hub: Arc<Hub>,
    settings: RealtimeSettings,
    identity: Identity,
    /// The token in force, checked again every [`RECHECK`] (revocation, logout, disabling).
    token: String,
    org_id: Uuid,
    /// Topic → the newest seq already handled for it (delivered or not visible).
    subscriptions: HashMap<String, i64>,
    batch: bool,
    limiter: DefaultDirectRateLimiter,
    last_heard: Instant,
    /// `ws_messages_sent_total` and `ws_commit_to_send_seconds`, looked up once: the
    /// `counter!` and `histogram!` macros search the recorder's registry on every call.
    messages_sent: metrics::Counter,
    commit_to_send: metrics::Histogram,
}

/// Runs a connection to its end.
pub async fn run(socket: WebSocket, state: AppState, hub: Arc<Hub>, opening: Opening) {
    let send_timeout = hub.settings().send_timeout;
    SEND_TIMEOUT
        .scope(send_timeout, run_connection(socket, state, hub, opening))
        .await;
}

async fn run_connection(mut socket: WebSocket, state: AppState, hub: Arc<Hub>, opening: Opening) {
    let settings = hub.settings();
    let limiter = state.socket_limits.message_limiter();
    let first = match opening.token {
        Some(token) => Some((token, None)),
        None => first_auth(&mut socket, settings.auth_timeout).await,
    };
    let Some((token, batch)) = first else {
        return close_with(
            &mut socket,
            Closing(close::UNAUTHORIZED, "authenticate first"),
        )
        .await;
    };
    let identity = match authenticate_socket(&state, &token).await {
        Ok(identity) => identity,
        Err(AuthFailure::Refused) => {
            return close_with(&mut socket, Closing(close::UNAUTHORIZED, "invalid token")).await;
        }
        Err(AuthFailure::Unavailable) => {
            return close_with(&mut socket, Closing(close::TRY_AGAIN, "try again later")).await;
        }
    };
    let Some(org_id) = identity.actor.acting_org else {
        return close_with(
            &mut socket,
            Closing(close::UNAUTHORIZED, "pick an organization first"),
        )
        .await;
    };
    let Some(_permit) = state.socket_limits.open(&identity.actor.subject) else {
        return close_with(
            &mut socket,
            Closing(close::TOO_MANY_CONNECTIONS, "too many connections"),
        )
        .await;
    };
    let joined = match hub.join(org_id).await {
        Ok(joined) => joined,
        Err(error) => {
            tracing::warn!(%error, "cannot join the event stream");
            return close_with(&mut socket, Closing(close::TRY_AGAIN, "try again later")).await;
        }
    };
    let frame = protocol::authenticated(identity.actor.user_id, org_id, identity.expires_at);
    if !send(&mut socket, frame).await {
        return;
    }
    metrics::gauge!("ws_connections").increment(1.0);
    let mut connection = Connection {
        socket,
        state,
        hub,
        settings,
        identity,
        token,
        org_id,
        subscriptions: HashMap::new(),
        batch: batch.unwrap_or(false),
        limiter,
        last_heard: Instant::now(),
        messages_sent: metrics::counter!("ws_messages_sent_total"),
        commit_to_send: metrics::histogram!("ws_commit_to_send_seconds"),
    };
    let outcome = connection.serve(joined, opening.topics).await;
    metrics::gauge!("ws_connections").decrement(1.0);
    metrics::gauge!("ws_subscriptions").decrement(connection.subscriptions.len() as f64);
    if let Some(closing) = outcome {
        close_with(&mut connection.socket, closing).await;
    }
}

/// Why a token did not authenticate a socket.
enum AuthFailure {
    /// The token is bad, expired, revoked, or its user disabled: sign in again.
    Refused,
    /// The database could not be asked: the token may be fine; try again later.
    Unavailable,
}

/// Authenticates a socket's token. A super-admin who has not picked an organization
/// follows the oldest active one (switching organization picks another).
async fn authenticate_socket(state: &AppState, token: &str) -> Result<Identity, AuthFailure> {
    let mut identity = authenticate(state, token).await.map_err(|problem| {
        if problem.status_code().is_server_error() {
            AuthFailure::Unavailable
        } else {
            AuthFailure::Refused
        }
    })?;
    if identity.actor.acting_org.is_none() && identity.actor.is_super_admin() {
        identity.actor.acting_org = steelyard_store::organizations::oldest_active(&state.app.db)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "cannot read organizations");
                AuthFailure::Unavailable
            })?;
    }
    Ok(identity)
}

impl Connection {
    /// The connection's main loop; returns how to close, or None when the peer is gone.
    async fn serve(&mut self, mut joined: Joined, topics: Vec<String>) -> Option<Closing> {
        for topic in topics {
            self.subscribe(&topic, None).await?;
        }
        let mut heartbeat = tokio::time::interval(self.settings.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let mut recheck = tokio::time::interval(RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        recheck.tick().await;
        let mut closing = self.hub.closing();
        if *closing.borrow_and_update() {
            return Some(Closing(
                close::GOING_AWAY,
                "server shutting down: reconnect and resume",
            ));
        }
        // Made once and polled on every turn rather than made per turn: a new sleep takes the
        // runtime's one timer-wheel lock to enter the wheel and again to leave it, and a new
        // `notified` or `changed` takes its waiter list's lock to leave it, per event.
        let overflow = Arc::clone(&joined.overflowed);
        let mut overflowed = pin!(overflow.notified());
        let mut shutdown = pin!(closing.changed());
        let mut expires_at = self.identity.expires_at;
        let mut expiry = pin!(sleep_until(self.expiry()));
        loop {
            // Biased: the hub notifies an overflow before it drops the listener's queue, so
            // checking it first means a drained, dropped queue always closes as too slow.
            tokio::select! {
                biased;
                () = overflowed.as_mut() => {
                    return Some(Closing(close::SLOW_CONSUMER, "too slow: reconnect and resume"));
                }
                incoming = self.socket.recv() => {
                    let message = incoming?.ok()?;
                    self.last_heard = Instant::now();
                    self.on_message(message).await?;
                    if self.identity.expires_at != expires_at {
                        // A fresh token: a new expiry.
                        expires_at = self.identity.expires_at;
                        expiry.set(sleep_until(self.expiry()));
                    }
                }
                event = joined.events.recv() => {
                    let event = event?;
                    self.deliver(event, &mut joined).await?;
                }
                _ = heartbeat.tick() => {
                    if self.last_heard.elapsed() > self.settings.heartbeat * 2 {
                        metrics::counter!("ws_heartbeat_timeouts_total").increment(1);
                        return None; // dead peer: nobody to tell
                    }
                    if !send_message(&mut self.socket, Message::Ping(Default::default())).await {
                        return None;
                    }
                }
                // The only change there is: the server began shutting down.
                _ = shutdown.as_mut() => {
                    return Some(Closing(close::GOING_AWAY, "server shutting down: reconnect and resume"));
                }
                _ = recheck.tick() => {
                    if let Err(AuthFailure::Refused) = authenticate_socket(&self.state, &self.token).await {
                        return Some(Closing(close::UNAUTHORIZED, "signed out or revoked"));
                    }
                    // The expiry is a wall-clock time: follow the clock if it was stepped.
                    expiry.set(sleep_until(self.expiry()));
                }
                () = expiry.as_mut() => {
                    return Some(Closing(close::TOKEN_EXPIRED, "token expired: authenticate again"));
                }
            }
        }
    }

    fn expiry(&self) -> Option<tokio::time::Instant> {
        let expires_at = self.identity.expires_at?;
        let left = expires_at - chrono::Utc::now().timestamp();
        Some(tokio::time::Instant::now() + Duration::from_secs(left.max(0).unsigned_abs()))
    }

    /// Handles one client message; None ends the connection.
    async fn on_message(&mut self, message: Message) -> Option<()> {
        let text = match message {
            Message::Close(_) => return None,
            Message::Ping(_) | Message::Pong(_) => return Some(()),
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
        };
        if self.limiter.check().is_err() {
            metrics::counter!("ws_messages_refused_total").increment(1);
            let _ = self
                .reply(protocol::error(
                    "too_many_messages",
                    "message limit reached",
                    None,
                ))
                .await;
            close_with(
                &mut self.socket,
                Closing(close::TOO_MANY_MESSAGES, "too many messages"),
            )
            .await;
            return None;
        }
        let Some(text) = text else {
            let frame = protocol::error("bad_message", "send JSON text frames", None);
            return self.reply(frame).await;
        };
        match serde_json::from_str::<ClientMessage>(text.as_str()) {
            Ok(ClientMessage::Auth { token, batch }) => self.reauthenticate(&token, batch).await,
            Ok(ClientMessage::Subscribe { topic, since }) => self.subscribe(&topic, since).await,
            Ok(ClientMessage::Unsubscribe { topic }) => {
                let topic = parse_topic(&topic).unwrap_or(topic);
                if self.subscriptions.remove(&topic).is_some() {
                    metrics::gauge!("ws_subscriptions").decrement(1.0);
                }
                self.reply(protocol::unsubscribed(&topic)).await
            }
            Ok(ClientMessage::Ping) => self.reply(protocol::pong()).await,
            Err(error) => {
                let message = format!("not a message this server understands: {error}");
                let frame = protocol::error("bad_message", &message, None);
                self.reply(frame).await
            }
        }
    }

    async fn reply(&mut self, frame: Utf8Bytes) -> Option<()> {
        send(&mut self.socket, frame).await.then_some(())
    }

    /// A fresh token on the open socket: same user and organization, new expiry and
    /// permissions.
    async fn reauthenticate(&mut self, token: &str, batch: Option<bool>) -> Option<()> {
        let identity = match authenticate_socket(&self.state, token).await {
            Ok(identity) => identity,
            Err(AuthFailure::Refused) => {
                let frame = protocol::error("invalid_token", "the token was not accepted", None);
                return self.reply(frame).await;
            }
            Err(AuthFailure::Unavailable) => {
                let frame = protocol::error("unavailable", "try again", None);
                return self.reply(frame).await;
            }
        };
        if identity.actor.user_id != self.identity.actor.user_id
            || identity.actor.acting_org != Some(self.org_id)
        {
            let frame = protocol::error(
                "identity_changed",
                "a socket keeps its user and organization; open a new one",
                None,
            );
            return self.reply(frame).await;
        }
        if let Some(batch) = batch {
            self.batch = batch;
        }
        self.identity = identity;
        token.clone_into(&mut self.token);
        let frame = protocol::authenticated(
            self.identity.actor.user_id,
            self.org_id,
            self.identity.expires_at,
        );
        self.reply(frame).await
    }

    fn visible(&self, event: &LiveEvent) -> bool {
        may_see(
            &self.identity.actor,
            event.org_id,
            &event.aggregate_type,
            &event.data,
        )
    }

    /// The frames of `event` for this connection's subscriptions, advancing their cursors;
    /// returns their size in bytes.
    fn frames_of(&mut self, event: &LiveEvent, frames: &mut Vec<Utf8Bytes>) -> usize {
        let mut visible = None;
        let mut bytes = 0;
        let actor = &self.identity.actor;
        for (topic, cursor) in &mut self.subscriptions {
            if event.seq <= *cursor {
                continue;
            }
            *cursor = event.seq;
            if let Some(frame) = event.frame(topic)
                && *visible.get_or_insert_with(|| {
                    may_see(actor, event.org_id, &event.aggregate_type, &event.data)
                })
            {
                bytes += frame.len();
                frames.push(frame.clone());
            }
        }
        bytes
    }

    /// Delivers a live event together with whatever else is already queued: with batching
    /// on as one `batch` frame, otherwise as separate frames written out together, so that a
    /// socket that fell behind catches up in one write (and its client in one read) instead
    /// of one per event. Order, cursors and frames are the same as event by event.
    async fn deliver(&mut self, event: Arc<LiveEvent>, joined: &mut Joined) -> Option<()> {
        let mut frames = Vec::new();
        let committed = event.committed_at;
        let mut bytes = self.frames_of(&event, &mut frames);
        // Separate frames: about what the socket writes in one go.
        let budget = if self.batch { usize::MAX } else { WRITE_BUFFER };
        while frames.len() < MAX_BATCH && bytes < budget {
            let Ok(next) = joined.events.try_recv() else {
                break;
            };
            bytes += self.frames_of(&next, &mut frames);
        }
        if frames.is_empty() {
            return Some(());
        }
        let sent = frames.len() as u64;
        let ok = if self.batch && frames.len() > 1 {
            send(&mut self.socket, protocol::batch(&frames)).await
        } else {
            send_all(&mut self.socket, frames).await
        };
        if ok {
            self.messages_sent.increment(sent);
            // One sample per write: the time from the commit of its oldest event.
            let latency = (chrono::Utc::now() - committed)
                .num_microseconds()
                .unwrap_or(0);
            self.commit_to_send.record(latency as f64 / 1e6);
        }
        ok.then_some(())
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
