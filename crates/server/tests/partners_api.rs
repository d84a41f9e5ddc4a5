//! `/api/v1/partners`, CSV export and `/api/v1/events` over real HTTP.

mod common;

use common::{TestServer, problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn in_org() -> (TestServer, String) {
    TestServer::in_org("Trading Co").await
}

async fn create(server: &TestServer, body: Value) -> Value {
    let response = server.post("/api/v1/partners", body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_partner_is_created_read_changed_archived_and_its_history_shows_each_change() {
    let (server, org_id) = in_org().await;
    let body = json!({
        "name": "Anderson Steel", "kind": "vendor", "tax_id": "US-12", "payment_terms_days": 45,
        "contacts": [{"name": "Ann Smith", "email": "ann@anderson.example"}],
        "addresses": [{"kind": "billing", "line1": "1 Mill Rd", "city": "Pittsburgh", "country": "us"}]
    });
    let partner = create(&server, body).await;
    assert_eq!(partner["organization_id"], org_id.as_str());
    assert_eq!(partner["addresses"][0]["country"], "US");
    let path = format!("/api/v1/partners/{}", partner["id"].as_str().unwrap());
    let fetched = server.get(&path).send().await.unwrap();
    assert_eq!(fetched.headers()["etag"], "\"1\"");

    let patched = server
        .request(Method::PATCH, &path)
        .header("if-match", "\"1\"")
        .json(&json!({"kind": "both", "tax_id": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(
        (patched["kind"].as_str(), &patched["tax_id"]),
        (Some("both"), &Value::Null)
    );
    let stale = server
        .request(Method::PATCH, &path)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    problem(stale, 412).await;
    let bad = server
        .request(Method::PATCH, &path)
        .header("if-match", "\"2\"")
        .json(&json!({"name": null, "email": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(bad, 422).await["errors"].as_array().unwrap().len(),
        2
    );

    assert_eq!(
        server
            .post(&format!("{path}/archive"), json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let history: Value = server
        .get(&format!("{path}/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["partner.created", "partner.updated", "partner.archived"]
    );
    assert_eq!(
        history["items"][1]["changes"]["kind"],
        json!({"before": "vendor", "after": "both"})
    );
}

#[tokio::test]
async fn names_are_unique_per_organization_and_bad_drafts_name_every_field() {
    let (server, _) = in_org().await;
    create(&server, json!({"name": "Acme", "kind": "customer"})).await;
    problem(
        server
            .post(
                "/api/v1/partners",
                json!({"name": " ACME ", "kind": "vendor"}),
            )
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    let bad = server
        .post("/api/v1/partners", json!({"name": "", "kind": "friend", "addresses": [{"kind": "billing", "line1": "x", "city": "y", "country": "Germany"}]}))
        .send()
        .await
        .unwrap();
    let body = problem(bad, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "kind", "addresses[0].country"]);
}

#[tokio::test]
async fn the_list_filters_by_kind_and_streams_every_page_as_csv() {
    let (server, _) = in_org().await;
    for (name, kind) in [
        ("V1", "vendor"),
        ("V2", "vendor"),
        ("C1", "customer"),
        ("B1", "both"),
    ] {
        create(&server, json!({"name": name, "kind": kind})).await;
    }
    let vendors: Value = server
        .get("/api/v1/partners?kind=vendor")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = vendors["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["V1", "V2", "B1"],
        "vendors include partners of both kinds"
    );

    for i in 0..600 {
        create(
            &server,
            json!({"name": format!("Bulk {i:03}"), "kind": "customer"}),
        )
        .await;
    }
    let export = server
        .get("/api/v1/partners?q=bulk&limit=10")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert!(
        export.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = export.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,name,kind,tax_id,email,phone,payment_terms_days,currency,status,version,created_at,updated_at"
    );
    assert_eq!(lines.len(), 601, "every page, not just the first");
    assert!(lines[1].contains("Bulk 000") && lines[600].contains("Bulk 599"));

    let orgs = server
        .get("/api/v1/organizations?status=all")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(orgs.text().await.unwrap().starts_with("id,name,legal_name"));
    problem(
        server
            .get("/api/v1/partners?kind=friend")
            .header("accept", "text/csv")
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
}

#[tokio::test]
async fn partners_of_other_organizations_and_other_partners_are_invisible() {
    let (server, org_id) = in_org().await;
    let mine = create(&server, json!({"name": "Mine", "kind": "vendor"})).await;
    let other = create(&server, json!({"name": "Other", "kind": "vendor"})).await;
    // A vendor portal user of "Mine" sees that partner only.
    let created: Value = server
        .post("/api/v1/users", json!({"email": "portal@mine.example", "role": "partner_portal", "partner_id": mine["id"], "organization_id": org_id}))
        .send().await.unwrap().json().await.unwrap();
    let portal = server
        .login(
            "portal@mine.example",
            created["one_time_password"].as_str().unwrap(),
        )
        .await;
    let as_portal = |path: String| {
        server
            .client
            .get(server.url(&path))
            .bearer_auth(&portal)
            .send()
    };
    // partner_portal holds no partner.read: it sees its documents, not the partner register.
    problem(
        as_portal(format!("/api/v1/partners/{}", mine["id"].as_str().unwrap()))
            .await
            .unwrap(),
        403,
    )
    .await;

    // An admin of another organization gets 404 by id.
    let elsewhere = server.create_org("Elsewhere").await;
    let admin: Value = server
        .post("/api/v1/users", json!({"email": "admin@elsewhere.example", "role": "admin", "organization_id": elsewhere["id"]}))
        .send().await.unwrap().json().await.unwrap();
    let admin = server
        .login(
            "admin@elsewhere.example",
            admin["one_time_password"].as_str().unwrap(),
        )
        .await;
    let probe = server
        .client
        .get(server.url(&format!(
            "/api/v1/partners/{}",
            other["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    problem(probe, 404).await;
    let list: Value = server
        .client
        .get(server.url("/api/v1/partners"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_event_log_filters_by_aggregate_kind_actor_and_time_and_pages_by_sequence() {
    let (server, org_id) = in_org().await;
    let before = chrono::Utc::now();
    let a = create(&server, json!({"name": "A", "kind": "vendor"})).await;
    create(&server, json!({"name": "B", "kind": "vendor"})).await;
    let path = format!("/api/v1/partners/{}", a["id"].as_str().unwrap());
    server
        .request(Method::PATCH, &path)
        .header("if-match", "*")
        .json(&json!({"phone": "555"}))
        .send()
        .await
        .unwrap();

    let all: Value = server
        .get("/api/v1/events?aggregate_type=partner")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    let of_a: Value = server
        .get(&format!(
            "/api/v1/events?aggregate_id={}",
            a["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(of_a["items"].as_array().unwrap().len(), 2);
    let updates: Value = server
        .get("/api/v1/events?kind=partner.updated")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updates["items"][0]["changes"]["phone"]["after"], "555");
    let actor = updates["items"][0]["actor"].as_str().unwrap().to_owned();
    let by_actor: Value = server
        .get(&format!(
            "/api/v1/events?actor={actor}&aggregate_type=partner"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_actor["items"].as_array().unwrap().len(), 3);
    let since = before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let timed: Value = server
        .get(&format!(
            "/api/v1/events?from={since}&aggregate_type=partner"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(timed["items"].as_array().unwrap().len(), 3);

    let first: Value = server
        .get("/api/v1/events?limit=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after = first["next_after"].as_i64().unwrap();
    let second: Value = server
        .get(&format!("/api/v1/events?limit=2&after={after}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(second["items"][0]["seq"].as_i64().unwrap() > after);
    assert_eq!(second["items"][0]["org_id"], org_id.as_str());

    problem(
        server
            .get("/api/v1/events?from=yesterday")
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    let elsewhere = server.create_org("Other Books").await;
    let theirs: Value = server
        .get(&format!(
            "/api/v1/events?organization_id={}",
            elsewhere["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        theirs["items"][0]["kind"], "organization.created",
        "super-admins may name any organization"
    );
}

#[tokio::test]
async fn a_super_admin_at_platform_level_lists_partners_of_every_organization_but_creates_in_one() {
    let (server, _) = in_org().await;
    create(&server, json!({"name": "In First", "kind": "vendor"})).await;
    let platform = server
        .login(common::ADMIN_EMAIL, common::ADMIN_PASSWORD)
        .await;
    let listed: Value = server
        .client
        .get(server.url("/api/v1/partners"))
        .bearer_auth(&platform)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["name"], "In First");
    let create = server
        .client
        .post(server.url("/api/v1/partners"))
        .bearer_auth(&platform)
        .json(&json!({"name": "Nowhere", "kind": "vendor"}))
        .send()
        .await
        .unwrap();
    let body = problem(create, 422).await;
    assert_eq!(body["errors"][0]["field"], "organization");
}
