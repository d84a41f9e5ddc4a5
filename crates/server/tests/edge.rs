//! The edge, over real HTTP: request ids, security headers, compression, errors as problems,
//! timeouts, panics, health, readiness, metrics and the OpenAPI document.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{TestServer, problem};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn liveness_and_readiness_answer_ok_when_the_database_is_up() {
    let server = TestServer::start().await;
    for path in ["/health", "/ready"] {
        let response = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
    }
}

#[tokio::test]
async fn readiness_names_redis_when_it_is_configured_but_unreachable() {
    // Port 1 has no Redis: the server still starts and serves, but is not ready.
    let server =
        TestServer::start_with(&[("REDIS_URL", "redis://127.0.0.1:1")], Router::new()).await;
    let response = server
        .client
        .get(server.url("/ready"))
        .send()
        .await
        .unwrap();
    let body = problem(response, 503).await;
    assert!(body["detail"].as_str().unwrap().contains("redis"), "{body}");
    let live = server
        .client
        .get(server.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
}

#[tokio::test]
async fn a_well_formed_request_id_is_echoed_and_anything_else_is_replaced() {
    let server = TestServer::start().await;
    let echoed = server
        .client
        .get(server.url("/health"))
        .header("x-request-id", "abc-123.x")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123.x");
    let forged = server
        .client
        .get(server.url("/health"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    let generated = forged.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(generated, "bad id\twith spaces");
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = TestServer::start_with(&[("STEELYARD_HSTS", "true")], Router::new()).await;
    for path in ["/health", "/api/v1/nowhere"] {
        let response = server.client.get(server.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .starts_with("default-src 'self'")
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert!(headers.contains_key("referrer-policy"));
        assert!(
            headers["strict-transport-security"]
                .to_str()
                .unwrap()
                .contains("max-age=")
        );
    }
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_asks() {
    let server = TestServer::start().await;
    let raw = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap();
    for encoding in ["gzip", "br"] {
        let response = raw
            .get(server.url("/api/openapi.json"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-encoding"], encoding);
    }
}

#[tokio::test]
async fn bad_requests_of_every_kind_are_problems_and_change_nothing() {
    let server = TestServer::start().await;
    let orgs = "/api/v1/organizations";
    problem(
        server.get("/api/v1/no-such-thing").send().await.unwrap(),
        404,
    )
    .await;
    let wrong_method = server.request(Method::DELETE, orgs).send().await.unwrap();
    assert!(
        wrong_method.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    problem(wrong_method, 405).await;
    let malformed = server
        .request(Method::POST, orgs)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(malformed, 400).await;
    let wrong_type = server
        .request(Method::POST, orgs)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    problem(wrong_type, 415).await;
    let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(3 << 20));
    let too_large = server
        .request(Method::POST, orgs)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    problem(too_large, 413).await;
    let wrong_shape = server.post(orgs, json!({"name": 42})).send().await.unwrap();
    let body = problem(wrong_shape, 422).await;
    assert_eq!(body["errors"][0]["field"], "name", "{body}");
    let unknown_field = server
        .post(orgs, json!({"name": "x", "colour": "red"}))
        .send()
        .await
        .unwrap();
    problem(unknown_field, 422).await;
    let bad_id = server
        .get("/api/v1/organizations/not-a-uuid")
        .send()
        .await
        .unwrap();
    problem(bad_id, 404).await;

    let list: Value = server
        .get(&format!("{orgs}?status=all"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "no bad request created anything"
    );
}

#[tokio::test]
async fn a_slow_request_times_out_with_503_and_a_panic_is_a_500_without_internals() {
    let extra = Router::new()
        .route(
            "/test/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route("/test/panic", get(panicking));
    // Long enough that signing in (password hashing) fits in it on a loaded machine.
    let server = TestServer::start_with(&[("STEELYARD_REQUEST_TIMEOUT_SECS", "5")], extra).await;
    problem(
        server
            .client
            .get(server.url("/test/slow"))
            .send()
            .await
            .unwrap(),
        503,
    )
    .await;
    let panicked = server
        .client
        .get(server.url("/test/panic"))
        .send()
        .await
        .unwrap();
    let body = problem(panicked, 500).await;
    assert!(!body.to_string().contains("secret"), "{body}");
    // The server keeps serving after a panic.
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
async fn metrics_count_requests_by_matched_route_with_a_latency_histogram() {
    let server = TestServer::start().await;
    server.get("/api/v1/organizations").send().await.unwrap();
    let text = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "no histogram"
    );
    assert!(
        text.contains(r#"route="/api/v1/organizations""#),
        "routes are labelled by template"
    );
    for name in [
        "http_requests_total",
        "http_requests_in_flight",
        "db_pool_connections",
        "steelyard_build_info",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
}

#[tokio::test]
async fn detailed_health_is_for_administrators_only() {
    let server = TestServer::start().await;
    let anonymous = server
        .client
        .get(server.url("/health/detailed"))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
    let body: Value = server
        .get("/health/detailed")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
    assert!(body["migrations"].as_array().unwrap().len() >= 2, "{body}");
    assert!(["sqlite", "postgres"].contains(&body["backend"].as_str().unwrap()));
    assert!(body["pool"]["max"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_docs_are_served_without_a_cdn() {
    let server = TestServer::start().await;
    let doc: Value = server
        .client
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/v1/organizations/{id}"]["patch"].is_object());
    let page = server
        .client
        .get(server.url("/api/docs/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("swagger"), "docs page served");
    for cdn in ["unpkg.com", "jsdelivr", "cdnjs", "googleapis"] {
        assert!(!page.contains(cdn), "docs load from {cdn}");
    }
}

async fn panicking() -> &'static str {
    panic!("secret internal detail")
}

#[test]
fn every_secured_operation_declares_its_permission_from_the_catalogue() {
    let (_, doc) = steelyard_server::api_routes();
    let doc = serde_json::to_value(doc).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("security").is_none() {
                continue;
            }
            let declared = operation
                .get("x-permission")
                .unwrap_or_else(|| panic!("{method} {path} declares no permission"));
            if let Some(name) = declared.as_str() {
                assert!(
                    steelyard_domain::roles::permission(name).is_some(),
                    "{method} {path}: unknown {name}"
                );
            }
        }
    }
}

#[test]
fn the_openapi_document_matches_its_reviewed_snapshot() {
    let (_, mut doc) = steelyard_server::api_routes();
    doc.info.version = "snapshot".into();
    insta::assert_json_snapshot!("openapi", doc);
}

#[tokio::test]
async fn metrics_can_be_restricted_to_holders_of_system_health() {
    let server =
        TestServer::start_with(&[("STEELYARD_METRICS_PUBLIC", "false")], Router::new()).await;
    problem(
        server
            .client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    let token: Value = server
        .post(
            "/api/v1/auth/tokens",
            json!({"name": "prometheus", "permissions": ["system.health"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let scrape = server
        .client
        .get(server.url("/metrics"))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(scrape.text().await.unwrap().contains("http_requests_total"));
}

#[tokio::test]
async fn cors_answers_only_the_allowed_origins() {
    let server = TestServer::start_with(
        &[("STEELYARD_CORS_ORIGINS", "https://erp.example.com")],
        Router::new(),
    )
    .await;
    let preflight = |origin: &'static str| {
        server
            .client
            .request(Method::OPTIONS, server.url("/api/v1/organizations"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("https://erp.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://erp.example.com"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
}
