//! Sign-in, token rotation and revocation, tampered tokens, and rate limits over real HTTP.

mod common;

use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ADMIN_EMAIL, ADMIN_PASSWORD, TestServer, problem};
use serde_json::{Value, json};

async fn login_body(server: &TestServer) -> Value {
    let response = server
        .client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn refresh(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
}

async fn me(server: &TestServer, access: &str) -> u16 {
    server
        .client
        .get(server.url("/api/v1/auth/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn login_returns_a_bearer_access_token_and_a_refresh_token() {
    let server = TestServer::start().await;
    let body = login_body(&server).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 40);
    let user: Value = server
        .get("/api/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["email"], ADMIN_EMAIL);
    let wrong = server
        .client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": "not the password"}))
        .send()
        .await
        .unwrap();
    problem(wrong, 401).await;
}

#[tokio::test]
async fn a_refresh_token_works_once_and_its_reuse_revokes_the_whole_session() {
    let server = TestServer::start().await;
    let first = login_body(&server).await;
    let original = first["refresh_token"].as_str().unwrap();
    let rotated: Value = refresh(&server, original).await.json().await.unwrap();
    let newest = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(newest, original);
    assert_eq!(
        me(&server, rotated["access_token"].as_str().unwrap()).await,
        200
    );

    problem(refresh(&server, original).await, 401).await;
    problem(refresh(&server, newest).await, 401).await;
    assert_eq!(
        me(&server, rotated["access_token"].as_str().unwrap()).await,
        401,
        "the family's access tokens die too"
    );
    // Other sessions of the same user are untouched.
    assert_eq!(me(&server, &server.token).await, 200);
}

#[tokio::test]
async fn logout_closes_one_session_and_logout_all_closes_every_session() {
    let server = TestServer::start().await;
    let a = login_body(&server).await;
    let b = login_body(&server).await;
    let a_access = a["access_token"].as_str().unwrap();
    let out = server
        .client
        .post(server.url("/api/v1/auth/logout"))
        .bearer_auth(a_access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(me(&server, a_access).await, 401);
    problem(
        refresh(&server, a["refresh_token"].as_str().unwrap()).await,
        401,
    )
    .await;
    assert_eq!(me(&server, b["access_token"].as_str().unwrap()).await, 200);

    let all: Value = server
        .post("/api/v1/auth/logout-all", json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(all["sessions_revoked"].as_u64().unwrap() >= 2, "{all}");
    assert_eq!(me(&server, b["access_token"].as_str().unwrap()).await, 401);
    assert_eq!(me(&server, &server.token).await, 401);
}

fn forge(header: Value, claims: &Value, key: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let head = URL_SAFE_NO_PAD.encode(header.to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    // HMAC-SHA256 by hand (the test forges tokens with keys the server does not hold).
    let mut k = key.to_vec();
    k.resize(64, 0);
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(format!("{head}.{body}").into_bytes())
        .collect();
    let inner_hash = Sha256::digest(&inner);
    let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).chain(inner_hash).collect();
    format!(
        "{head}.{body}.{}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(&outer))
    )
}

#[tokio::test]
async fn tampered_tokens_all_get_the_same_401() {
    let server = TestServer::start().await;
    let payload = server.token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let mut expired_claims = claims.clone();
    expired_claims["exp"] = json!(chrono::Utc::now().timestamp() - 60);
    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("someone-else");
    let parts: Vec<&str> = server.token.split('.').collect();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(json!({"sub": "x"}).to_string()),
        parts[2]
    );
    let hs = json!({"alg": "HS256", "typ": "JWT"});
    let tokens = [
        ("alg none", unsigned),
        ("wrong key", forge(hs.clone(), &claims, b"not-the-key")),
        (
            "RS256 header",
            forge(
                json!({"alg": "RS256", "typ": "JWT"}),
                &claims,
                b"not-the-key",
            ),
        ),
        (
            "expired",
            forge(hs.clone(), &expired_claims, b"not-the-key"),
        ),
        ("wrong audience", forge(hs, &wrong_audience, b"not-the-key")),
        ("payload edited", edited),
    ];
    let mut bodies = Vec::new();
    for (label, token) in tokens {
        let response = server
            .client
            .get(server.url("/api/v1/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{label}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let mut body = problem(response, 401).await;
        body["request_id"] = Value::Null;
        bodies.push(body);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "no hint of which check failed"
    );
}

#[tokio::test]
async fn the_strict_tier_limits_logins_per_ip_and_spoofed_forwarding_headers_do_not_help() {
    let server = TestServer::start_with(
        &[("STEELYARD_RATE_LIMIT_STRICT_PER_MIN", "5")],
        Router::new(),
    )
    .await;
    // The fixture's own login spent one of the five.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let response = server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("10.9.{i}.{i}"))
            .json(&json!({"email": "nobody@example.com", "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert!(response.headers().contains_key("ratelimit-limit"));
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            let body = problem(response, 429).await;
            assert!(body["retry_after_seconds"].as_u64().unwrap() >= 1);
        }
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429]);
    // Health and docs are exempt.
    assert_eq!(
        server
            .client
            .get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn api_calls_carry_ratelimit_headers_keyed_per_user() {
    let server = TestServer::start().await;
    let response = server.get("/api/v1/organizations").send().await.unwrap();
    assert_eq!(response.headers()["ratelimit-limit"], "1000");
    let remaining: u32 = response.headers()["ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let again = server.get("/api/v1/organizations").send().await.unwrap();
    let after: u32 = again.headers()["ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after < remaining);
}

#[tokio::test]
async fn two_instances_sharing_redis_enforce_one_limit() {
    let Ok(redis_url) = std::env::var("TEST_REDIS_URL") else {
        eprintln!("TEST_REDIS_URL not set: the shared-limit test needs Redis");
        return;
    };
    // Every run calls from 127.0.0.1, and buckets outlive a run by up to a minute: start the
    // strict bucket of that address empty, before the fixtures sign in and again after.
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let bucket = "steelyard:rl:strict:ip:127.0.0.1";
    let _: () = redis::cmd("DEL")
        .arg(bucket)
        .query_async(&mut conn)
        .await
        .unwrap();
    // The limit lives in Redis only, so each instance may keep its own database here.
    let settings = [
        ("REDIS_URL", redis_url.as_str()),
        ("STEELYARD_RATE_LIMIT_STRICT_PER_MIN", "6"),
    ];
    let a = TestServer::start_on(
        steelyard_store::testing::TestDatabase::new().await,
        &settings,
        Router::new(),
    )
    .await;
    let b = TestServer::start_on(
        steelyard_store::testing::TestDatabase::new().await,
        &settings,
        Router::new(),
    )
    .await;
    // Wait until both instances have connected to Redis.
    for server in [&a, &b] {
        for _ in 0..50 {
            if server
                .client
                .get(server.url("/ready"))
                .send()
                .await
                .unwrap()
                .status()
                == 200
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let _: () = redis::cmd("DEL")
        .arg(bucket)
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut allowed = 0;
    for i in 0..12 {
        let server = if i % 2 == 0 { &a } else { &b };
        let response = server
            .client
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"email": "shared@example.com", "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        if response.status() != 429 {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 6, "two instances together allow one limit");
}

#[tokio::test]
async fn requests_never_fail_because_redis_is_down_and_limits_still_apply() {
    // Nothing listens on port 1: the limiter has no Redis connection for the whole test.
    let settings = [
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("STEELYARD_RATE_LIMIT_STRICT_PER_MIN", "3"),
    ];
    let server = TestServer::start_with(&settings, Router::new()).await;
    let listed = server.get("/api/v1/organizations").send().await.unwrap();
    assert_eq!(listed.status(), 200);
    assert!(listed.headers().contains_key("ratelimit-remaining"));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = server
            .client
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"email": "nobody@example.com", "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses,
        [401, 401, 429],
        "the in-process bucket takes over"
    );
}

#[tokio::test]
async fn changing_the_password_checks_the_current_one_and_closes_the_other_sessions() {
    let server = TestServer::start().await;
    let other = login_body(&server).await;
    // Used once before the change, so a server that remembers open sessions has this one.
    assert_eq!(
        me(&server, other["access_token"].as_str().unwrap()).await,
        200
    );
    let change = |current: &str, new: &str| {
        server
            .post(
                "/api/v1/auth/password",
                json!({"current_password": current, "new_password": new}),
            )
            .send()
    };
    let body = problem(
        change("not-my-password", "Brand-new-pass-2027")
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "current_password");
    let body = problem(change(ADMIN_PASSWORD, "short").await.unwrap(), 422).await;
    assert_eq!(body["errors"][0]["field"], "new_password");
    assert_eq!(
        change(ADMIN_PASSWORD, "Brand-new-pass-2027")
            .await
            .unwrap()
            .status(),
        204
    );

    assert_eq!(
        me(&server, &server.token).await,
        200,
        "the session that asked stays open"
    );
    assert_eq!(
        me(&server, other["access_token"].as_str().unwrap()).await,
        401,
        "other sessions close"
    );
    let old = server
        .client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    problem(old, 401).await;
    server.login(ADMIN_EMAIL, "Brand-new-pass-2027").await;
}
