//! A buying organization for the purchasing tests: a vendor, a part bought by the box of 12,
//! and a warehouse.

use serde_json::json;

use super::TestServer;

pub struct Setup {
    pub server: TestServer,
    pub org: String,
    pub vendor: String,
    pub bolt: String,
    pub warehouse: String,
}

pub async fn setup() -> Setup {
    let (server, org) = TestServer::in_org("Buyer Co").await;
    let vendor = server
        .post_json(
            "/api/v1/partners",
            json!({"name": "Anderson Steel", "kind": "vendor"}),
        )
        .await;
    let bolt = server.post_json("/api/v1/products", json!({
        "sku": "BOLT-M8", "name": "Bolt", "standard_cost": "0.10", "purchase_unit": {"unit": "box", "factor": "12"}
    }))
    .await;
    let warehouse = server
        .post_json("/api/v1/locations", json!({"code": "WH1", "name": "Main"}))
        .await;
    Setup {
        org,
        vendor: vendor["id"].as_str().unwrap().into(),
        bolt: bolt["id"].as_str().unwrap().into(),
        warehouse: warehouse["id"].as_str().unwrap().into(),
        server,
    }
}
