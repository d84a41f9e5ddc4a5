//! The bus between instances: each instance publishes its committed events to a Redis
//! channel and feeds the other instances' events to its hub.
//!
//! Redis pub/sub forgets what it could not deliver, so nothing here is trusted to be
//! complete: the hub fills any seq gap from the events table, and after a lost link every
//! stream catches up with the table once the link is back.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use steelyard_domain::event::EventRecord;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Hub;

/// The channel every instance publishes to and listens on.
pub const CHANNEL: &str = "steelyard:events";
/// Events waiting to be published; past this they are dropped (and recovered by gap fill).
const PUBLISH_QUEUE: usize = 16_384;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The publishing instance, which skips its own events (it delivered them already).
    instance: Uuid,
    event: EventRecord,
}

/// Publishes this instance's events.
#[derive(Debug, Clone)]
pub struct Publisher {
    queue: mpsc::Sender<Arc<EventRecord>>,
}

impl Publisher {
    pub fn publish(&self, event: Arc<EventRecord>) {
        if self.queue.try_send(event).is_err() {
            metrics::counter!("ws_redis_publish_dropped_total").increment(1);
        }
    }
}

/// Starts publishing to and listening on Redis at `url`; None (with an error logged) when
/// the URL is unusable, which configuration checking rules out in practice.
pub fn start(url: &str, hub: Arc<Hub>) -> Option<Publisher> {
    let client = match redis::Client::open(url) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "the Redis URL is unusable; real-time stays on this instance");
            return None;
        }
    };
    let instance = steelyard_domain::new_id();
    let (queue, pending) = mpsc::channel(PUBLISH_QUEUE);
    tokio::spawn(publish_loop(client.clone(), instance, pending));
    tokio::spawn(listen_loop(client, instance, hub));
    Some(Publisher { queue })
}

async fn publish_loop(
    client: redis::Client,
    instance: Uuid,
    mut pending: mpsc::Receiver<Arc<EventRecord>>,
) {
    let mut connection = None;
    while let Some(event) = pending.recv().await {
        let payload = match serde_json::to_string(&Envelope {
            instance,
            event: (*event).clone(),
        }) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(%error, "cannot serialize an event for Redis");
                continue;
            }
        };
        if connection.is_none() {
            connection = connect(&client).await;
        }
        let Some(link) = connection.as_mut() else {
            metrics::counter!("ws_redis_publish_dropped_total").increment(1);
            continue;
        };
        let sent = tokio::time::timeout(
            Duration::from_secs(2),
            redis::cmd("PUBLISH")
                .arg(CHANNEL)
                .arg(&payload)
                .query_async::<i64>(link),
        )
        .await;
        if !matches!(sent, Ok(Ok(_))) {
            metrics::counter!("ws_redis_publish_dropped_total").increment(1);
            tracing::warn!("cannot publish an event to Redis; other instances will fill the gap");
            connection = None;
        }
    }
}

async fn connect(client: &redis::Client) -> Option<redis::aio::MultiplexedConnection> {
    match tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await
    {
        Ok(Ok(connection)) => Some(connection),
        _ => None,
    }
}

async fn listen_loop(client: redis::Client, instance: Uuid, hub: Arc<Hub>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match subscribe(&client).await {
            Ok(mut pubsub) => {
                backoff = Duration::from_millis(100);
                metrics::gauge!("ws_redis_connected").set(1.0);
                // Whatever was committed elsewhere while the link was down.
                hub.catch_up().await;
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    let Ok(payload) = message.get_payload::<String>() else {
                        continue;
                    };
                    match serde_json::from_str::<Envelope>(&payload) {
                        Ok(envelope) if envelope.instance != instance => hub.offer(&envelope.event),
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "an unreadable event on Redis"),
                    }
                }
                metrics::gauge!("ws_redis_connected").set(0.0);
                tracing::warn!("lost the Redis event subscription; reconnecting");
            }
            Err(error) => {
                tracing::warn!(%error, "cannot subscribe to Redis events; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn subscribe(client: &redis::Client) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    Ok(pubsub)
}
