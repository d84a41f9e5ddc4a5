//! Accounts over real HTTP: disabling a user and locking after wrong passwords take effect at
//! once, integration tokens hold a subset of permissions, note their last use at most once a
//! minute and revoke at once, and users switch between organizations.

mod common;

use common::members::{call, me, member, new_user, server};
use common::problem;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn disabling_a_user_cuts_off_their_tokens_at_once_and_enabling_lets_them_back() {
    let server = server().await;
    let org = server.create_org("Cutoff").await;
    let org_id = org["id"].as_str().unwrap();
    let email = "leaver@cutoff.example";
    let created = new_user(&server, &org["id"], email, "sales").await;
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
    let created = new_user(&server, &org["id"], email, "sales").await;
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
    let first_use = listed["items"][0]["last_used_at"].clone();
    assert!(first_use.is_string(), "a use is noted: {first_use}");
    // Noted at most once a minute, so an integration's every request does not write.
    let organization = format!("/api/v1/organizations/{org_id}");
    let used_again = call(&server, &secret, Method::GET, &organization, None).await;
    assert_eq!(used_again.status(), 200);
    let relisted: Value = call(&server, &manager, Method::GET, "/api/v1/auth/tokens", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(relisted["items"][0]["last_used_at"], first_use);

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
    let created = new_user(&server, &first["id"], email, "sales").await;
    let password = created["one_time_password"].as_str().unwrap().to_owned();
    let added = new_user(&server, &second["id"], email, "purchaser").await;
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
