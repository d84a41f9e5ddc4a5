//! Users, roles, scopes and integration tokens over real HTTP, and the authorization matrix:
//! every endpoint driven with every built-in role.

mod common;

use axum::Router;
use common::{TestServer, problem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use steelyard_domain::roles::BUILT_IN;
use steelyard_server::api::permissions::REQUIRED;

/// Sign-in limits are high here: these tests sign many users in from one address.
async fn server() -> TestServer {
    TestServer::start_with(
        &[("STEELYARD_RATE_LIMIT_STRICT_PER_MIN", "1000")],
        Router::new(),
    )
    .await
}

/// Adds a user with `role` to `org` as the administrator; returns (user id, access token).
async fn member(server: &TestServer, org: &str, role: &str, email: &str) -> (String, String) {
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

/// A new partner of `org`, created by the administrator working in it.
async fn partner_in(server: &TestServer, org: &str) -> String {
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

async fn call(
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

async fn me(server: &TestServer, token: &str) -> Value {
    call(server, token, Method::GET, "/api/v1/auth/me", None)
        .await
        .json()
        .await
        .unwrap()
}

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
async fn disabling_a_user_cuts_off_their_tokens_at_once_and_enabling_lets_them_back() {
    let server = server().await;
    let org = server.create_org("Cutoff").await;
    let org_id = org["id"].as_str().unwrap();
    let email = "leaver@cutoff.example";
    let created: Value = server
        .post(
            "/api/v1/users",
            json!({"email": email, "role": "sales", "organization_id": org_id}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let password = created["one_time_password"].as_str().unwrap().to_owned();
    let user_id = created["id"].as_str().unwrap().to_owned();
    let token = server.login(email, &password).await;
    assert_eq!(
        call(&server, &token, Method::GET, "/api/v1/organizations", None)
            .await
            .status(),
        200
    );

    let disabled = server
        .post(&format!("/api/v1/users/{user_id}/disable"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        disabled.json::<Value>().await.unwrap()["status"],
        "disabled"
    );
    problem(
        call(&server, &token, Method::GET, "/api/v1/organizations", None).await,
        401,
    )
    .await;
    let relogin = server
        .client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    problem(relogin, 401).await;

    server
        .post(&format!("/api/v1/users/{user_id}/enable"), json!({}))
        .send()
        .await
        .unwrap();
    server.login(email, &password).await;
    let history: Value = server
        .get(&format!("/api/v1/organizations/{org_id}/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(history["items"].as_array().is_some());
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
    let server = server().await;
    let org = server.create_org("Locked").await;
    let email = "target@locked.example";
    let created: Value = server
        .post(
            "/api/v1/users",
            json!({"email": email, "role": "sales", "organization_id": org["id"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let password = created["one_time_password"].as_str().unwrap();
    let attempt = |pw: String| {
        server
            .client
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": pw}))
            .send()
    };
    for _ in 0..5 {
        problem(attempt("wrong-password-1".into()).await.unwrap(), 401).await;
    }
    let locked = attempt(password.to_owned()).await.unwrap();
    let body = problem(locked, 401).await;
    assert_eq!(
        body["type"], "https://steelyard.dev/problems/invalid-credentials",
        "a lock looks like any failure"
    );
}

#[tokio::test]
async fn integration_tokens_hold_a_subset_of_permissions_are_shown_once_and_revoke_at_once() {
    let server = server().await;
    let org = server.create_org("Tokens").await;
    let org_id = org["id"].as_str().unwrap();
    let (_, manager) = member(&server, org_id, "manager", "mia@tokens.example").await;
    let asked =
        json!({"name": "ci export", "permissions": ["organization.read"], "expires_in_days": 30});
    let created = call(
        &server,
        &manager,
        Method::POST,
        "/api/v1/auth/tokens",
        Some(asked),
    )
    .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sy_"));

    assert_eq!(
        call(
            &server,
            &secret,
            Method::GET,
            &format!("/api/v1/organizations/{org_id}"),
            None
        )
        .await
        .status(),
        200
    );
    problem(
        call(&server, &secret, Method::GET, "/api/v1/users", None).await,
        403,
    )
    .await;
    problem(
        call(
            &server,
            &secret,
            Method::POST,
            "/api/v1/auth/logout",
            Some(json!({})),
        )
        .await,
        409,
    )
    .await;

    let listed: Value = call(&server, &manager, Method::GET, "/api/v1/auth/tokens", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["name"], "ci export");
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is never listed"
    );

    let too_much = call(
        &server,
        &manager,
        Method::POST,
        "/api/v1/auth/tokens",
        Some(json!({"name": "x", "permissions": ["user.manage"]})),
    )
    .await;
    problem(too_much, 422).await;

    let id = created["id"].as_str().unwrap();
    let revoked = call(
        &server,
        &manager,
        Method::DELETE,
        &format!("/api/v1/auth/tokens/{id}"),
        None,
    )
    .await;
    assert_eq!(revoked.status(), 204);
    problem(
        call(
            &server,
            &secret,
            Method::GET,
            &format!("/api/v1/organizations/{org_id}"),
            None,
        )
        .await,
        401,
    )
    .await;
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

#[tokio::test]
async fn a_super_admin_switches_into_an_organization_and_refresh_keeps_it_there() {
    let server = server().await;
    let org = server.create_org("Switch").await;
    let login: Value = server
        .client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": common::ADMIN_EMAIL, "password": common::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = login["access_token"].as_str().unwrap();
    assert_eq!(me(&server, access).await["organization_id"], Value::Null);
    let switched = call(
        &server,
        access,
        Method::POST,
        "/api/v1/auth/switch-organization",
        Some(json!({"organization_id": org["id"]})),
    )
    .await;
    assert_eq!(switched.status(), 200);
    let switched: Value = switched.json().await.unwrap();
    let me_now = me(&server, switched["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (&me_now["organization_id"], me_now["data_scope"].as_str()),
        (&org["id"], Some("SUPER_ADMIN"))
    );
    let refreshed: Value = server
        .client
        .post(server.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": login["refresh_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me(&server, refreshed["access_token"].as_str().unwrap()).await["organization_id"],
        org["id"]
    );
}

#[tokio::test]
async fn a_user_in_two_organizations_signs_into_either_and_switches_between_them() {
    let server = server().await;
    let first = server.create_org("First Works").await;
    let second = server.create_org("Second Works").await;
    let email = "dual@works.example";
    let created: Value = server
        .post(
            "/api/v1/users",
            json!({"email": email, "role": "sales", "organization_id": first["id"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let password = created["one_time_password"].as_str().unwrap().to_owned();
    let added = server
        .post(
            "/api/v1/users",
            json!({"email": email, "role": "purchaser", "organization_id": second["id"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert_eq!(
        (added["id"].clone(), added["one_time_password"].clone()),
        (created["id"].clone(), Value::Null)
    );

    // An organization admin cannot pull an existing account into theirs.
    let (_, admin) = member(
        &server,
        first["id"].as_str().unwrap(),
        "admin",
        "boss@first.example",
    )
    .await;
    let probe = call(
        &server,
        &admin,
        Method::POST,
        "/api/v1/users",
        Some(json!({"email": "boss@first.example", "role": "sales"})),
    )
    .await;
    problem(probe, 409).await;

    let login = |org: &Value| {
        server
            .client
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password, "organization_id": org["id"]}))
            .send()
    };
    let into_second: Value = login(&second).await.unwrap().json().await.unwrap();
    let token = into_second["access_token"].as_str().unwrap();
    let me_second = me(&server, token).await;
    assert_eq!(me_second["organization_id"], second["id"]);
    assert!(
        me_second["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("purchasing.order.manage"))
    );
    let switched = call(
        &server,
        token,
        Method::POST,
        "/api/v1/auth/switch-organization",
        Some(json!({"organization_id": first["id"]})),
    )
    .await;
    let switched: Value = switched.json().await.unwrap();
    let me_first = me(&server, switched["access_token"].as_str().unwrap()).await;
    assert_eq!(me_first["organization_id"], first["id"]);
    assert!(
        me_first["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("sales.order.manage"))
    );
    let outsider = server.create_org("Third Works").await;
    problem(login(&outsider).await.unwrap(), 403).await;
}
