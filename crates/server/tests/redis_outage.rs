//! Redis stopped and restarted under traffic: requests never fail, limiting falls back to
//! in-process buckets, and shared limiting resumes by itself once Redis is back.
//!
//! Runs a private `redis-server` on a free port, so stopping it disturbs nothing else.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use common::TestServer;
use serde_json::json;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_redis(port: u16) -> Option<Child> {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

async fn bad_login(server: &TestServer) -> u16 {
    server
        .client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": "nobody@example.com", "password": "wrong-password"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn key_exists(url: &str, key: &str) -> bool {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("EXISTS")
        .arg(key)
        .query_async::<i64>(&mut conn)
        .await
        .unwrap()
        == 1
}

#[tokio::test]
async fn limiting_survives_a_redis_restart_under_traffic() {
    let port = free_port();
    let Some(mut redis) = start_redis(port) else {
        eprintln!("redis-server is not installed: skipping the outage test");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}");
    let settings = [
        ("REDIS_URL", url.as_str()),
        ("STEELYARD_RATE_LIMIT_STRICT_PER_MIN", "1000"),
    ];
    let server = TestServer::start_with(&settings, Router::new()).await;
    let bucket = "steelyard:rl:strict:ip:127.0.0.1";
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
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(bad_login(&server).await, 401);
    assert!(
        key_exists(&url, bucket).await,
        "limits live in Redis while it is up"
    );

    redis.kill().unwrap();
    redis.wait().unwrap();
    for _ in 0..5 {
        assert_eq!(
            bad_login(&server).await,
            401,
            "requests never fail because Redis is down"
        );
        let listed = server.get("/api/v1/organizations").send().await.unwrap();
        assert_eq!(listed.status(), 200);
    }
    let ready = server
        .client
        .get(server.url("/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503, "readiness reports Redis down");

    let mut redis = start_redis(port).expect("redis-server restarts");
    // The fallback window is 5 s; after it, checks go to Redis again by themselves.
    let mut back = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(bad_login(&server).await, 401);
        if key_exists(&url, bucket).await {
            back = true;
            break;
        }
    }
    assert!(back, "limiting returned to Redis after it came back");
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("ratelimit_redis_fallback_total"));
    redis.kill().unwrap();
    redis.wait().unwrap();
}
