//! The connection to Redis, when configured. The server starts and serves without it: a
//! background task connects (and the manager reconnects) whenever Redis is reachable.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::RwLock;

#[derive(Clone, Default)]
pub struct RedisLink {
    manager: Arc<RwLock<Option<ConnectionManager>>>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisLink")
    }
}

impl RedisLink {
    /// Starts connecting in the background; returns at once.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let link = Self::default();
        let slot = link.manager.clone();
        tokio::spawn(async move {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Duration::from_secs(1))
                .set_response_timeout(Duration::from_secs(1))
                .set_number_of_retries(2);
            loop {
                match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
                    Ok(manager) => {
                        *slot.write().await = Some(manager);
                        tracing::info!("connected to Redis");
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "Redis unreachable; retrying in 2 s");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        });
        Ok(link)
    }

    pub async fn manager(&self) -> Option<ConnectionManager> {
        self.manager.read().await.clone()
    }

    /// One PING with a short timeout.
    pub async fn ping(&self) -> Result<(), String> {
        let mut manager = self.manager().await.ok_or("not connected")?;
        let command = redis::cmd("PING");
        let pong = tokio::time::timeout(
            Duration::from_secs(2),
            command.query_async::<String>(&mut manager),
        );
        match pong.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".into()),
        }
    }
}
