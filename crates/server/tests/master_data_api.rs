//! Master data over real HTTP: commodities, taxes, departments and units, and what every kind
//! shares (validation, unique codes, idempotent create, isolation, lists and CSV). The chart of
//! accounts and taxes on orders are in accounting_api.rs, employees in hr_api.rs.

mod common;

use common::{TestServer, problem};
use reqwest::{Method, Response};
use serde_json::{Value, json};

async fn create(server: &TestServer, path: &str, body: Value) -> Value {
    let response = server.post(path, body).send().await.unwrap();
    assert_eq!(response.status(), 201, "POST {path}");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("{path}/{}", created["id"].as_str().unwrap())
    );
    created
}

async fn json_of(server: &TestServer, path: &str) -> Value {
    let response = server.get(path).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

fn field_names(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

async fn patch(server: &TestServer, path: &str, if_match: Option<&str>, body: Value) -> Response {
    let mut request = server.request(Method::PATCH, path).json(&body);
    if let Some(etag) = if_match {
        request = request.header("if-match", etag);
    }
    request.send().await.unwrap()
}

/// The administrator's token for working in `org_id`.
async fn token_in(server: &TestServer, org_id: &str) -> String {
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

fn codes(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_commodity_is_created_read_changed_archived_restored_and_its_history_shows_each_change() {
    let (server, org_id) = TestServer::in_org("Cotton Traders").await;
    let commodity = create(
        &server,
        "/api/v1/commodities",
        json!({
            "code": "COT-S6", "name": "Raw cotton Shankar-6", "unit": "bale", "hs_code": "5201.00",
            "category": "cotton",
            "quality": [
                {"name": "staple length", "min": "28.5", "max": "30", "unit": "mm"},
                {"name": "micronaire", "min": 3.5, "max": "4.9"},
                {"name": "trash", "max": "3.0", "unit": "%"}
            ],
            "quality_notes": "crop 2026"
        }),
    )
    .await;
    assert_eq!(
        (
            &commodity["organization_id"],
            &commodity["hs_code"],
            &commodity["version"]
        ),
        (&json!(org_id), &json!("520100"), &json!(1))
    );
    assert_eq!(
        commodity["quality"][2],
        json!({"name": "trash", "min": null, "max": "3", "unit": "%"})
    );
    let path = format!("/api/v1/commodities/{}", commodity["id"].as_str().unwrap());
    let fetched = server.get(&path).send().await.unwrap();
    assert_eq!(fetched.headers()["etag"], "\"1\"");
    assert_eq!(fetched.json::<Value>().await.unwrap(), commodity);

    problem(patch(&server, &path, None, json!({"unit": "t"})).await, 428).await;
    let changed = patch(
        &server,
        &path,
        Some("\"1\""),
        json!({"unit": "t", "quality_notes": null}),
    )
    .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.headers()["etag"], "\"2\"");
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(
        (&changed["unit"], &changed["quality_notes"]),
        (&json!("t"), &Value::Null)
    );
    problem(
        patch(&server, &path, Some("\"1\""), json!({"unit": "kg"})).await,
        412,
    )
    .await;

    let archived = server
        .post(&format!("{path}/archive"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(archived.status(), 200);
    assert_eq!(
        archived.json::<Value>().await.unwrap()["status"],
        "archived"
    );
    problem(
        patch(&server, &path, Some("*"), json!({"name": "Renamed"})).await,
        409,
    )
    .await;
    let active = json_of(&server, "/api/v1/commodities").await;
    assert!(
        active["items"].as_array().unwrap().is_empty(),
        "archived ones are hidden"
    );
    let all = json_of(&server, "/api/v1/commodities?status=all").await;
    assert_eq!(codes(&all), ["COT-S6"]);
    let restored = server
        .post(&format!("{path}/restore"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(restored.json::<Value>().await.unwrap()["version"], 4);

    let history = json_of(&server, &format!("{path}/history")).await;
    let kinds: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "commodity.created",
            "commodity.updated",
            "commodity.archived",
            "commodity.restored"
        ]
    );
    assert_eq!(
        history["items"][1]["changes"]["unit"],
        json!({"before": "bale", "after": "t"})
    );
    assert_eq!(
        history["items"][1]["changes"]["quality_notes"],
        json!({"before": "crop 2026", "after": null})
    );
}

#[tokio::test]
async fn bad_input_is_a_422_naming_every_field_and_changes_nothing() {
    let (server, _) = TestServer::in_org("Strict Co").await;
    let refused = server
        .post(
            "/api/v1/taxes",
            json!({"name": "", "rate": "150", "applies_to": "rent"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        field_names(&problem(refused, 422).await),
        ["code", "name", "rate", "applies_to"]
    );
    let precise = server
        .post(
            "/api/v1/taxes",
            json!({"code": "X", "name": "X", "rate": "7.12345"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(precise, 422).await["errors"][0]["code"],
        "too_precise"
    );
    assert!(
        json_of(&server, "/api/v1/taxes?status=all").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let tax = create(
        &server,
        "/api/v1/taxes",
        json!({"code": "VAT19", "name": "VAT 19 %", "rate": "19", "inclusive": false}),
    )
    .await;
    assert_eq!(
        (&tax["rate"], &tax["inclusive"], &tax["applies_to"]),
        (&json!("19.0000"), &json!(false), &json!("both"))
    );
    let path = format!("/api/v1/taxes/{}", tax["id"].as_str().unwrap());
    let refused = patch(
        &server,
        &path,
        Some("\"1\""),
        json!({"rate": "-1", "name": null, "inclusive": true}),
    )
    .await;
    assert_eq!(field_names(&problem(refused, 422).await), ["name", "rate"]);
    let unchanged = json_of(&server, &path).await;
    assert_eq!(unchanged, tax, "nothing changed, not even the valid field");
    let history = json_of(&server, &format!("{path}/history")).await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1);

    let commodity = server
        .post(
            "/api/v1/commodities",
            json!({"code": "C1", "name": "Cotton", "unit": "bushel",
                   "quality": [{"name": "micronaire", "min": "4.9", "max": "3.5"}, {"name": "colour"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        field_names(&problem(commodity, 422).await),
        ["unit", "quality[0].max", "quality[1].min"]
    );
}

#[tokio::test]
async fn codes_are_unique_per_organization_ignoring_case_and_retries_create_once() {
    let (server, _) = TestServer::in_org("Codes Co").await;
    let body = json!({"code": "ASSY", "name": "Assembly"});
    let first = server
        .post("/api/v1/departments", body.clone())
        .header("idempotency-key", "dept-1")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let retried = server
        .post("/api/v1/departments", body)
        .header("idempotency-key", "dept-1")
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 201);
    assert_eq!(retried.json::<Value>().await.unwrap()["id"], first["id"]);
    let clash = server
        .post(
            "/api/v1/departments",
            json!({"code": "assy", "name": "Assembly two"}),
        )
        .send()
        .await
        .unwrap();
    assert!(
        problem(clash, 409).await["detail"]
            .as_str()
            .unwrap()
            .contains("assy")
    );
    create(
        &server,
        "/api/v1/departments",
        json!({"code": "QA", "name": "Quality"}),
    )
    .await;
    let qa_path = {
        let list = json_of(&server, "/api/v1/departments?q=quality").await;
        format!(
            "/api/v1/departments/{}",
            list["items"][0]["id"].as_str().unwrap()
        )
    };
    problem(
        patch(&server, &qa_path, Some("*"), json!({"code": "Assy"})).await,
        409,
    )
    .await;

    // Another organization has its own codes.
    let other = server.create_org("Codes Elsewhere").await;
    let elsewhere = server
        .client
        .post(server.url("/api/v1/departments"))
        .bearer_auth(token_in(&server, other["id"].as_str().unwrap()).await)
        .json(&json!({"code": "ASSY", "name": "Assembly"}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 201);
}

#[tokio::test]
async fn records_of_other_organizations_answer_404_and_are_not_listed() {
    let (server, _) = TestServer::in_org("Home Co").await;
    let tax = create(
        &server,
        "/api/v1/taxes",
        json!({"code": "GST5", "name": "GST 5 %", "rate": "5"}),
    )
    .await;
    let path = format!("/api/v1/taxes/{}", tax["id"].as_str().unwrap());
    // An administrator of another organization (not a platform super-admin, who sees all).
    let other = server.create_org("Away Co").await;
    let created: Value = server
        .post(
            "/api/v1/users",
            json!({"email": "admin@away.example", "role": "admin", "organization_id": other["id"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let away = server
        .login(
            "admin@away.example",
            created["one_time_password"].as_str().unwrap(),
        )
        .await;
    let as_away = |method: Method, path: String| {
        server
            .client
            .request(method, server.url(&path))
            .bearer_auth(&away)
            .header("if-match", "*")
            .json(&json!({"name": "Mine now"}))
            .send()
    };
    for (method, path) in [
        (Method::GET, path.clone()),
        (Method::PATCH, path.clone()),
        (Method::POST, format!("{path}/archive")),
        (Method::GET, format!("{path}/history")),
    ] {
        problem(as_away(method, path).await.unwrap(), 404).await;
    }
    let listed: Value = as_away(Method::GET, "/api/v1/taxes?status=all".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed["items"].as_array().unwrap().is_empty());
    assert_eq!(json_of(&server, &path).await["version"], 1);
}

#[tokio::test]
async fn lists_filter_search_page_and_export_every_page_as_csv() {
    let (server, _) = TestServer::in_org("Lists Co").await;
    for (code, name, applies_to, inclusive) in [
        ("VAT19", "VAT standard", "both", false),
        ("VAT7", "VAT reduced", "sales", true),
        ("RC0", "Reverse charge", "purchases", false),
    ] {
        create(
            &server,
            "/api/v1/taxes",
            json!({"code": code, "name": name, "rate": code.trim_start_matches(char::is_alphabetic), "applies_to": applies_to, "inclusive": inclusive}),
        )
        .await;
    }
    assert_eq!(
        codes(&json_of(&server, "/api/v1/taxes?applies_to=sales").await),
        ["VAT19", "VAT7"]
    );
    assert_eq!(
        codes(&json_of(&server, "/api/v1/taxes?applies_to=purchases").await),
        ["VAT19", "RC0"]
    );
    assert_eq!(
        codes(&json_of(&server, "/api/v1/taxes?q=vat%20R").await),
        ["VAT7"]
    );
    assert_eq!(
        codes(&json_of(&server, "/api/v1/taxes?q=rc").await),
        ["RC0"]
    );

    let first = json_of(&server, "/api/v1/taxes?limit=2").await;
    assert_eq!(codes(&first), ["VAT19", "VAT7"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json_of(&server, &format!("/api/v1/taxes?limit=2&cursor={cursor}")).await;
    assert_eq!(
        (codes(&second), &second["next_cursor"]),
        (vec!["RC0"], &Value::Null)
    );

    let export = server
        .get("/api/v1/taxes?limit=1")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
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
        "id,code,name,rate,inclusive,applies_to,description,status,version,created_at,updated_at"
    );
    assert_eq!(lines.len(), 4, "every page, not just the first");
    assert!(lines[2].contains(",VAT7,VAT reduced,7.0000,true,sales,,active,1,"));

    let bad = server
        .get("/api/v1/taxes?applies_to=rent&limit=0")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(
        field_names(&problem(bad, 422).await),
        ["limit", "applies_to"]
    );
    let unknown_param = server.get("/api/v1/taxes?colour=red").send().await.unwrap();
    problem(unknown_param, 422).await;
}

#[tokio::test]
async fn units_of_measure_are_a_read_only_catalogue() {
    let (server, _) = TestServer::in_org("Units Co").await;
    let units = json_of(&server, "/api/v1/units").await;
    let codes = codes(&units);
    assert!(codes.contains(&"bale") && codes.contains(&"kg"));
    assert_eq!(units["items"][0], json!({"code": "ea", "name": "each"}));
    let anonymous = server
        .client
        .get(server.url("/api/v1/units"))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
}
