//! A buyer's day over real HTTP: a vendor and parts, an order, confirmation (with approval
//! above the threshold), partial and full receipts into stock at the line price, the number
//! check, and a vendor portal user who sees only its own orders.

mod common;

use common::problem;
use reqwest::Method;
use serde_json::{Value, json};

use common::purchasing::setup;

#[tokio::test]
async fn an_order_is_numbered_confirmed_received_in_two_parts_and_values_stock_at_its_price() {
    let s = setup().await;
    let po = s.server.post_json("/api/v1/purchase-orders", json!({
        "vendor_id": s.vendor, "lines": [{"product_id": s.bolt, "quantity": "10", "unit_price": "1.20"}]
    }))
    .await;
    assert_eq!(po["number"], "PO-000001");
    assert_eq!(
        (po["status"].as_str(), po["total"].as_str()),
        (Some("draft"), Some("12.0000"))
    );
    assert_eq!(
        po["lines"][0]["unit"], "box",
        "the product's purchase unit by default"
    );
    let second = s
        .server
        .post_json(
            "/api/v1/purchase-orders",
            json!({"vendor_id": s.vendor, "lines": []}),
        )
        .await;
    assert_eq!(second["number"], "PO-000002");
    let exists: Value = s
        .server
        .get("/api/v1/purchase-orders/exists?number=po-000001")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(exists["exists"], true);
    let missing: Value = s
        .server
        .get("/api/v1/purchase-orders/exists?number=PO-999999")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(missing["exists"], false);

    let path = format!("/api/v1/purchase-orders/{}", po["id"].as_str().unwrap());
    let line = po["lines"][0]["id"].as_str().unwrap().to_owned();
    let early = s
        .server
        .post(
            &format!("{path}/receipts"),
            json!({"location_id": s.warehouse, "lines": [{"line_id": line, "quantity": "1"}]}),
        )
        .send()
        .await
        .unwrap();
    problem(early, 409).await;
    assert_eq!(
        s.server
            .post_json(&format!("{path}/confirm"), json!({}))
            .await["status"],
        "confirmed"
    );

    let partial = s
        .server
        .post_json(
            &format!("{path}/receipts"),
            json!({"location_id": s.warehouse, "lines": [{"line_id": line, "quantity": "4"}]}),
        )
        .await;
    assert_eq!(partial["status"], "partially_received");
    let over = s
        .server
        .post(
            &format!("{path}/receipts"),
            json!({"location_id": s.warehouse, "lines": [{"line_id": line, "quantity": "7"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(over, 422).await["errors"][0]["code"],
        "over_receipt"
    );
    let done = s
        .server
        .post_json(
            &format!("{path}/receipts"),
            json!({"location_id": s.warehouse, "lines": [{"line_id": line, "quantity": "6"}]}),
        )
        .await;
    assert_eq!(done["status"], "received");

    // 10 boxes of 12 at 1.20 a box: 120 bolts at 0.10 each, worth 12.00.
    let valuation: Value = s
        .server
        .get(&format!("/api/v1/products/{}/valuation", s.bolt))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            valuation["quantity"].as_str(),
            valuation["average_cost"].as_str(),
            valuation["value"].as_str()
        ),
        (Some("120.000000"), Some("0.1000"), Some("12.0000"))
    );
    let moves: Value = s
        .server
        .get(&format!("/api/v1/inventory/moves?product_id={}", s.bolt))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moves["items"][0]["reference"], "PO-000001");
    assert_eq!(
        s.server
            .post_json(&format!("{path}/close"), json!({}))
            .await["status"],
        "closed"
    );
    let history: Value = s
        .server
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
        [
            "purchase_order.created",
            "purchase_order.confirmed",
            "purchase_order.received",
            "purchase_order.received",
            "purchase_order.closed"
        ]
    );
}

