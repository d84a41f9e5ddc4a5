//! `/api/v1/products` over real HTTP: exact money and quantities on both engines, units,
//! SKU uniqueness, filters and CSV.

mod common;

use common::{TestServer, problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn create(server: &TestServer, body: Value) -> Value {
    let response = server.post("/api/v1/products", body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn amounts_come_back_exactly_as_decimal_strings_with_their_units() {
    let (server, _) = TestServer::in_org("Parts Co").await;
    let product = create(
        &server,
        json!({
            "sku": "BRK-1020", "name": "Steel bracket", "category": "brackets",
            "standard_cost": "0.1", "list_price": 12.35, "low_stock_threshold": "2.5",
            "purchase_unit": {"unit": "box", "factor": "12"}
        }),
    )
    .await;
    assert_eq!(product["standard_cost"], "0.1000");
    assert_eq!(product["list_price"], "12.3500");
    assert_eq!(product["low_stock_threshold"], "2.500000");
    assert_eq!(
        product["purchase_unit"],
        json!({"unit": "box", "factor": "12.000000"})
    );
    let path = format!("/api/v1/products/{}", product["id"].as_str().unwrap());
    let fetched: Value = server
        .get(&path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        fetched, product,
        "what was stored reads back to the last digit"
    );

    let patched = server
        .request(Method::PATCH, &path)
        .header("if-match", "\"1\"")
        .json(&json!({"standard_cost": "123456789.1234", "purchase_unit": null}))
        .send()
        .await
        .unwrap();
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(
        (patched["standard_cost"].as_str(), &patched["purchase_unit"]),
        (Some("123456789.1234"), &Value::Null)
    );
    let history: Value = server
        .get(&format!("{path}/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        history["items"][1]["changes"]["standard_cost"],
        json!({"before": "0.1000", "after": "123456789.1234"})
    );
}

#[tokio::test]
async fn bad_amounts_units_and_skus_are_field_errors() {
    let (server, _) = TestServer::in_org("Parts Co").await;
    let bad = server.post("/api/v1/products", json!({
        "sku": "has space", "name": "X", "stock_unit": "furlong", "standard_cost": "-1", "list_price": "abc"
    })).send().await.unwrap();
    let body = problem(bad, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["sku", "stock_unit", "standard_cost", "list_price"]);
    create(&server, json!({"sku": "abc-1", "name": "First"})).await;
    problem(
        server
            .post(
                "/api/v1/products",
                json!({"sku": "ABC-1", "name": "Second"}),
            )
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
}

#[tokio::test]
async fn the_list_searches_sku_and_name_filters_and_exports() {
    let (server, _) = TestServer::in_org("Parts Co").await;
    create(
        &server,
        json!({"sku": "BOLT-M8", "name": "Hex bolt", "category": "fasteners"}),
    )
    .await;
    create(
        &server,
        json!({"sku": "NUT-M8", "name": "Hex nut", "category": "fasteners"}),
    )
    .await;
    create(
        &server,
        json!({"sku": "SVC-CAL", "name": "Calibration", "tracked": false, "stock_unit": "h"}),
    )
    .await;
    let names = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["sku"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_sku: Value = server
        .get("/api/v1/products?q=bolt")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names(by_sku), ["BOLT-M8"]);
    let services: Value = server
        .get("/api/v1/products?tracked=false")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names(services), ["SVC-CAL"]);
    let fasteners: Value = server
        .get("/api/v1/products?category=fasteners")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names(fasteners).len(), 2);
    let csv = server
        .get("/api/v1/products")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 4);
    let header = csv.lines().next().unwrap();
    assert_eq!(
        header,
        "id,sku,name,category,tracked,stock_unit,standard_cost,list_price,low_stock_threshold,status,version,created_at,updated_at"
    );
    assert!(
        csv.lines()
            .skip(1)
            .all(|row| row.split(',').count() == header.split(',').count()),
        "every row fits the header"
    );
    assert!(
        csv.contains("SVC-CAL,Calibration,,false,h,0.0000,0.0000"),
        "{csv}"
    );
}
