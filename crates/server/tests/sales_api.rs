//! A seller's day over real HTTP: an order, its reservation on confirm, partial and full
//! shipments out of stock, cancellation releasing stock, and the promise the issue makes:
//! with 10 units on hand, 50 concurrent confirmations of 1 unit succeed exactly 10 times.

mod common;

use common::{TestServer, assert_stored_lines_in_order, field_errors, problem};
use serde_json::{Value, json};

struct Shop {
    server: TestServer,
    customer: String,
    product: String,
    warehouse: String,
}

async fn shop(on_hand: &str) -> Shop {
    let (server, _) = TestServer::in_org("Seller Co").await;
    let customer = server
        .post_json(
            "/api/v1/partners",
            json!({"name": "Northwind", "kind": "customer"}),
        )
        .await;
    let product = server
        .post_json(
            "/api/v1/products",
            json!({"sku": "SHAFT", "name": "Shaft", "list_price": "42"}),
        )
        .await;
    let warehouse = server
        .post_json("/api/v1/locations", json!({"code": "WH1", "name": "Main"}))
        .await;
    let product_id = product["id"].as_str().unwrap().to_owned();
    let warehouse_id = warehouse["id"].as_str().unwrap().to_owned();
    server.post_json("/api/v1/inventory/adjustments", json!({"product_id": product_id, "location_id": warehouse_id, "quantity": on_hand, "unit_cost": "18"})).await;
    Shop {
        customer: customer["id"].as_str().unwrap().into(),
        product: product_id,
        warehouse: warehouse_id,
        server,
    }
}

impl Shop {
    async fn order(&self, quantity: &str) -> Value {
        self.server.post_json("/api/v1/sales-orders", json!({
            "customer_id": self.customer, "location_id": self.warehouse, "lines": [{"product_id": self.product, "quantity": quantity}]
        }))
        .await
    }

