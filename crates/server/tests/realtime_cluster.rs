//! Two instances on one database and one Redis: sockets spread over both receive every
//! event they may see, once and in order, whichever instance committed it, and none they
//! may not; a socket that drops and resumes on the other instance misses nothing.
//!
//! Needs Redis (`TEST_REDIS_URL`); CI always sets it, and there a missing Redis fails.

mod common;

use std::time::Duration;

use axum::Router;
use common::TestServer;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use steelyard_store::testing::TestDatabase;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Sockets per instance; `STEELYARD_TEST_CLUSTER_SOCKETS` raises it for a larger run
/// (thousands need the open-files limit of both processes raised accordingly).
fn sockets_per_instance() -> usize {
    std::env::var("STEELYARD_TEST_CLUSTER_SOCKETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100)
}
const CHANGES: usize = 24;

fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TEST_REDIS_URL"
        );
        eprintln!("TEST_REDIS_URL is not set: the two-instance test did not run");
    }
    url
}

async fn instance(database: &TestDatabase, redis: &str) -> TestServer {
    let settings = [
        ("REDIS_URL", redis),
        ("STEELYARD_RATE_LIMIT_MODERATE_PER_MIN", "100000"),
        ("STEELYARD_RATE_LIMIT_RELAXED_PER_MIN", "100000"),
        ("STEELYARD_RATE_LIMIT_STRICT_PER_MIN", "1000"),
        ("STEELYARD_WS_MAX_CONNECTIONS_PER_USER", "100000"),
        // The test reads no socket while it opens the others, so it answers no ping; with
        // thousands of sockets that takes longer than two default heartbeats.
        ("STEELYARD_WS_HEARTBEAT_SECS", "600"),
    ];
    TestServer::start_on(database.share(), &settings, Router::new()).await
}

/// A socket subscribed to `org`; returns it, the `subscribed` seq, and the replayed seqs.
async fn open(server: &TestServer, token: &str, since: Option<i64>) -> (Ws, i64, Vec<i64>) {
    let url = format!("{}/api/v1/ws", server.base.replacen("http", "ws", 1));
    let (mut ws, _) = connect_async(url).await.unwrap();
    let mut subscribe = json!({"type": "subscribe", "topic": "org"});
    if let Some(since) = since {
        subscribe["since"] = json!(since);
    }
    for message in [json!({"type": "auth", "token": token}), subscribe] {
        ws.send(Message::text(message.to_string())).await.unwrap();
    }
    let mut replayed = Vec::new();
    loop {
        let frame = next(&mut ws, Duration::from_secs(10))
            .await
            .expect("an answer");
        match frame["type"].as_str() {
            Some("subscribed") => return (ws, frame["seq"].as_i64().unwrap(), replayed),
            Some("event") => replayed.push(frame["seq"].as_i64().unwrap()),
            Some("authenticated") => {}
            _ => panic!("unexpected {frame}"),
        }
    }
}

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

/// The seqs a socket receives until it has `want` or goes quiet.
async fn seqs(mut ws: Ws, want: usize) -> Vec<i64> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < want {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(frame) = next(&mut ws, left).await else {
            break;
        };
        if frame["type"] == "event" {
            got.push(frame["seq"].as_i64().unwrap());
        }
    }
    // Anything more would be a duplicate or an event this socket may not see.
    while let Some(frame) = next(&mut ws, Duration::from_millis(300)).await {
        if frame["type"] == "event" {
            got.push(frame["seq"].as_i64().unwrap());
        }
    }
    got
}

/// The administrator's token moved into `org_id`.
async fn switch(server: &TestServer, org_id: &str) -> String {
    let switched: Value = server
        .post(
            "/api/v1/auth/switch-organization",
            json!({"organization_id": org_id}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    switched["access_token"].as_str().unwrap().to_owned()
}

async fn created(server: &TestServer, path: &str, body: Value) -> Value {
    let response = server.post(path, body).send().await.unwrap();
    assert_eq!(response.status(), 201, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn sockets_on_two_instances_get_every_event_they_may_see_once_and_in_order() {
    let Some(redis) = redis_url() else {
        return;
    };
    let database = TestDatabase::new().await;
    let mut a = instance(&database, &redis).await;
    let org = a.create_org("Cluster Co").await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    a.token = switch(&a, &org_id).await;
    let mut b = instance(&database, &redis).await;
    b.token = switch(&b, &org_id).await;
    let mine = created(
        &a,
        "/api/v1/partners",
        json!({"name": "Anderson Steel", "kind": "vendor"}),
    )
    .await;
    let theirs = created(
        &b,
        "/api/v1/partners",
        json!({"name": "Baker Alloys", "kind": "vendor"}),
    )
    .await;
    let portal_user = created(
        &a,
        "/api/v1/users",
        json!({"email": "portal@anderson.example",
        "role": "partner_portal", "partner_id": mine["id"], "organization_id": org_id}),
    )
    .await;
    let portal = a
        .login(
            "portal@anderson.example",
            portal_user["one_time_password"].as_str().unwrap(),
        )
        .await;

    let mut admins = Vec::new();
    let mut portals = Vec::new();
    let mut start = 0;
    for i in 0..sockets_per_instance() {
        for server in [&a, &b] {
            if i % 4 == 0 {
                portals.push(open(server, &portal, None).await.0);
            } else {
                let (ws, seq, _) = open(server, &a.token, None).await;
                start = seq;
                admins.push(ws);
            }
        }
    }

    // Changes through both instances: purchase orders for both vendors, and partners.
    for n in 0..CHANGES {
        let server = if n % 2 == 0 { &a } else { &b };
        match n % 3 {
            0 => {
                created(
                    server,
                    "/api/v1/purchase-orders",
                    json!({"vendor_id": mine["id"], "lines": []}),
                )
                .await
            }
            1 => {
                created(
                    server,
                    "/api/v1/purchase-orders",
                    json!({"vendor_id": theirs["id"], "lines": []}),
                )
                .await
            }
            _ => {
                created(
                    server,
                    "/api/v1/partners",
                    json!({"name": format!("Partner {n}"), "kind": "customer"}),
                )
                .await
            }
        };
    }

    let events: Value = a
        .get(&format!("/api/v1/events?after={start}&limit=500"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = events["items"].as_array().unwrap();
    let every: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(every.len(), CHANGES, "one event per change");
    let visible_to_portal: Vec<i64> = events
        .iter()
        .filter(|e| e["aggregate_type"] == "purchase_order" && e["data"]["vendor_id"] == mine["id"])
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(visible_to_portal.len(), CHANGES / 3);

    let admin_results =
        futures::future::join_all(admins.into_iter().map(|ws| seqs(ws, CHANGES))).await;
    for (i, got) in admin_results.iter().enumerate() {
        assert_eq!(got, &every, "administrator socket {i}");
    }
    let portal_results =
        futures::future::join_all(portals.into_iter().map(|ws| seqs(ws, CHANGES / 3))).await;
    for (i, got) in portal_results.iter().enumerate() {
        assert_eq!(got, &visible_to_portal, "portal socket {i}");
    }

    // A socket that was on A resumes on B from the middle: the rest, nothing twice.
    let middle = every[CHANGES / 2 - 1];
    let (ws, seq, replayed) = open(&b, &a.token, Some(middle)).await;
    assert_eq!(replayed, every[CHANGES / 2..].to_vec());
    assert_eq!(seq, *every.last().unwrap());
    assert!(seqs(ws, 1).await.is_empty(), "nothing after the replay");
    a.stop().await;
    b.stop().await;
    drop(database);
}
