//! Locations, adjustments, transfers, stock levels, moving-average valuation and low-stock
//! events over real HTTP, checked against hand-computed figures.

mod common;

use common::{TestServer, problem};
use serde_json::{Value, json};

struct Shop {
    server: TestServer,
    product: String,
    wh1: String,
    wh2: String,
}

async fn shop(threshold: &str) -> Shop {
    let (server, _) = TestServer::in_org("Stock Co").await;
    let product: Value = server
        .post("/api/v1/products", json!({"sku": "BRK-1", "name": "Bracket", "standard_cost": "4", "low_stock_threshold": threshold}))
        .send().await.unwrap().json().await.unwrap();
    let mut ids = Vec::new();
    for code in ["WH1", "WH2"] {
        let location: Value = server
            .post("/api/v1/locations", json!({"code": code, "name": code}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(location["id"].as_str().unwrap().to_owned());
    }
    Shop {
        product: product["id"].as_str().unwrap().to_owned(),
        wh1: ids[0].clone(),
        wh2: ids[1].clone(),
        server,
    }
}

impl Shop {
    async fn adjust(
        &self,
        location: &str,
        quantity: &str,
        cost: Option<&str>,
    ) -> reqwest::Response {
        let mut body =
            json!({"product_id": self.product, "location_id": location, "quantity": quantity});
        if let Some(cost) = cost {
            body["unit_cost"] = json!(cost);
        }
        self.server
            .post("/api/v1/inventory/adjustments", body)
            .send()
            .await
            .unwrap()
    }

    async fn transfer(&self, from: &str, to: &str, quantity: &str) -> reqwest::Response {
        let body = json!({"product_id": self.product, "from_location_id": from, "to_location_id": to, "quantity": quantity});
        self.server
            .post("/api/v1/inventory/transfers", body)
            .send()
            .await
            .unwrap()
    }

    async fn valuation(&self) -> Value {
        self.server
            .get(&format!("/api/v1/products/{}/valuation", self.product))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn on_hand(&self, location: &str) -> String {
        let stock: Value = self
            .server
            .get(&format!(
                "/api/v1/inventory/stock?product_id={}&location_id={location}",
                self.product
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stock["items"][0]["on_hand"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn stock_and_moving_average_valuation_match_hand_computed_figures() {
    let shop = shop("30").await;
    assert_eq!(shop.adjust(&shop.wh1, "10", Some("5")).await.status(), 201);
    assert_eq!(shop.adjust(&shop.wh1, "30", Some("7")).await.status(), 201);
    let v = shop.valuation().await;
    assert_eq!(
        (
            v["quantity"].as_str(),
            v["average_cost"].as_str(),
            v["value"].as_str()
        ),
        (Some("40.000000"), Some("6.5000"), Some("260.0000"))
    );

    let moved = shop.transfer(&shop.wh1, &shop.wh2, "15").await;
    assert_eq!(moved.status(), 201);
    assert_eq!(
        (shop.on_hand(&shop.wh1).await, shop.on_hand(&shop.wh2).await),
        ("25.000000".into(), "15.000000".into())
    );
    assert_eq!(
        shop.valuation().await["value"],
        "260.0000",
        "a transfer does not change value"
    );

    let too_much = shop.adjust(&shop.wh2, "-16", None).await;
    problem(too_much, 409).await;
    assert_eq!(
        shop.on_hand(&shop.wh2).await,
        "15.000000",
        "a refused move changes nothing"
    );
    assert_eq!(shop.adjust(&shop.wh2, "-15", None).await.status(), 201);
    let v = shop.valuation().await;
    assert_eq!(
        (
            v["quantity"].as_str(),
            v["average_cost"].as_str(),
            v["value"].as_str()
        ),
        (Some("25.000000"), Some("6.5000"), Some("162.5000"))
    );

    // The 40 → 25 drop crossed the threshold of 30 once: one low-stock event.
    let low: Value = shop
        .server
        .get("/api/v1/events?kind=inventory.low_stock")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(low["items"].as_array().unwrap().len(), 1);
    assert_eq!(low["items"][0]["data"]["on_hand"], "25.000000");
    let ledger: Value = shop
        .server
        .get(&format!(
            "/api/v1/inventory/moves?product_id={}",
            shop.product
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["adjustment", "adjustment", "transfer", "adjustment"]
    );
}

#[tokio::test]
async fn concurrent_transfers_never_take_more_than_is_available() {
    let shop = shop("0").await;
    shop.adjust(&shop.wh1, "5", Some("1")).await;
    let attempts = (0..20).map(|_| shop.transfer(&shop.wh1, &shop.wh2, "1"));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(
        (shop.on_hand(&shop.wh1).await, shop.on_hand(&shop.wh2).await),
        ("0.000000".into(), "5.000000".into())
    );
}

#[tokio::test]
async fn bad_moves_are_field_errors() {
    let shop = shop("0").await;
    let virtual_location: Value = shop
        .server
        .get("/api/v1/locations")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let supplier = virtual_location["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "supplier")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    problem(shop.adjust(&supplier, "1", None).await, 422).await;
    problem(shop.adjust(&shop.wh1, "0", None).await, 422).await;
    problem(shop.adjust(&shop.wh1, "abc", None).await, 422).await;
    problem(shop.transfer(&shop.wh1, &shop.wh1, "1").await, 422).await;
    let service: Value = shop
        .server
        .post(
            "/api/v1/products",
            json!({"sku": "SVC", "name": "Service", "tracked": false}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({"product_id": service["id"], "location_id": shop.wh1, "quantity": "1"});
    let untracked = shop
        .server
        .post("/api/v1/inventory/adjustments", body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(untracked, 422).await["errors"][0]["code"],
        "not_tracked"
    );
}

#[tokio::test]
async fn concurrent_moves_of_one_product_all_count_in_its_valuation() {
    let shop = shop("0").await;
    let adds = (0..20).map(|_| shop.adjust(&shop.wh1, "1", Some("1.5")));
    let statuses: Vec<u16> = futures::future::join_all(adds)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let v = shop.valuation().await;
    assert_eq!(
        (v["quantity"].as_str(), v["value"].as_str()),
        (Some("20.000000"), Some("30.0000")),
        "no valuation update was lost"
    );
    assert_eq!(shop.on_hand(&shop.wh1).await, "20.000000");
}
