//! WebSocket clients for the real-time tests: connect, send, and read frames with a deadline.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use super::TestServer;

pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub fn ws_url(server: &TestServer, path: &str) -> String {
    format!("{}{path}", server.base.replacen("http://", "ws://", 1))
}

pub async fn connect(server: &TestServer, path: &str) -> Ws {
    connect_async(ws_url(server, path)).await.unwrap().0
}

pub async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

/// The next JSON frame, or None on timeout or close.
pub async fn next_frame(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        match message.ok()? {
            Message::Text(text) => return serde_json::from_str(text.as_str()).ok(),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// The close code the server ends the socket with (None on timeout).
pub async fn close_code(ws: &mut Ws, wait: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.ok()? {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            _ => return None,
        }
    }
}

/// Up to `want` event frames (batches unpacked), waiting at most `wait` in all.
pub async fn events(ws: &mut Ws, want: usize, wait: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut got = Vec::new();
    while got.len() < want {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(frame) = next_frame(ws, left).await else {
            break;
        };
        match frame["type"].as_str() {
            Some("event") => got.push(frame),
            Some("batch") => got.extend(frame["events"].as_array().unwrap().iter().cloned()),
            _ => {}
        }
    }
    got
}

/// A socket authenticated with `token` and subscribed to `topic`; returns the socket and
/// the `subscribed` answer.
pub async fn subscribed(
    server: &TestServer,
    token: &str,
    topic: &str,
    since: Option<i64>,
) -> (Ws, Value) {
    let mut ws = connect(server, "/api/v1/ws").await;
    send(&mut ws, json!({"type": "auth", "token": token})).await;
    let hello = next_frame(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(hello["type"], "authenticated", "{hello}");
    let mut subscribe = json!({"type": "subscribe", "topic": topic});
    if let Some(since) = since {
        subscribe["since"] = json!(since);
    }
    send(&mut ws, subscribe).await;
    // Replayed events come before the `subscribed` answer; keep them for the caller.
    loop {
        let frame = next_frame(&mut ws, Duration::from_secs(5)).await.unwrap();
        if frame["type"] == "subscribed" {
            return (ws, frame);
        }
        assert_eq!(frame["type"], "event", "{frame}");
    }
}

pub async fn rename_org(server: &TestServer, token: &str, org_id: &str, name: &str) {
    let path = format!("/api/v1/organizations/{org_id}");
    let current = server
        .client
        .get(server.url(&path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let etag = current.headers()["etag"].to_str().unwrap().to_owned();
    let response = server
        .client
        .patch(server.url(&path))
        .bearer_auth(token)
        .header("if-match", etag)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

pub async fn create(server: &TestServer, path: &str, body: Value) -> Value {
    let response = server.post(path, body).send().await.unwrap();
    assert_eq!(response.status(), 201, "{path}");
    response.json().await.unwrap()
}

pub const WAIT: Duration = Duration::from_secs(5);
pub const QUIET: Duration = Duration::from_millis(600);
