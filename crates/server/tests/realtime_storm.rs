//! A forced disconnect and the reconnection storm after it: every socket is closed by a
//! server stop, changes are committed while they are away, and all of them reconnect at
//! once with `since`. Each must end up with every event once, in order.

mod common;

use std::time::Duration;

use axum::Router;
use common::TestServer;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const SOCKETS: usize = 200;
const SETTINGS: [(&str, &str); 3] = [
    ("STEELYARD_WS_MAX_CONNECTIONS_PER_USER", "1000"),
    ("STEELYARD_RATE_LIMIT_MODERATE_PER_MIN", "100000"),
    ("STEELYARD_RATE_LIMIT_RELAXED_PER_MIN", "100000"),
];

async fn next(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.ok()?? {
            Ok(Message::Text(text)) => return serde_json::from_str(text.as_str()).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// A socket following `org`, resumed after `since`; returns it with the replayed seqs.
async fn follow(base: &str, token: &str, since: Option<i64>) -> (Ws, Vec<i64>) {
    let (mut ws, _) = connect_async(format!("{}/api/v1/ws", base.replacen("http", "ws", 1)))
        .await
        .unwrap();
    let mut subscribe = json!({"type": "subscribe", "topic": "org"});
    if let Some(since) = since {
        subscribe["since"] = json!(since);
    }
    for message in [json!({"type": "auth", "token": token}), subscribe] {
        ws.send(Message::text(message.to_string())).await.unwrap();
    }
    let mut replayed = Vec::new();
    loop {
        let frame = next(&mut ws, Duration::from_secs(20))
            .await
            .expect("an answer");
        match frame["type"].as_str() {
            Some("subscribed") => return (ws, replayed),
            Some("event") => replayed.push(frame["seq"].as_i64().unwrap()),
            _ => {}
        }
    }
}

/// Up to `want` live event seqs.
async fn live(ws: &mut Ws, want: usize) -> Vec<i64> {
    let mut got = Vec::new();
    while got.len() < want {
        let Some(frame) = next(ws, Duration::from_secs(20)).await else {
            break;
        };
        if frame["type"] == "event" {
            got.push(frame["seq"].as_i64().unwrap());
        }
    }
    got
}

async fn rename(server: &TestServer, org: &str, n: usize) {
    let path = format!("/api/v1/organizations/{org}");
    let response = server
        .request(reqwest::Method::PATCH, &path)
        .header("if-match", "*")
        .json(&json!({"name": format!("Storm Co {n}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn every_socket_resumes_after_a_restart_without_a_gap_or_a_duplicate() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let database = steelyard_store::testing::TestDatabase::new().await;
    let server = TestServer::start_listening(database, &SETTINGS, Router::new(), listener).await;
    let org = server.create_org("Storm Co").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A platform-level administrator's sockets follow the oldest (and only) organization.
    let token = server.token.clone();
    let base = server.base.clone();
    let mut sockets = Vec::new();
    for _ in 0..SOCKETS {
        sockets.push(follow(&base, &token, None).await.0);
    }
    for n in 0..3 {
        rename(&server, &org, n).await;
    }
    let before = futures::future::join_all(sockets.iter_mut().map(|ws| live(ws, 3))).await;
    let first = before[0].clone();
    assert!(
        before.iter().all(|got| *got == first),
        "every socket saw the same three"
    );

    // Forced disconnect: the server goes; changes land meanwhile through another instance.
    let database = server.stop().await;
    let closed = futures::future::join_all(
        sockets
            .iter_mut()
            .map(|ws| next(ws, Duration::from_secs(10))),
    )
    .await;
    assert!(
        closed.iter().all(Option::is_none),
        "every socket was closed"
    );
    let elsewhere = TestServer::start_on(database, &SETTINGS, Router::new()).await;
    for n in 3..8 {
        rename(&elsewhere, &org, n).await;
    }
    let database = elsewhere.stop().await;

    // The storm: every client comes back at once on the same address, resuming.
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let server = TestServer::start_listening(database, &SETTINGS, Router::new(), listener).await;
    let last = *first.last().unwrap();
    let resumed =
        futures::future::join_all((0..SOCKETS).map(|_| follow(&base, &token, Some(last)))).await;
    let missed: Vec<i64> = (last + 1..=last + 5).collect();
    let mut sockets = Vec::new();
    for (ws, replayed) in resumed {
        assert_eq!(
            replayed, missed,
            "the five changes made while away, once, in order"
        );
        sockets.push(ws);
    }
    for n in 8..10 {
        rename(&server, &org, n).await;
    }
    let after = futures::future::join_all(sockets.iter_mut().map(|ws| live(ws, 2))).await;
    for got in after {
        assert_eq!(got, vec![last + 6, last + 7]);
    }
}
