//! A real server on a random port with its own database, for black-box tests over HTTP.

#![allow(
    dead_code,
    reason = "each test file uses a different part of this helper"
)]

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};
use steelyard_server::config::{Config, Overrides};
use steelyard_server::state::AppState;
use steelyard_store::testing::TestDatabase;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod members;
pub mod purchasing;
pub mod ws;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "Admin-password-2026!";

pub struct TestServer {
    pub base: String,
    pub client: Client,
    pub token: String,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    pub database: TestDatabase,
}

pub fn config_for(database: &TestDatabase, extra: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = HashMap::from([
        ("STEELYARD_ADMIN_EMAIL".into(), ADMIN_EMAIL.into()),
        ("STEELYARD_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
    ]);
    if let Some(url) = database.database_url() {
        env.insert("DATABASE_URL".into(), url);
    }
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    let overrides = Overrides {
        bind: Some("127.0.0.1:0".into()),
        data_dir: Some(database.data_dir()),
        config_file: None,
    };
    Config::from_sources(&overrides, &env).expect("test config is valid")
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(&[], Router::new()).await
    }

    /// A server with extra settings and extra routes behind the same middleware.
    pub async fn start_with(settings: &[(&str, &str)], extra: Router<AppState>) -> Self {
        let database = TestDatabase::new().await;
        Self::start_on(database, settings, extra).await
    }

    pub async fn start_on(
        database: TestDatabase,
        settings: &[(&str, &str)],
        extra: Router<AppState>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_listening(database, settings, extra, listener).await
    }

    /// A server on a listener the test prepared (accepted sockets inherit its options).
    pub async fn start_listening(
        database: TestDatabase,
        settings: &[(&str, &str)],
        extra: Router<AppState>,
        listener: tokio::net::TcpListener,
    ) -> Self {
        let config = config_for(&database, settings);
        let grace = config.shutdown_grace;
        let state = steelyard_server::prepare(config)
            .await
            .expect("server prepares");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let app = steelyard_server::router_with(state.clone(), extra);
        let db = state.app.db.clone();
        let task = tokio::spawn(steelyard_server::serve_router(
            app,
            grace,
            db,
            listener,
            async {
                let _ = stopped.await;
            },
        ));
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut server = Self {
            base,
            client,
            token: String::new(),
            state,
            stop: Some(stop),
            task: Some(task),
            database,
        };
        server.token = server.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        server
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "login of {email}");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request as the administrator.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    /// GETs `path` as the administrator, expecting 200, and returns the JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// The ids of the items of one list page, in the order listed.
    pub async fn listed_ids(&self, path: &str) -> Vec<String> {
        let page = self.get_json(path).await;
        let items = page["items"].as_array().unwrap_or_else(|| panic!("{page}"));
        items
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect()
    }

    pub fn post(&self, path: &str, body: Value) -> RequestBuilder {
        self.request(Method::POST, path).json(&body)
    }

    /// POSTs `body` to `path` as the administrator, expecting success, and returns the JSON
    /// body.
    pub async fn post_json(&self, path: &str, body: Value) -> Value {
        let response = self.post(path, body).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// The id of a product made and archived at once (OLD-1), for lines that must refuse it.
    pub async fn archived_product(&self) -> String {
        let old = self
            .post_json(
                "/api/v1/products",
                serde_json::json!({"sku": "OLD-1", "name": "Old part"}),
            )
            .await;
        let old = old["id"].as_str().unwrap().to_owned();
        self.post_json(
            &format!("/api/v1/products/{old}/archive"),
            serde_json::json!({}),
        )
        .await;
        old
    }

    pub async fn create_org(&self, name: &str) -> Value {
        let response = self
            .post("/api/v1/organizations", json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    /// A server whose administrator acts in a fresh organization (rate limits raised for bulk
    /// tests); returns it and the organization's id.
    pub async fn in_org(name: &str) -> (Self, String) {
        let limits = [
            ("STEELYARD_RATE_LIMIT_STRICT_PER_MIN", "1000"),
            ("STEELYARD_RATE_LIMIT_MODERATE_PER_MIN", "100000"),
        ];
        let mut server = Self::start_with(&limits, Router::new()).await;
        let org = server.create_org(name).await;
        let org_id = org["id"].as_str().unwrap().to_owned();
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
        server.token = switched["access_token"].as_str().unwrap().to_owned();
        (server, org_id)
    }

    /// Stops the server gracefully and waits for it; returns the database for a restart.
    pub async fn stop(mut self) -> TestDatabase {
        // As `serve` does: open sockets are told the server is going.
        self.state.hub.close_all();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.database
    }
}

/// The problem body of a response, after checking its status and content type.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/problem+json"),
        "{content_type}"
    );
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(
        body["request_id"],
        request_id.as_str(),
        "the problem quotes the request id"
    );
    assert!(
        body["type"].as_str().unwrap().starts_with("https://"),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// A validation problem's errors as (field, code) pairs, in the order given.
pub fn field_errors(body: &Value) -> Vec<(&str, &str)> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect()
}

/// Fetches the order at `path` and checks it as stored: `count` lines numbered 1, 2, … with
/// quantities 1, 2, … (as the long-order tests post them), the same lines the create answered.
pub async fn assert_stored_lines_in_order(
    server: &TestServer,
    path: &str,
    created: &Value,
    count: usize,
) {
    let stored = server.get_json(path).await;
    let lines = stored["lines"].as_array().unwrap();
    assert_eq!(lines.len(), count);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["line_no"], i + 1, "{line}");
        let quantity: f64 = line["quantity"].as_str().unwrap().parse().unwrap();
        assert_eq!(quantity, (i + 1) as f64, "{line}");
    }
    assert_eq!(
        stored["lines"], created["lines"],
        "the answer is what was stored"
    );
}
