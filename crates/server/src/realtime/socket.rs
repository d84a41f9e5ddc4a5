//! A socket's own traffic: the first message, which must authenticate; writes under the send
//! deadline, with a burst of frames fed to the socket's buffer and flushed together; and the
//! close frame that ends a connection.

use std::future::poll_fn;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::SinkExt;
use tokio::time::Sleep;

use super::protocol::ClientMessage;

/// The send deadline outside a connection's task (each connection runs with its own).
const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);

tokio::task_local! {
    /// How long one write may take on this connection's task (the hub's `send_timeout`).
    pub(super) static SEND_TIMEOUT: Duration;
}

/// Why a connection ended, as the close frame tells the client.
pub(super) struct Closing(pub(super) u16, pub(super) &'static str);

/// Waits for the first message, which must authenticate.
pub(super) async fn first_auth(
    socket: &mut WebSocket,
    wait: Duration,
) -> Option<(String, Option<bool>)> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) => return refused("no auth message in time"),
            Ok(None) => return refused("the socket closed"),
            Ok(Some(Err(error))) => {
                tracing::debug!(%error, "a WebSocket failed before its auth message");
                return None;
            }
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                return match serde_json::from_str(text.as_str()) {
                    Ok(ClientMessage::Auth { token, batch }) => Some((token, batch)),
                    _ => refused("the first message is not an auth message"),
                };
            }
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Binary(_) => return refused("a binary message before auth"),
            Message::Close(_) => return refused("the socket closed"),
        }
    }
}

/// Why a socket is closed before it authenticated, for whoever debugs a client.
fn refused<T>(reason: &'static str) -> Option<T> {
    tracing::debug!(reason, "a WebSocket did not authenticate");
    None
}

pub(super) async fn close_with(socket: &mut WebSocket, Closing(code, reason): Closing) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = send_message(socket, Message::Close(Some(frame))).await;
}

pub(super) async fn send(socket: &mut WebSocket, frame: Utf8Bytes) -> bool {
    send_message(socket, Message::Text(frame)).await
}

/// Writes and flushes one message.
pub(super) async fn send_message(socket: &mut WebSocket, message: Message) -> bool {
    within_deadline(socket.send(message)).await
}

/// Frames as separate text frames, fed to the socket's buffer and flushed once: a burst
/// costs one write per buffer's worth instead of one per frame, and its client one read.
pub(super) async fn send_all(socket: &mut WebSocket, frames: Vec<Utf8Bytes>) -> bool {
    for frame in frames {
        if !feed(socket, frame).await {
            return false;
        }
    }
    flush(socket).await
}

/// Adds a text frame to the socket's buffer, which is written out when it exceeds the
/// socket's write buffer size or at the next [`flush`].
pub(super) async fn feed(socket: &mut WebSocket, frame: Utf8Bytes) -> bool {
    within_deadline(socket.feed(Message::Text(frame))).await
}

/// Writes out what [`feed`] left in the socket's buffer.
pub(super) async fn flush(socket: &mut WebSocket) -> bool {
    within_deadline(socket.flush()).await
}

/// Runs one write with the send deadline: a peer that stopped reading must not hold the task
/// forever. The timer is armed only when the write does not finish on its first poll; a write
/// to a socket with room finishes at once, and then costs no clock read, no clone of the
/// runtime's handle and no timer.
async fn within_deadline<E>(write: impl Future<Output = Result<(), E>>) -> bool {
    let wait = SEND_TIMEOUT
        .try_with(|wait| *wait)
        .unwrap_or(DEFAULT_SEND_TIMEOUT);
    let mut write = pin!(write);
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    poll_fn(|cx| {
        if let Poll::Ready(written) = write.as_mut().poll(cx) {
            return Poll::Ready(written.is_ok());
        }
        timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(wait)))
            .as_mut()
            .poll(cx)
            .map(|()| false)
    })
    .await
}
