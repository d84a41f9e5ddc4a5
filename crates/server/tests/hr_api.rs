//! Departments and employees over real HTTP: an employee works in an active department of its
//! own organization, and a department with active employees stays.

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
async fn an_employee_works_in_an_active_department_of_its_own_organization() {
    let (server, _) = TestServer::in_org("People Co").await;
    let assembly = create(
        &server,
        "/api/v1/departments",
        json!({"code": "ASSY", "name": "Assembly"}),
    )
    .await;
    let quality = create(
        &server,
        "/api/v1/departments",
        json!({"code": "QA", "name": "Quality"}),
    )
    .await;
    let employee = create(
        &server,
        "/api/v1/employees",
        json!({"code": "E-1", "name": "Maria Lopez", "department_id": assembly["id"],
               "job_title": "Fitter", "email": "maria@people.example", "hired_on": "2024-03-01"}),
    )
    .await;
    assert_eq!(employee["hired_on"], "2024-03-01");
    let path = format!("/api/v1/employees/{}", employee["id"].as_str().unwrap());

    let unknown = server
        .post(
            "/api/v1/employees",
            json!({"code": "E-2", "name": "Nobody", "department_id": steelyard_domain::new_id()}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(problem(unknown, 422).await["errors"][0]["code"], "unknown");
    let other = server.create_org("Other People").await;
    let foreign = server
        .client
        .post(server.url("/api/v1/departments"))
        .bearer_auth(token_in(&server, other["id"].as_str().unwrap()).await)
        .json(&json!({"code": "ASSY", "name": "Assembly"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let moved_abroad = patch(
        &server,
        &path,
        Some("\"1\""),
        json!({"department_id": foreign["id"]}),
    )
    .await;
    assert_eq!(
        field_names(&problem(moved_abroad, 422).await),
        ["department_id"]
    );

    let quality_path = format!("/api/v1/departments/{}", quality["id"].as_str().unwrap());
    let assembly_path = format!("/api/v1/departments/{}", assembly["id"].as_str().unwrap());
    server
        .post(&format!("{quality_path}/archive"), json!({}))
        .send()
        .await
        .unwrap();
    let into_archived = patch(
        &server,
        &path,
        Some("\"1\""),
        json!({"department_id": quality["id"]}),
    )
    .await;
    assert_eq!(
        problem(into_archived, 422).await["errors"][0]["code"],
        "archived"
    );

    let busy = server
        .post(&format!("{assembly_path}/archive"), json!({}))
        .send()
        .await
        .unwrap();
    assert!(
        problem(busy, 409).await["detail"]
            .as_str()
            .unwrap()
            .contains("1 active employee")
    );
    let of_assembly = json_of(
        &server,
        &format!(
            "/api/v1/employees?department_id={}",
            assembly["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(codes(&of_assembly), ["E-1"]);
    let of_quality = json_of(
        &server,
        &format!(
            "/api/v1/employees?department_id={}",
            quality["id"].as_str().unwrap()
        ),
    )
    .await;
    assert!(of_quality["items"].as_array().unwrap().is_empty());

    assert_eq!(
        server
            .post(&format!("{path}/archive"), json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        server
            .post(&format!("{assembly_path}/archive"), json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let back = server
        .post(&format!("{path}/restore"), json!({}))
        .send()
        .await
        .unwrap();
    assert!(
        problem(back, 409).await["detail"]
            .as_str()
            .unwrap()
            .contains("archived")
    );
    assert_eq!(json_of(&server, &path).await["status"], "archived");
}
