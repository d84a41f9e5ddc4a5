//! Limits for WebSocket clients, ready for the real-time hub: a cap on concurrent connections
//! per user, and a cap on the messages one connection may send per minute.
//!
//! The connection cap counts this instance's sockets (each instance enforces it on its own).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

#[derive(Debug)]
pub struct SocketLimits {
    max_per_user: usize,
    messages_per_minute: u32,
    open: Mutex<HashMap<String, usize>>,
}

/// One open connection of a user; dropping it frees the place.
#[derive(Debug)]
pub struct SocketPermit {
    limits: Arc<SocketLimits>,
    user: String,
}

impl SocketLimits {
    pub fn new(max_per_user: usize, messages_per_minute: u32) -> Arc<Self> {
        Arc::new(Self {
            max_per_user,
            messages_per_minute,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more connection of `user`, or None when they are at the cap.
    pub fn open(self: &Arc<Self>, user: &str) -> Option<SocketPermit> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(user.to_owned()).or_insert(0);
        if *count >= self.max_per_user {
            metrics::counter!("ws_connections_refused_total").increment(1);
            return None;
        }
        *count += 1;
        Some(SocketPermit {
            limits: Arc::clone(self),
            user: user.to_owned(),
        })
    }

    /// Open connections of `user` on this instance.
    pub fn open_for(&self, user: &str) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(user)
            .copied()
            .unwrap_or(0)
    }

    /// A fresh message budget for one connection: check it before handling each message.
    pub fn message_limiter(&self) -> DefaultDirectRateLimiter {
        RateLimiter::direct(Quota::per_minute(
            NonZeroU32::new(self.messages_per_minute.max(1)).expect("at least 1"),
        ))
    }
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        let mut open = self
            .limits
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_the_cap_and_a_closed_socket_frees_its_place() {
        let limits = SocketLimits::new(2, 60);
        let first = limits.open("user:a").unwrap();
        let _second = limits.open("user:a").unwrap();
        assert!(limits.open("user:a").is_none());
        assert!(limits.open("user:b").is_some(), "caps are per user");
        drop(first);
        assert_eq!(limits.open_for("user:a"), 1);
        assert!(limits.open("user:a").is_some());
    }

    #[test]
    fn a_connection_may_send_its_budget_of_messages_then_is_refused() {
        let limits = SocketLimits::new(1, 3);
        let budget = limits.message_limiter();
        assert!((0..3).all(|_| budget.check().is_ok()));
        assert!(budget.check().is_err());
    }
}
