//! The WebSocket hub over real sockets: live delivery in the documented envelope, resume
//! with `since` (no gap, no duplicate), authentication and per-event authorization, slow
//! consumers, re-authentication, and the pre-subscribed paths.

mod common;

use std::time::Duration;

use common::TestServer;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, connect_async};

use common::ws::*;

#[tokio::test]
async fn live_events_arrive_and_a_resumed_socket_misses_nothing_and_repeats_nothing() {
    let (server, org) = TestServer::in_org("Live Co").await;
    let (mut ws, answer) = subscribed(&server, &server.token, "org", None).await;
    assert!(answer["seq"].as_i64().unwrap() >= 1, "{answer}");
    rename_org(&server, &server.token, &org, "Live Co 1").await;
    let got = events(&mut ws, 1, WAIT).await;
    assert_eq!(got.len(), 1);
    let event = &got[0];
    assert_eq!(
        (event["topic"].as_str(), event["kind"].as_str()),
        (Some("org"), Some("organization.updated"))
    );
    assert_eq!(event["data"]["name"], "Live Co 1");
    assert!(event["id"].is_string() && event["at"].is_string());
    let last = event["seq"].as_i64().unwrap();
    drop(ws);

    for n in 2..=4 {
        rename_org(&server, &server.token, &org, &format!("Live Co {n}")).await;
    }
    let (mut ws, answer) = subscribed(&server, &server.token, "org", Some(last)).await;
    assert_eq!(answer["replayed"], 3, "{answer}");
    // The replayed events were read by `subscribed`; the live stream adds nothing twice.
    rename_org(&server, &server.token, &org, "Live Co 5").await;
    let live = events(&mut ws, 2, QUIET).await;
    assert_eq!(live.len(), 1, "only the new change: {live:?}");
    assert_eq!(live[0]["seq"].as_i64().unwrap(), last + 4);
}

#[tokio::test]
async fn replay_delivers_the_missed_events_in_order_before_the_subscribed_answer() {
    let (server, org) = TestServer::in_org("Replay Co").await;
    let (ws, answer) = subscribed(&server, &server.token, "organizations", None).await;
    let start = answer["seq"].as_i64().unwrap();
    drop(ws);
    for n in 1..=5 {
        rename_org(&server, &server.token, &org, &format!("Replay Co {n}")).await;
    }
    let mut ws = connect(&server, "/api/v1/ws").await;
    send(&mut ws, json!({"type": "auth", "token": server.token})).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "topic": "organizations", "since": start}),
    )
    .await;
    let got = events(&mut ws, 5, WAIT).await;
    let seqs: Vec<i64> = got.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (start + 1..=start + 5).collect::<Vec<_>>());
    assert!(got.iter().all(|e| e["topic"] == "organizations"));
    let names: Vec<&str> = got
        .iter()
        .map(|e| e["data"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.last(), Some(&"Replay Co 5"));
}

#[tokio::test]
async fn sockets_without_a_valid_token_are_closed_and_see_nothing() {
    let (server, org) = TestServer::in_org("Guarded Co").await;
    let plain = server
        .client
        .get(server.url("/api/v1/ws"))
        .send()
        .await
        .unwrap();
    common::problem(plain, 426).await;

    let mut bad = connect(&server, "/api/v1/ws").await;
    send(&mut bad, json!({"type": "auth", "token": "garbage"})).await;
    send(&mut bad, json!({"type": "subscribe", "topic": "org"})).await;
    rename_org(&server, &server.token, &org, "Guarded Co 2").await;
    assert_eq!(close_code(&mut bad, WAIT).await, Some(4001));

    let mut silent = connect(&server, "/api/v1/ws").await;
    send(&mut silent, json!({"type": "subscribe", "topic": "org"})).await;
    assert_eq!(close_code(&mut silent, WAIT).await, Some(4001));
}

#[tokio::test]
async fn a_token_in_the_subprotocol_authenticates_and_the_server_selects_its_own() {
    let (server, org) = TestServer::in_org("Protocol Co").await;
    let mut request = ws_url(&server, "/api/v1/ws").into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("steelyard.v1, bearer.{}", server.token)
            .parse()
            .unwrap(),
    );
    let (mut ws, response) = connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "steelyard.v1");
    let hello = next_frame(&mut ws, WAIT).await.unwrap();
    assert_eq!(hello["type"], "authenticated");
    assert_eq!(hello["organization_id"], org.as_str());
}

