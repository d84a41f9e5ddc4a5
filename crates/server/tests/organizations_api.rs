//! `/api/v1/organizations` over real HTTP: the pattern every resource follows.

mod common;

use common::{TestServer, problem};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn create_answers_201_with_location_and_etag_and_get_returns_the_same_record() {
    let server = TestServer::start().await;
    let response = server
        .post(
            "/api/v1/organizations",
            json!({"name": " Northwind ", "base_currency": "eur"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        (created["name"].as_str(), created["base_currency"].as_str()),
        (Some("Northwind"), Some("EUR"))
    );
    assert_eq!(
        location,
        format!("/api/v1/organizations/{}", created["id"].as_str().unwrap())
    );
    let fetched = server.get(&location).send().await.unwrap();
    assert_eq!(fetched.headers()["etag"], "\"1\"");
    assert_eq!(fetched.json::<Value>().await.unwrap(), created);
}

#[tokio::test]
async fn validation_lists_every_bad_field_and_creates_nothing() {
    let server = TestServer::start().await;
    let response = server
        .post(
            "/api/v1/organizations",
            json!({"name": "", "base_currency": "euro", "tax_id": "x".repeat(60)}),
        )
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "tax_id", "base_currency"]);
    let list: Value = server
        .get("/api/v1/organizations?status=all")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_first_response_and_creates_once() {
    let server = TestServer::start().await;
    let send = |name: &'static str| {
        server
            .post("/api/v1/organizations", json!({"name": name}))
            .header("idempotency-key", "key-1")
            .send()
    };
    let first = send("Once").await.unwrap();
    assert_eq!(first.status(), 201);
    let first_location = first.headers()["location"].clone();
    let first: Value = first.json().await.unwrap();
    let retry = send("Once").await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["location"], first_location);
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    problem(send("Different body").await.unwrap(), 422).await;

    // Concurrent requests with one fresh key: one organization.
    let racers = (0..8).map(|_| {
        server
            .post("/api/v1/organizations", json!({"name": "Raced"}))
            .header("idempotency-key", "key-2")
            .send()
    });
    let results = futures::future::join_all(racers).await;
    let mut ids = std::collections::HashSet::new();
    for result in results {
        let response = result.unwrap();
        assert_eq!(response.status(), 201);
        ids.insert(
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let list: Value = server
        .get("/api/v1/organizations?q=raced")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn updates_need_the_current_etag_and_a_stale_one_changes_nothing() {
    let server = TestServer::start().await;
    let org = server.create_org("Acme").await;
    let path = format!("/api/v1/organizations/{}", org["id"].as_str().unwrap());
    let patch = |etag: Option<&str>, body: Value| {
        let mut request = server.request(Method::PATCH, &path).json(&body);
        if let Some(etag) = etag {
            request = request.header("if-match", etag);
        }
        request.send()
    };
    problem(patch(None, json!({"name": "No etag"})).await.unwrap(), 428).await;
    let updated = patch(
        Some("\"1\""),
        json!({"name": "Acme Tools", "tax_id": "DE1"}),
    )
    .await
    .unwrap();
    assert_eq!(updated.status(), 200);
    assert_eq!(updated.headers()["etag"], "\"2\"");
    problem(
        patch(Some("\"1\""), json!({"name": "Stale"}))
            .await
            .unwrap(),
        412,
    )
    .await;
    problem(
        patch(Some("garbage"), json!({"name": "Garbage"}))
            .await
            .unwrap(),
        412,
    )
    .await;
    let cleared = patch(Some("W/\"2\""), json!({"tax_id": null}))
        .await
        .unwrap();
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(
        (cleared["name"].as_str(), &cleared["tax_id"]),
        (Some("Acme Tools"), &Value::Null)
    );
    assert_eq!(cleared["version"], 3);
    let any = patch(Some("*"), json!({"legal_name": "Acme Tools GmbH"}))
        .await
        .unwrap();
    assert_eq!(
        any.status(),
        200,
        "If-Match: * matches whatever version is current"
    );
}

#[tokio::test]
async fn archiving_hides_from_the_default_list_blocks_changes_and_is_in_the_history() {
    let server = TestServer::start().await;
    let org = server.create_org("Old Co").await;
    let id = org["id"].as_str().unwrap();
    let archived = server
        .post(&format!("/api/v1/organizations/{id}/archive"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(archived.status(), 200);
    let again = server
        .post(&format!("/api/v1/organizations/{id}/archive"), json!({}))
        .send()
        .await
        .unwrap();
    problem(again, 409).await;
    let change = server
        .request(Method::PATCH, &format!("/api/v1/organizations/{id}"))
        .header("if-match", "\"2\"")
        .json(&json!({"name": "New name"}))
        .send()
        .await
        .unwrap();
    problem(change, 409).await;
    let active: Value = server
        .get("/api/v1/organizations")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(active["items"].as_array().unwrap().is_empty());
    let archived_list: Value = server
        .get("/api/v1/organizations?status=archived")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(archived_list["items"][0]["id"], id);

    let history: Value = server
        .get(&format!("/api/v1/organizations/{id}/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["kind"], "organization.archived");
    let changes = &items[1]["changes"];
    assert_eq!(
        changes["status"],
        json!({"before": "active", "after": "archived"})
    );
    assert!(items[1]["actor"].as_str().unwrap().starts_with("user:"));
    assert!(items[1]["request_id"].is_string());
}

#[tokio::test]
async fn the_list_pages_with_an_opaque_cursor_and_searches_by_name() {
    let server = TestServer::start().await;
    for name in ["Alpha Metals", "Beta Metals", "Gamma Plastics"] {
        server.create_org(name).await;
    }
    let first: Value = server
        .get("/api/v1/organizations?limit=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = server
        .get(&format!("/api/v1/organizations?limit=2&cursor={cursor}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    let metals: Value = server
        .get("/api/v1/organizations?q=METALS")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metals["items"].as_array().unwrap().len(), 2);
    let percent: Value = server
        .get("/api/v1/organizations?q=%25")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        percent["items"].as_array().unwrap().is_empty(),
        "% is a literal, not a wildcard"
    );
    let bad = server
        .get("/api/v1/organizations?limit=0&cursor=zzz&status=gone")
        .send()
        .await
        .unwrap();
    let body = problem(bad, 422).await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 3, "{body}");
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let server = TestServer::start().await;
    let anonymous = server
        .client
        .get(server.url("/api/v1/organizations"))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
    let forged = server
        .client
        .get(server.url("/api/v1/organizations"))
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap();
    problem(forged, 401).await;
}

#[tokio::test]
async fn sigterm_style_shutdown_finishes_requests_in_flight_and_committed_data_survives_a_restart()
{
    let server = TestServer::start().await;
    let client = server.client.clone();
    let url = server.url("/api/v1/organizations");
    let token = server.token.clone();
    let writes: Vec<_> = (0..20)
        .map(|i| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"name": format!("Shutdown {i}")}))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status() == 201 => Some(
                        r.json::<Value>().await.unwrap()["id"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    ),
                    _ => None,
                }
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let database = server.stop().await;
    let mut committed = Vec::new();
    for write in writes {
        if let Some(id) = write.await.unwrap() {
            committed.push(id);
        }
    }
    assert!(
        !committed.is_empty(),
        "some writes were in flight and completed"
    );
    let restarted = TestServer::start_on(database, &[], axum::Router::new()).await;
    for id in committed {
        let response = restarted
            .get(&format!("/api/v1/organizations/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "organization {id} answered 201 and must survive"
        );
    }
}
