//! The connection to Redis, when configured. The server starts and serves without it: a
//! background task connects whenever Redis is reachable, and a caller that sees the connection
//! fail hands it back with [`RedisLink::reset`], which drops it and connects afresh. This does
//! not rely on the client's own reconnect rules, which can leave a dead connection in place.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::RwLock;

#[derive(Clone)]
pub struct RedisLink {
    client: redis::Client,
    manager: Arc<RwLock<Option<ConnectionManager>>>,
    connecting: Arc<AtomicBool>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisLink")
    }
}

impl RedisLink {
    /// Starts connecting in the background; returns at once.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let link = Self {
            client: redis::Client::open(url)?,
            manager: Arc::default(),
            connecting: Arc::default(),
        };
        link.spawn_connect();
        Ok(link)
    }

    fn spawn_connect(&self) {
        if self.connecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let link = self.clone();
        tokio::spawn(async move {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Duration::from_secs(1))
                .set_response_timeout(Duration::from_secs(1))
                .set_number_of_retries(1);
            let mut warned = false;
            loop {
                match ConnectionManager::new_with_config(link.client.clone(), config.clone()).await
                {
                    Ok(manager) => {
                        *link.manager.write().await = Some(manager);
                        link.connecting.store(false, Ordering::Release);
                        tracing::info!("connected to Redis");
                        return;
                    }
                    Err(error) => {
                        if !warned {
                            tracing::warn!(%error, "Redis unreachable; retrying every second");
                            warned = true;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }

    /// The connection, if one is up.
    pub async fn manager(&self) -> Option<ConnectionManager> {
        self.manager.read().await.clone()
    }

    /// Drops a connection that failed and starts connecting afresh in the background.
    pub async fn reset(&self) {
        if self.manager.write().await.take().is_some() {
            tracing::warn!("Redis connection failed; reconnecting");
        }
        self.spawn_connect();
    }

    /// One PING with a short timeout; a failure resets the connection.
    pub async fn ping(&self) -> Result<(), String> {
        let mut manager = self.manager().await.ok_or("not connected")?;
        let command = redis::cmd("PING");
        let pong = tokio::time::timeout(
            Duration::from_secs(2),
            command.query_async::<String>(&mut manager),
        );
        let result = match pong.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".into()),
        };
        if result.is_err() {
            self.reset().await;
        }
        result
    }
}