#[tokio::test]
async fn unknown_topics_and_bad_messages_are_errors_that_keep_the_socket_open() {
    let (server, org) = TestServer::in_org("Strict Co").await;
    let (mut ws, _) = subscribed(&server, &server.token, "org", None).await;
    send(&mut ws, json!({"type": "subscribe", "topic": "secrets"})).await;
    let error = next_frame(&mut ws, WAIT).await.unwrap();
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("error"), Some("unknown_topic"))
    );
    send(&mut ws, json!({"type": "dance"})).await;
    let error = next_frame(&mut ws, WAIT).await.unwrap();
    assert_eq!(error["code"], "bad_message");
    rename_org(&server, &server.token, &org, "Strict Co 2").await;
    assert_eq!(events(&mut ws, 1, WAIT).await.len(), 1, "still subscribed");
    send(&mut ws, json!({"type": "unsubscribe", "topic": "org"})).await;
    assert_eq!(
        next_frame(&mut ws, WAIT).await.unwrap()["type"],
        "unsubscribed"
    );
    rename_org(&server, &server.token, &org, "Strict Co 3").await;
    assert!(events(&mut ws, 1, QUIET).await.is_empty());
}

/// A user of `role` in the server's organization, signed in.
async fn member(
    server: &TestServer,
    org: &str,
    email: &str,
    role: &str,
    partner: Option<&str>,
) -> String {
    let mut body = json!({"email": email, "role": role, "organization_id": org});
    if let Some(partner) = partner {
        body["partner_id"] = json!(partner);
    }
    let created = create(server, "/api/v1/users", body).await;
    server
        .login(email, created["one_time_password"].as_str().unwrap())
        .await
}

#[tokio::test]
async fn each_socket_gets_exactly_what_its_rest_reads_would_show() {
    let (server, org) = TestServer::in_org("Scoped Co").await;
    let mine = create(
        &server,
        "/api/v1/partners",
        json!({"name": "Anderson Steel", "kind": "vendor"}),
    )
    .await;
    let theirs = create(
        &server,
        "/api/v1/partners",
        json!({"name": "Baker Alloys", "kind": "vendor"}),
    )
    .await;
    let portal = member(
        &server,
        &org,
        "portal@anderson.example",
        "partner_portal",
        mine["id"].as_str(),
    )
    .await;
    let seller = member(&server, &org, "seller@scoped.example", "sales", None).await;
    let (mut portal_ws, _) = subscribed(&server, &portal, "org", None).await;
    let (mut seller_ws, _) = subscribed(&server, &seller, "org", None).await;
    let (mut admin_ws, _) = subscribed(&server, &server.token, "purchase_orders", None).await;

    let for_mine = create(
        &server,
        "/api/v1/purchase-orders",
        json!({"vendor_id": mine["id"], "lines": []}),
    )
    .await;
    create(
        &server,
        "/api/v1/purchase-orders",
        json!({"vendor_id": theirs["id"], "lines": []}),
    )
    .await;
    create(
        &server,
        "/api/v1/partners",
        json!({"name": "Carter Tools", "kind": "customer"}),
    )
    .await;

    let admin_got = events(&mut admin_ws, 3, WAIT).await;
    assert_eq!(
        admin_got.len(),
        2,
        "both purchase orders, not the partner: {admin_got:?}"
    );
    let portal_got = events(&mut portal_ws, 3, QUIET).await;
    assert_eq!(portal_got.len(), 1, "{portal_got:?}");
    assert_eq!(portal_got[0]["data"]["id"], for_mine["id"]);
    let seller_got = events(&mut seller_ws, 4, QUIET).await;
    let kinds: Vec<&str> = seller_got
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["partner.created"],
        "sales sees partners, not purchasing"
    );
}

