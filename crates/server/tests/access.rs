//! Roles and scopes over real HTTP: a user's permissions come from their role, the
//! authorization matrix drives every endpoint with every built-in role, other organizations
//! stay invisible, partner portal users need a partner of the organization and act in the
//! EXTERNAL scope of it, and custom roles grant exactly their permissions.

mod common;

use common::members::{call, me, member, partner_in, server};
use common::problem;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use steelyard_domain::roles::BUILT_IN;
use steelyard_server::api::permissions::REQUIRED;

#[tokio::test]
async fn a_user_signs_in_into_their_organization_with_their_roles_permissions() {
    let server = server().await;
    let org = server.create_org("Acme").await;
    let org_id = org["id"].as_str().unwrap();
    let (_, token) = member(&server, org_id, "purchaser", "pat@acme.example").await;
    let me = me(&server, &token).await;
    assert_eq!(
        (me["organization_id"].as_str(), me["data_scope"].as_str()),
        (Some(org_id), Some("INTERNAL"))
    );
    let permissions: Vec<&str> = me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(permissions.contains(&"purchasing.order.manage"));
    assert!(
        !permissions.contains(&"user.manage") && !permissions.contains(&"purchasing.order.approve")
    );
}

#[tokio::test]
async fn the_authorization_matrix_holds_for_every_built_in_role_and_every_declared_operation() {
    let server = server().await;
    let org = server.create_org("Matrix Co").await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let (target, _) = member(&server, &org_id, "operator", "target@matrix.example").await;
    let unknown = steelyard_domain::new_id().to_string();
    for (role, permissions) in BUILT_IN {
        let (_, token) = member(&server, &org_id, role, &format!("{role}@matrix.example")).await;
        for (method, template, permission) in REQUIRED {
            let Some(permission) = permission else {
                continue;
            };
            let id = match template {
                t if t.starts_with("/api/v1/organizations/") => org_id.as_str(),
                t if t.starts_with("/api/v1/users/") => target.as_str(),
                _ => unknown.as_str(),
            };
            let path = template.replace("{id}", id);
            let method: Method = method.to_uppercase().parse().unwrap();
            let body = (method == Method::POST || method == Method::PATCH).then(|| json!({}));
            let response = call(&server, &token, method.clone(), &path, body).await;
            let holds = permissions.iter().any(|p| p.name() == *permission);
            let status = response.status();
            if holds {
                assert!(
                    status != StatusCode::FORBIDDEN && status.as_u16() < 500,
                    "{role} {method} {path}: {status}"
                );
            } else {
                let body = problem(response, 403).await;
                assert!(
                    body["detail"].as_str().unwrap().contains(permission),
                    "{role} {method} {path}: {body}"
                );
            }
        }
    }
}

#[tokio::test]
async fn other_organizations_are_invisible_by_id_to_read_and_to_write() {
    let server = server().await;
    let mine = server.create_org("Mine").await;
    let theirs = server.create_org("Theirs").await;
    let (_, admin) = member(
        &server,
        mine["id"].as_str().unwrap(),
        "admin",
        "boss@mine.example",
    )
    .await;
    let theirs_path = format!("/api/v1/organizations/{}", theirs["id"].as_str().unwrap());
    problem(
        call(&server, &admin, Method::GET, &theirs_path, None).await,
        404,
    )
    .await;
    problem(
        call(
            &server,
            &admin,
            Method::PATCH,
            &theirs_path,
            Some(json!({"name": "Mine now"})),
        )
        .await,
        404,
    )
    .await;
    problem(
        call(
            &server,
            &admin,
            Method::GET,
            &format!("{theirs_path}/history"),
            None,
        )
        .await,
        404,
    )
    .await;
    let list: Value = call(&server, &admin, Method::GET, "/api/v1/organizations", None)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine["id"].as_str().unwrap()]);
    // Users of another organization cannot be listed or disabled either.
    let (their_user, _) = member(
        &server,
        theirs["id"].as_str().unwrap(),
        "sales",
        "sam@theirs.example",
    )
    .await;
    let list_theirs = call(
        &server,
        &admin,
        Method::GET,
        &format!(
            "/api/v1/users?organization_id={}",
            theirs["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    problem(list_theirs, 404).await;
    problem(
        call(
            &server,
            &admin,
            Method::POST,
            &format!("/api/v1/users/{their_user}/disable"),
            Some(json!({})),
        )
        .await,
        404,
    )
    .await;
    // Switching into an organization you do not belong to is refused.
    let switch = call(
        &server,
        &admin,
        Method::POST,
        "/api/v1/auth/switch-organization",
        Some(json!({"organization_id": theirs["id"]})),
    )
    .await;
    problem(switch, 403).await;
}

#[tokio::test]
async fn partner_portal_users_act_in_the_external_scope_of_their_partner() {
    let server = server().await;
    let org = server.create_org("Portal Co").await;
    let partner = partner_in(&server, org["id"].as_str().unwrap()).await;
    let unknown = json!({"email": "v0@supplier.example", "role": "partner_portal", "partner_id": steelyard_domain::new_id(), "organization_id": org["id"]});
    let body = problem(
        server.post("/api/v1/users", unknown).send().await.unwrap(),
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["code"], "unknown");
    let body = json!({"email": "vendor@supplier.example", "role": "partner_portal", "partner_id": partner, "organization_id": org["id"]});
    let created: Value = server
        .post("/api/v1/users", body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = server
        .login(
            "vendor@supplier.example",
            created["one_time_password"].as_str().unwrap(),
        )
        .await;
    assert_eq!(me(&server, &token).await["data_scope"], "EXTERNAL");
    let missing_partner = server
        .post("/api/v1/users", json!({"email": "v2@supplier.example", "role": "partner_portal", "organization_id": org["id"]}))
        .send()
        .await
        .unwrap();
    let body = problem(missing_partner, 422).await;
    assert_eq!(body["errors"][0]["field"], "partner_id");
}

#[tokio::test]
async fn custom_roles_grant_exactly_their_permissions() {
    let server = server().await;
    let org = server.create_org("Custom").await;
    let org_id = org["id"].as_str().unwrap();
    let (_, admin) = member(&server, org_id, "admin", "ada@custom.example").await;
    let role = call(
        &server,
        &admin,
        Method::POST,
        "/api/v1/roles",
        Some(json!({"name": "qa_lead", "permissions": ["organization.read", "quality.manage"]})),
    )
    .await;
    assert_eq!(role.status(), 201);
    let location = role.headers()["location"].to_str().unwrap().to_owned();
    let fetched: Value = call(&server, &admin, Method::GET, &location, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["name"], "qa_lead");
    let reserved = call(
        &server,
        &admin,
        Method::POST,
        "/api/v1/roles",
        Some(json!({"name": "boss", "permissions": ["organization.create"]})),
    )
    .await;
    problem(reserved, 422).await;
    let created = call(
        &server,
        &admin,
        Method::POST,
        "/api/v1/users",
        Some(json!({"email": "quinn@custom.example", "role": "qa_lead"})),
    )
    .await;
    let created: Value = created.json().await.unwrap();
    let token = server
        .login(
            "quinn@custom.example",
            created["one_time_password"].as_str().unwrap(),
        )
        .await;
    let permissions = me(&server, &token).await["permissions"].clone();
    assert_eq!(permissions, json!(["organization.read", "quality.manage"]));
    let roles: Value = call(&server, &admin, Method::GET, "/api/v1/roles", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "qa_lead" && r["built_in"] == false)
    );
}
