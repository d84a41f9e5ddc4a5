//! Purchase orders' numbers and lines over real HTTP: automatic numbers skip numbers chosen
//! by hand, are taken once each by concurrent creates, and keep every digit past six; unknown
//! or archived products are refused line by line; an order of the most lines keeps them in
//! order; the order list filters by status and vendor; and concurrent creates with one
//! Idempotency-Key create one order (on PostgreSQL they meet in one batch, `batch.rs`).

mod common;

use common::purchasing::{Setup, setup};
use common::{assert_stored_lines_in_order, field_errors, problem};
use serde_json::{Value, json};

/// Creates an order without lines and without a number; the number it got.
async fn automatic_number(s: &Setup) -> String {
    s.server
        .post_json(
            "/api/v1/purchase-orders",
            json!({"vendor_id": s.vendor, "lines": []}),
        )
        .await["number"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn automatic_numbers_skip_numbers_chosen_by_hand() {
    let s = setup().await;
    let chosen = s
        .server
        .post_json(
            "/api/v1/purchase-orders",
            json!({"vendor_id": s.vendor, "number": "po-000002", "lines": []}),
        )
        .await;
    assert_eq!(chosen["number"], "PO-000002", "numbers are upper-cased");
    let mut numbers: Vec<String> =
        futures::future::join_all((0..2).map(|_| automatic_number(&s))).await;
    numbers.sort();
    assert_eq!(numbers, ["PO-000001", "PO-000003"]);
    let duplicate = s
        .server
        .post(
            "/api/v1/purchase-orders",
            json!({"vendor_id": s.vendor, "number": "PO-000003",
                   "lines": [{"product_id": s.bolt, "quantity": "1"}]}),
        )
        .send()
        .await
        .unwrap();
    problem(duplicate, 409).await;
    // Nothing of the refused order was written: the original keeps its number and no lines.
    let list = s
        .server
        .get_json("/api/v1/purchase-orders?q=PO-000003")
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(
        items[0]["lines"],
        json!([]),
        "the refused order's line is not kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_take_every_number_once_and_leave_no_gap() {
    let s = setup().await;
    let created = futures::future::join_all((0..24).map(|_| {
        s.server.post_json(
            "/api/v1/purchase-orders",
            json!({"vendor_id": s.vendor, "lines": [{"product_id": s.bolt, "quantity": "1"}]}),
        )
    }))
    .await;
    let mut numbers: Vec<&str> = created
        .iter()
        .map(|order| order["number"].as_str().unwrap())
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=24).map(|n| format!("PO-{n:06}")).collect();
    assert_eq!(numbers, expected);
    // Each order was stored under the number it was answered with, with its line.
    for order in &created {
        let stored = s
            .server
            .get_json(&format!(
                "/api/v1/purchase-orders/{}",
                order["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(stored["number"], order["number"]);
        assert_eq!(stored["lines"].as_array().unwrap().len(), 1, "{stored}");
    }
}

#[tokio::test]
async fn automatic_numbers_past_six_digits_keep_every_digit() {
    let s = setup().await;
    let create = || automatic_number(&s);
    assert_eq!(create().await, "PO-000001");
    // On PostgreSQL the number is written by SQL in the insert itself; it must read as the
    // service's own formatting does, on both sides of a million.
    steelyard_store::testing::execute(
        &s.server.state.app.db,
        &format!(
            "UPDATE document_numbers SET last = 999998 WHERE org_id = '{}' AND doc_type = 'PO'",
            s.org
        ),
    )
    .await;
    assert_eq!(create().await, "PO-999999");
    let past_a_million = create().await;
    assert_eq!(past_a_million, "PO-1000000");
    let stored = s
        .server
        .get_json(&format!("/api/v1/purchase-orders?q={past_a_million}"))
        .await;
    assert_eq!(stored["items"][0]["number"], past_a_million, "{stored}");
}

#[tokio::test]
async fn lines_naming_an_unknown_or_archived_product_are_refused_each_by_its_line() {
    let s = setup().await;
    let old = s.server.archived_product().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let bad = s
        .server
        .post(
            "/api/v1/purchase-orders",
            json!({
                "vendor_id": s.vendor, "lines": [
                    {"product_id": unknown, "quantity": "1"},
                    {"product_id": old, "quantity": "1"},
                    {"product_id": s.bolt, "quantity": "1"},
                    {"product_id": s.bolt, "quantity": "2"}
                ]
            }),
        )
        .send()
        .await
        .unwrap();
    let body = problem(bad, 422).await;
    let errors = field_errors(&body);
    assert_eq!(
        errors,
        [
            ("lines[0].product_id", "unknown"),
            ("lines[1].product_id", "unknown")
        ]
    );
    let list = s.server.get_json("/api/v1/purchase-orders").await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn an_order_of_the_most_lines_keeps_every_line_in_order() {
    // 500 lines: more than one multi-row insert holds (100), so every batch is exercised.
    let s = setup().await;
    let lines: Vec<Value> = (1..=500)
        .map(|n| json!({"product_id": s.bolt, "quantity": n.to_string()}))
        .collect();
    let po = s
        .server
        .post_json(
            "/api/v1/purchase-orders",
            json!({"vendor_id": s.vendor, "lines": lines}),
        )
        .await;
    let path = format!("/api/v1/purchase-orders/{}", po["id"].as_str().unwrap());
    assert_stored_lines_in_order(&s.server, &path, &po, 500).await;
}

#[tokio::test]
async fn the_order_list_filters_by_status_and_vendor() {
    let s = setup().await;
    let other = s
        .server
        .post_json(
            "/api/v1/partners",
            json!({"name": "Baker Metals", "kind": "vendor"}),
        )
        .await;
    let mut ids = Vec::new();
    for vendor in [
        s.vendor.as_str(),
        s.vendor.as_str(),
        other["id"].as_str().unwrap(),
    ] {
        let order = s.server.post_json("/api/v1/purchase-orders", json!({
            "vendor_id": vendor, "lines": [{"product_id": s.bolt, "quantity": "1", "unit_price": "1"}]
        }))
        .await;
        ids.push(order["id"].as_str().unwrap().to_owned());
    }
    s.server
        .post_json(
            &format!("/api/v1/purchase-orders/{}/confirm", ids[1]),
            json!({}),
        )
        .await;
    let server = &s.server;
    let listed = |query: String| async move {
        server
            .listed_ids(&format!("/api/v1/purchase-orders?{query}"))
            .await
    };
    assert_eq!(listed(format!("vendor_id={}", s.vendor)).await, ids[..2]);
    assert_eq!(listed("status=confirmed".into()).await, [ids[1].clone()]);
    assert_eq!(
        listed(format!("status=draft&vendor_id={}", s.vendor)).await,
        [ids[0].clone()]
    );
}

#[tokio::test]
async fn concurrent_creates_with_one_idempotency_key_create_one_order() {
    let s = setup().await;
    let racers = (0..8).map(|_| {
        s.server
            .post(
                "/api/v1/purchase-orders",
                json!({"vendor_id": s.vendor, "lines": [{"product_id": s.bolt, "quantity": "2"}]}),
            )
            .header("idempotency-key", "po-key")
            .send()
    });
    let mut numbers = std::collections::HashSet::new();
    for response in futures::future::join_all(racers).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 201);
        let order: Value = response.json().await.unwrap();
        numbers.insert(order["number"].as_str().unwrap().to_owned());
    }
    assert_eq!(numbers.len(), 1, "{numbers:?}");
    let list = s.server.get_json("/api/v1/purchase-orders").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    // The next order takes the next number: the answered one was the only one stored.
    assert_eq!(automatic_number(&s).await, "PO-000002");
}
