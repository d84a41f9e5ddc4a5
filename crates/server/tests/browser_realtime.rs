//! The browser client in a real browser (Debian's chromium, headless): a page subscribes
//! through `/assets/steelyard-realtime.js`, the server is stopped, changes are committed
//! while the page is cut off, the server comes back on the same port, and the page must end
//! up with every event exactly once, in order.
//!
//! Without chromium installed the test says so and passes, except in CI (`CI` set), where
//! a missing browser is a failure: CI installs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use common::TestServer;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use steelyard_server::state::AppState;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

/// The page loads its script from the server: the server's CSP forbids inline scripts.
const PAGE: &str = r#"<!doctype html>
<html><body><script type="module" src="/test/page.js"></script></body></html>"#;

const PAGE_JS: &str = r#"import { SteelyardSocket } from "/assets/steelyard-realtime.js";
window.seen = [];
window.states = [];
const token = decodeURIComponent(location.hash.slice(1));
const socket = new SteelyardSocket({
  url: `ws://${location.host}/api/v1/ws`,
  token: () => token,
  minDelay: 100,
  maxDelay: 1000,
  onState: (state) => window.states.push(state),
});
socket.subscribe("org", (event) => window.seen.push(event.seq));
window.socket = socket;
"#;

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/test/realtime.html", get(|| async { Html(PAGE) }))
        .route(
            "/test/page.js",
            get(|| async { ([("content-type", "text/javascript")], PAGE_JS) }),
        )
}

struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    devtools: u16,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn launch(binary: &Path, url: &str) -> Browser {
    let profile = tempfile::tempdir().unwrap();
    let child = Command::new(binary)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // Chromium writes the port it picked into the profile.
    let port_file = profile.path().join("DevToolsActivePort");
    let mut devtools = None;
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Some(port) = text.lines().next().and_then(|l| l.parse().ok())
        {
            devtools = Some(port);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Browser {
        child,
        _profile: profile,
        devtools: devtools.expect("chromium opened its DevTools port"),
    }
}

impl Browser {
    /// Evaluates `expression` in the page and returns its JSON value.
    async fn eval(&self, expression: &str) -> Value {
        let list: Vec<Value> =
            reqwest::get(format!("http://127.0.0.1:{}/json/list", self.devtools))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        let page = list
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target");
        let (mut cdp, _) = connect_async(page["webSocketDebuggerUrl"].as_str().unwrap())
            .await
            .unwrap();
        let call = json!({"id": 1, "method": "Runtime.evaluate",
            "params": {"expression": format!("JSON.stringify({expression})"), "returnByValue": true}});
        cdp.send(Message::text(call.to_string())).await.unwrap();
        while let Some(Ok(message)) = cdp.next().await {
            if let Message::Text(text) = message {
                let reply: Value = serde_json::from_str(text.as_str()).unwrap();
                if reply["id"] == 1 {
                    let value = reply["result"]["result"]["value"]
                        .as_str()
                        .unwrap_or("null");
                    return serde_json::from_str(value).unwrap_or(Value::Null);
                }
            }
        }
        Value::Null
    }

    /// Waits until `expression` is true in the page.
    async fn wait_for(&self, expression: &str, what: &str) {
        for _ in 0..150 {
            if self.eval(expression).await == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = self.eval("[window.seen, window.states]").await;
        panic!("waited in vain for {what}; page has {seen}");
    }
}

/// Renames the organization as the server's administrator (`common::ws::rename_org`).
async fn rename_org(server: &TestServer, org_id: &str, name: &str) {
    common::ws::rename_org(server, &server.token, org_id, name).await;
}

async fn org_of(server: &TestServer) -> String {
    let list: Value = server
        .get("/api/v1/organizations")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["items"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_browser_client_misses_nothing_across_a_server_restart() {
    let Some(binary) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium");
        eprintln!("chromium is not installed: the browser test did not run");
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let database = steelyard_store::testing::TestDatabase::new().await;
    let server = TestServer::start_listening(database, &[], page_routes(), listener).await;
    server.create_org("Browser Co").await;
    // A platform-level token: the page's socket follows the oldest (and only) organization.
    let token = server
        .login(common::ADMIN_EMAIL, common::ADMIN_PASSWORD)
        .await;
    let org = org_of(&server).await;
    let page = format!("{}/test/realtime.html#{token}", server.base);
    let browser = launch(&binary, &page).await;
    browser
        .wait_for("window.states.includes('open')", "the socket to open")
        .await;
    // Subscribed once the first change arrives; give the subscription a moment first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 1..=3 {
        rename_org(&server, &org, &format!("Browser Co {n}")).await;
    }
    browser
        .wait_for("window.seen.length === 3", "three live events")
        .await;

    // The server goes away; changes are committed elsewhere meanwhile (a second instance on
    // the same database, on another port).
    let database = server.stop().await;
    let elsewhere = TestServer::start_on(database, &[], Router::new()).await;
    for n in 4..=6 {
        rename_org(&elsewhere, &org, &format!("Browser Co {n}")).await;
    }
    let database = elsewhere.stop().await;
    browser
        .wait_for(
            "window.states.includes('reconnecting')",
            "the page to notice",
        )
        .await;

    // Back on the same port: the page reconnects, resumes and then gets live changes.
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let server = TestServer::start_listening(database, &[], page_routes(), listener).await;
    browser
        .wait_for("window.seen.length === 6", "the three missed events")
        .await;
    for n in 7..=8 {
        rename_org(&server, &org, &format!("Browser Co {n}")).await;
    }
    browser
        .wait_for("window.seen.length === 8", "two more live events")
        .await;
    let seen: Vec<i64> = serde_json::from_value(browser.eval("window.seen").await).unwrap();
    let first = seen[0];
    assert_eq!(
        seen,
        (first..first + 8).collect::<Vec<_>>(),
        "every event once, in order"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again: Vec<i64> = serde_json::from_value(browser.eval("window.seen").await).unwrap();
    assert_eq!(again.len(), 8, "nothing delivered twice");
}