    async fn stock(&self) -> (String, String) {
        let stock: Value = self
            .server
            .get(&format!(
                "/api/v1/inventory/stock?product_id={}",
                self.product
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            stock["items"][0]["on_hand"].as_str().unwrap().into(),
            stock["items"][0]["available"].as_str().unwrap().into(),
        )
    }
}

#[tokio::test]
async fn confirming_reserves_shipping_takes_stock_out_and_cancelling_releases() {
    let shop = shop("10").await;
    let order = shop.order("4").await;
    assert_eq!(
        (order["number"].as_str(), order["total"].as_str()),
        (Some("SO-000001"), Some("168.0000"))
    );
    let path = format!("/api/v1/sales-orders/{}", order["id"].as_str().unwrap());
    shop.server
        .post_json(&format!("{path}/confirm"), json!({}))
        .await;
    assert_eq!(
        shop.stock().await,
        ("10.000000".into(), "6.000000".into()),
        "reserved, not yet moved"
    );

    let line = order["lines"][0]["id"].as_str().unwrap().to_owned();
    let partial = shop
        .server
        .post_json(
            &format!("{path}/shipments"),
            json!({"lines": [{"line_id": line, "quantity": "1"}]}),
        )
        .await;
    assert_eq!(partial["status"], "partially_shipped");
    assert_eq!(shop.stock().await, ("9.000000".into(), "6.000000".into()));
    let over = shop
        .server
        .post(
            &format!("{path}/shipments"),
            json!({"lines": [{"line_id": line, "quantity": "4"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(over, 422).await["errors"][0]["code"],
        "over_shipment"
    );
    let done = shop
        .server
        .post_json(
            &format!("{path}/shipments"),
            json!({"lines": [{"line_id": line, "quantity": "3"}]}),
        )
        .await;
    assert_eq!(done["status"], "shipped");
    assert_eq!(shop.stock().await, ("6.000000".into(), "6.000000".into()));
    let valuation: Value = shop
        .server
        .get(&format!("/api/v1/products/{}/valuation", shop.product))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(valuation["value"], "108.0000", "6 left at 18.00");

    let second = shop.order("5").await;
    let second_path = format!("/api/v1/sales-orders/{}", second["id"].as_str().unwrap());
    shop.server
        .post_json(&format!("{second_path}/confirm"), json!({}))
        .await;
    assert_eq!(shop.stock().await.1, "1.000000");
    let too_big = shop.order("2").await;
    let refused = shop
        .server
        .post(
            &format!(
                "/api/v1/sales-orders/{}/confirm",
                too_big["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .send()
        .await
        .unwrap();
    problem(refused, 409).await;
    assert_eq!(
        shop.stock().await.1,
        "1.000000",
        "a refused confirmation reserves nothing"
    );
    shop.server
        .post_json(&format!("{second_path}/cancel"), json!({}))
        .await;
    assert_eq!(
        shop.stock().await.1,
        "6.000000",
        "cancelling releases the reservation"
    );
}

#[tokio::test]
async fn fifty_concurrent_confirmations_of_one_unit_with_ten_on_hand_succeed_exactly_ten_times() {
    let shop = shop("10").await;
    let mut orders = Vec::new();
    for _ in 0..50 {
        orders.push(shop.order("1").await["id"].as_str().unwrap().to_owned());
    }
    let confirmations = orders.iter().map(|id| {
        shop.server
            .post(&format!("/api/v1/sales-orders/{id}/confirm"), json!({}))
            .send()
    });
    let statuses: Vec<u16> = futures::future::join_all(confirmations)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(shop.stock().await, ("10.000000".into(), "0.000000".into()));
}

#[tokio::test]
async fn lines_naming_an_unknown_or_archived_product_are_refused_each_by_its_line() {
    let shop = shop("10").await;
    let old = shop.server.archived_product().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let bad = shop
        .server
        .post(
            "/api/v1/sales-orders",
            json!({
                "customer_id": shop.customer, "location_id": shop.warehouse, "lines": [
                    {"product_id": unknown, "quantity": "1"},
                    {"product_id": old, "quantity": "1"},
                    {"product_id": shop.product, "quantity": "1"},
                    {"product_id": shop.product, "quantity": "2"}
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
    let list: Value = shop
        .server
        .get("/api/v1/sales-orders")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn an_order_of_many_lines_keeps_every_line_in_order() {
    // More lines than one multi-row insert holds (100).
    let shop = shop("10").await;
    let lines: Vec<Value> = (1..=150)
        .map(|n| json!({"product_id": shop.product, "quantity": n.to_string()}))
        .collect();
    let order = shop
        .server
        .post_json(
            "/api/v1/sales-orders",
            json!({
                "customer_id": shop.customer, "location_id": shop.warehouse, "lines": lines
            }),
        )
        .await;
    let path = format!("/api/v1/sales-orders/{}", order["id"].as_str().unwrap());
    assert_stored_lines_in_order(&shop.server, &path, &order, 150).await;
}

#[tokio::test]
async fn the_order_list_filters_by_status_and_customer_searches_numbers_and_pages() {
    let shop = shop("100").await;
    let other = shop
        .server
        .post_json(
            "/api/v1/partners",
            json!({"name": "Contoso", "kind": "customer"}),
        )
        .await;
    let other = other["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(shop.order("1").await["id"].as_str().unwrap().to_owned());
    }
    for _ in 0..2 {
        let order = shop.server.post_json("/api/v1/sales-orders", json!({
            "customer_id": other, "location_id": shop.warehouse, "lines": [{"product_id": shop.product, "quantity": "2"}]
        }))
        .await;
        ids.push(order["id"].as_str().unwrap().to_owned());
    }
    shop.server
        .post_json(
            &format!("/api/v1/sales-orders/{}/confirm", ids[1]),
            json!({}),
        )
        .await;
    let server = &shop.server;
    let listed = |query: String| async move {
        server
            .listed_ids(&format!("/api/v1/sales-orders?{query}"))
            .await
    };
    assert_eq!(
        listed(format!("customer_id={}", shop.customer)).await,
        ids[..3]
    );
    assert_eq!(listed("status=confirmed".into()).await, [ids[1].clone()]);
    assert_eq!(
        listed(format!("status=draft&customer_id={other}")).await,
        ids[3..]
    );
    // Numbers are found ignoring case; SO-000004 is the first of Contoso's.
    assert_eq!(listed("q=so-000004".into()).await, [ids[3].clone()]);

    // Pages of two, cursor after cursor, give every order once, in id order, each with its
    // line.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = shop
            .server
            .get_json(&format!("/api/v1/sales-orders?limit=2{cursor}"))
            .await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for order in items {
            assert_eq!(order["lines"].as_array().unwrap().len(), 1, "{order}");
        }
        paged.extend(items.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(paged, ids);
}
