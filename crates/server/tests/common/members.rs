//! Users of an organization for access.rs and accounts.rs: a server whose sign-in limit
//! allows many sign-ins, members with a role and their tokens, a partner of an organization,
//! and calls made with a given token.

use axum::Router;
use reqwest::Method;
use serde_json::{Value, json};

use super::TestServer;

/// Sign-in limits are high here: these tests sign many users in from one address.
pub async fn server() -> TestServer {
    TestServer::start_with(
        &[("STEELYARD_RATE_LIMIT_STRICT_PER_MIN", "1000")],
        Router::new(),
    )
    .await
}

/// Adds a user with `role` to `org` as the administrator; returns (user id, access token).
pub async fn member(server: &TestServer, org: &str, role: &str, email: &str) -> (String, String) {
    let mut body = json!({"email": email, "role": role, "organization_id": org});
    if role == "partner_portal" {
        body["partner_id"] = json!(partner_in(server, org).await);
    }
    let response = server.post("/api/v1/users", body).send().await.unwrap();
    assert_eq!(response.status(), 201, "{role}");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let fetched: Value = server
        .get(&location)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (fetched["email"].as_str(), fetched["role"].as_str()),
        (Some(email), Some(role)),
        "{location}"
    );
    let created: Value = response.json().await.unwrap();
    let password = created["one_time_password"].as_str().unwrap();
    (
        created["id"].as_str().unwrap().to_owned(),
        server.login(email, password).await,
    )
}

/// A user of the organization `org` (its id, as JSON) with `role`, added by the administrator;
/// the answer's body, which holds the user's id and one-time password (or none, for an
/// account that already existed).
pub async fn new_user(server: &TestServer, org: &Value, email: &str, role: &str) -> Value {
    let response = server
        .post(
            "/api/v1/users",
            json!({"email": email, "role": role, "organization_id": org}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{email} as {role}");
    response.json().await.unwrap()
}

/// A new partner of `org`, created by the administrator working in it.
pub async fn partner_in(server: &TestServer, org: &str) -> String {
    let switched: Value = server
        .post(
            "/api/v1/auth/switch-organization",
            json!({"organization_id": org}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = switched["access_token"].as_str().unwrap();
    let name = format!("Partner {}", steelyard_domain::new_id());
    let created = call(
        server,
        token,
        Method::POST,
        "/api/v1/partners",
        Some(json!({"name": name, "kind": "vendor"})),
    )
    .await;
    assert_eq!(created.status(), 201);
    created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn call(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token)
        .header("if-match", "*");
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub async fn me(server: &TestServer, token: &str) -> Value {
    call(server, token, Method::GET, "/api/v1/auth/me", None)
        .await
        .json()
        .await
        .unwrap()
}