#[tokio::test]
async fn another_organizations_socket_sees_nothing() {
    let (server, org) = TestServer::in_org("First Co").await;
    let other = server.create_org("Second Co").await;
    let other_id = other["id"].as_str().unwrap();
    let switched: Value = server
        .post(
            "/api/v1/auth/switch-organization",
            json!({"organization_id": other_id}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = switched["access_token"].as_str().unwrap();
    let (mut ws, _) = subscribed(&server, second, "org", None).await;
    rename_org(&server, &server.token, &org, "First Co 2").await;
    assert!(events(&mut ws, 1, QUIET).await.is_empty());
    rename_org(&server, second, other_id, "Second Co 2").await;
    assert_eq!(events(&mut ws, 1, WAIT).await.len(), 1);
}

/// A socket whose TCP receive window is tiny, so the server's writes to it block once a few
/// kilobytes are in flight: a client that stops reading.
async fn stalled_socket(server: &TestServer, token: &str) -> Ws {
    let address: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(2048).unwrap();
    let stream = tcp.connect(address).await.unwrap();
    let request = ws_url(server, "/api/v1/ws").into_client_request().unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
        .await
        .unwrap();
    send(&mut ws, json!({"type": "auth", "token": token})).await;
    assert_eq!(
        next_frame(&mut ws, WAIT).await.unwrap()["type"],
        "authenticated"
    );
    send(&mut ws, json!({"type": "subscribe", "topic": "org"})).await;
    assert_eq!(
        next_frame(&mut ws, WAIT).await.unwrap()["type"],
        "subscribed"
    );
    ws
}

#[tokio::test]
async fn a_slow_consumer_is_closed_with_its_own_code_and_others_keep_receiving() {
    let limits = [
        ("STEELYARD_WS_SEND_QUEUE", "8"),
        // The stalled socket reads nothing until every change is made: its writes must
        // wait that long rather than end the connection.
        ("STEELYARD_WS_SEND_TIMEOUT_SECS", "300"),
        // Nor may it count as dead for not answering pings while it reads nothing.
        ("STEELYARD_WS_HEARTBEAT_SECS", "300"),
        ("STEELYARD_RATE_LIMIT_MODERATE_PER_MIN", "100000"),
    ];
    // Small kernel buffers on the server's side too, so a few kilobytes fill the pipe.
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_send_buffer_size(4096).unwrap();
    tcp.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = tcp.listen(64).unwrap();
    let database = steelyard_store::testing::TestDatabase::new().await;
    let server =
        TestServer::start_listening(database, &limits, axum::Router::new(), listener).await;
    let org = server.create_org("Slow Co").await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    // A super-admin at platform level: the socket follows the oldest organization.
    let token = server
        .login(common::ADMIN_EMAIL, common::ADMIN_PASSWORD)
        .await;
    let mut slow = stalled_socket(&server, &token).await;
    let (mut fast, _) = subscribed(&server, &token, "org", None).await;
    const CHANGES: usize = 300;
    let reader =
        tokio::spawn(async move { events(&mut fast, CHANGES, Duration::from_secs(120)).await });
    let padding = "x".repeat(150);
    for n in 0..CHANGES {
        rename_org(&server, &token, &org_id, &format!("Slow Co {n} {padding}")).await;
    }
    let got = reader.await.unwrap();
    assert_eq!(got.len(), CHANGES, "the reading socket got everything");
    // Now `slow` reads: what was in flight, then the close frame naming it too slow.
    let (code, delivered) = tokio::time::timeout(Duration::from_secs(60), async {
        let mut delivered = 0;
        while let Some(message) = slow.next().await {
            match message {
                Ok(Message::Text(_)) => delivered += 1,
                Ok(Message::Close(frame)) => return (frame.map(|f| u16::from(f.code)), delivered),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        (None, delivered)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(4008), "after {delivered} frames");
    assert!(delivered < CHANGES, "{delivered}");
}

#[tokio::test]
async fn a_fresh_token_on_the_open_socket_is_accepted_and_anothers_is_refused() {
    let (server, org) = TestServer::in_org("Renew Co").await;
    let (mut ws, _) = subscribed(&server, &server.token, "org", None).await;
    let fresh = server
        .login(common::ADMIN_EMAIL, common::ADMIN_PASSWORD)
        .await;
    // A platform-level token of the same user: its socket follows the oldest organization,
    // which is this one.
    send(&mut ws, json!({"type": "auth", "token": fresh})).await;
    let answer = next_frame(&mut ws, WAIT).await.unwrap();
    assert_eq!(answer["type"], "authenticated", "{answer}");
    let stranger = member(&server, &org, "clerk@renew.example", "warehouse", None).await;
    send(&mut ws, json!({"type": "auth", "token": stranger})).await;
    // Adding the stranger was an event of the organization; the answer follows it.
    let answer = loop {
        let frame = next_frame(&mut ws, WAIT).await.unwrap();
        if frame["type"] != "event" {
            break frame;
        }
    };
    assert_eq!(answer["code"], "identity_changed", "{answer}");
}

#[tokio::test]
async fn an_expired_token_closes_the_socket_with_its_own_code() {
    let ttl = [("STEELYARD_ACCESS_TOKEN_TTL_SECS", "2")];
    let server = TestServer::start_with(&ttl, axum::Router::new()).await;
    server.create_org("Expiry Co").await;
    let token = server
        .login(common::ADMIN_EMAIL, common::ADMIN_PASSWORD)
        .await;
    let mut ws = connect(&server, "/api/v1/ws").await;
    send(&mut ws, json!({"type": "auth", "token": token})).await;
    let hello = next_frame(&mut ws, WAIT).await.unwrap();
    assert_eq!(hello["type"], "authenticated", "{hello}");
    assert_eq!(close_code(&mut ws, WAIT).await, Some(4002));
}

#[tokio::test]
async fn the_updates_path_is_pre_subscribed_to_the_organization() {
    let (server, org) = TestServer::in_org("Legacy Co").await;
    let mut ws = connect(&server, "/api/v1/ws/updates").await;
    send(&mut ws, json!({"type": "auth", "token": server.token})).await;
    assert_eq!(
        next_frame(&mut ws, WAIT).await.unwrap()["type"],
        "authenticated"
    );
    assert_eq!(next_frame(&mut ws, WAIT).await.unwrap()["topic"], "org");
    rename_org(&server, &server.token, &org, "Legacy Co 2").await;
    assert_eq!(events(&mut ws, 1, WAIT).await.len(), 1);
    let client = server
        .request(Method::GET, "/assets/steelyard-realtime.js")
        .send()
        .await
        .unwrap();
    assert_eq!(client.status(), 200);
    assert!(
        client
            .text()
            .await
            .unwrap()
            .contains("export class SteelyardSocket")
    );
}