#[tokio::test]
async fn bad_orders_name_every_field_and_change_nothing() {
    let s = setup().await;
    let customer = s
        .server
        .post_json(
            "/api/v1/partners",
            json!({"name": "Buyer only", "kind": "customer"}),
        )
        .await;
    let bad = s.server.post("/api/v1/purchase-orders", json!({
        "vendor_id": customer["id"], "lines": [{"product_id": s.bolt, "quantity": "0"}, {"product_id": s.bolt, "quantity": "1", "unit": "kg"}, {}]
    })).send().await.unwrap();
    let body = problem(bad, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "vendor_id",
            "lines[0].quantity",
            "lines[1].unit",
            "lines[2].product_id"
        ]
    );
    let list = s.server.get_json("/api/v1/purchase-orders").await;
    assert!(list["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn confirming_above_the_threshold_needs_an_approver() {
    let s = setup().await;
    let mut users = Vec::new();
    for role in ["purchaser", "manager"] {
        let created: Value = s.server
            .post("/api/v1/users", json!({"email": format!("{role}@buyer.example"), "role": role, "organization_id": s.org}))
            .send().await.unwrap().json().await.unwrap();
        users.push(
            s.server
                .login(
                    &format!("{role}@buyer.example"),
                    created["one_time_password"].as_str().unwrap(),
                )
                .await,
        );
    }
    let big = s.server.post_json("/api/v1/purchase-orders", json!({
        "vendor_id": s.vendor, "lines": [{"product_id": s.bolt, "quantity": "1000", "unit_price": "20"}]
    }))
    .await;
    assert_eq!(
        big["total"], "20000.0000",
        "above the default threshold of 10000"
    );
    let path = format!(
        "/api/v1/purchase-orders/{}/confirm",
        big["id"].as_str().unwrap()
    );
    let by_purchaser = s
        .server
        .client
        .request(Method::POST, s.server.url(&path))
        .bearer_auth(&users[0])
        .send()
        .await
        .unwrap();
    let body = problem(by_purchaser, 403).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("purchasing.order.approve")
    );
    let by_manager = s
        .server
        .client
        .request(Method::POST, s.server.url(&path))
        .bearer_auth(&users[1])
        .send()
        .await
        .unwrap();
    assert_eq!(by_manager.status(), 200);
}

#[tokio::test]
async fn a_vendor_portal_user_sees_only_its_own_orders() {
    let s = setup().await;
    let other = s
        .server
        .post_json(
            "/api/v1/partners",
            json!({"name": "Other Vendor", "kind": "vendor"}),
        )
        .await;
    let mine = s
        .server
        .post_json(
            "/api/v1/purchase-orders",
            json!({"vendor_id": s.vendor, "lines": []}),
        )
        .await;
    let theirs = s
        .server
        .post_json(
            "/api/v1/purchase-orders",
            json!({"vendor_id": other["id"], "lines": []}),
        )
        .await;
    let created: Value = s.server
        .post("/api/v1/users", json!({"email": "portal@anderson.example", "role": "partner_portal", "partner_id": s.vendor, "organization_id": s.org}))
        .send().await.unwrap().json().await.unwrap();
    let portal = s
        .server
        .login(
            "portal@anderson.example",
            created["one_time_password"].as_str().unwrap(),
        )
        .await;
    let as_portal = |path: String| {
        s.server
            .client
            .get(s.server.url(&path))
            .bearer_auth(&portal)
            .send()
    };
    let list: Value = as_portal("/api/v1/purchase-orders".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine["id"].as_str().unwrap()]);
    problem(
        as_portal(format!(
            "/api/v1/purchase-orders/{}",
            theirs["id"].as_str().unwrap()
        ))
        .await
        .unwrap(),
        404,
    )
    .await;
    assert_eq!(
        as_portal(format!(
            "/api/v1/purchase-orders/{}",
            mine["id"].as_str().unwrap()
        ))
        .await
        .unwrap()
        .status(),
        200
    );
}
