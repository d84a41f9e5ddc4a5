//! Accounting master data over real HTTP: the baseline chart of accounts every organization
//! gets, and taxes on purchase and sales order lines, checked against figures computed by hand.

mod common;

use axum::Router;
use common::{TestServer, field_errors, problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn create(server: &TestServer, path: &str, body: Value) -> Value {
    let response = server.post(path, body).send().await.unwrap();
    assert_eq!(response.status(), 201, "POST {path}");
    response.json().await.unwrap()
}

async fn json_of(server: &TestServer, path: &str) -> Value {
    let response = server.get(path).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
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

fn id(record: &Value) -> &str {
    record["id"].as_str().unwrap()
}

/// (line_total, net_amount, tax_amount, tax_rate, tax_inclusive) of a line, as sent.
fn amounts(line: &Value) -> (&str, &str, &str, Value, bool) {
    (
        line["line_total"].as_str().unwrap(),
        line["net_amount"].as_str().unwrap(),
        line["tax_amount"].as_str().unwrap(),
        line["tax_rate"].clone(),
        line["tax_inclusive"].as_bool().unwrap(),
    )
}

/// (subtotal, tax_total, total) of an order.
fn totals(order: &Value) -> (&str, &str, &str) {
    (
        order["subtotal"].as_str().unwrap(),
        order["tax_total"].as_str().unwrap(),
        order["total"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn a_new_organization_starts_with_the_baseline_chart_of_accounts() {
    let (server, org_id) = TestServer::in_org("Ledger Co").await;
    let accounts = json_of(&server, "/api/v1/accounts?limit=500").await;
    let items = accounts["items"].as_array().unwrap();
    assert_eq!(items.len(), steelyard_domain::account::BASELINE_CHART.len());
    let cash = items.iter().find(|a| a["code"] == "1000").unwrap();
    assert_eq!(
        (
            &cash["name"],
            &cash["account_type"],
            &cash["organization_id"]
        ),
        (&json!("Cash"), &json!("asset"), &json!(org_id))
    );
    let payable = json_of(&server, "/api/v1/accounts?account_type=liability&q=tax").await;
    assert_eq!(codes(&payable), ["2100"]);
    let history = json_of(
        &server,
        &format!("/api/v1/accounts/{}/history", cash["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(history["items"][0]["kind"], "account.created");

    // The seeded chart is an ordinary chart: its codes are taken, and it can grow.
    problem(
        server
            .post(
                "/api/v1/accounts",
                json!({"code": "1000", "name": "Cash again", "account_type": "asset"}),
            )
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    create(
        &server,
        "/api/v1/accounts",
        json!({"code": "1010", "name": "Petty cash", "account_type": "asset"}),
    )
    .await;
    let csv = server
        .get("/api/v1/accounts?limit=3")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,code,name,account_type,description,status,version,created_at,updated_at"
    );
    assert_eq!(
        lines.len(),
        steelyard_domain::account::BASELINE_CHART.len() + 2
    );
}

#[tokio::test]
async fn organizations_made_before_charts_were_seeded_get_one_at_the_next_start() {
    let server = TestServer::start().await;
    let old = server.create_org("Old Timer").await;
    let old_id = old["id"].as_str().unwrap().to_owned();
    // As it was before this version: an organization without accounts.
    steelyard_store::testing::execute(
        &server.state.app.db,
        &format!("DELETE FROM accounts WHERE org_id = '{old_id}'"),
    )
    .await;
    let database = server.stop().await;
    let mut server = TestServer::start_on(database, &[], Router::new()).await;
    server.token = token_in(&server, &old_id).await;
    let accounts = json_of(&server, "/api/v1/accounts?limit=500").await;
    assert_eq!(
        accounts["items"].as_array().unwrap().len(),
        steelyard_domain::account::BASELINE_CHART.len()
    );
    // A second start adds nothing.
    let database = server.stop().await;
    let mut server = TestServer::start_on(database, &[], Router::new()).await;
    server.token = token_in(&server, &old_id).await;
    let accounts = json_of(&server, "/api/v1/accounts?limit=500&status=all").await;
    assert_eq!(
        accounts["items"].as_array().unwrap().len(),
        steelyard_domain::account::BASELINE_CHART.len()
    );
}

/// Taxes of each kind, a product per line, a vendor and a customer, and a warehouse.
struct Books {
    server: TestServer,
    vat19: Value,
    gst7_inclusive: Value,
    sales5: Value,
    products: Vec<String>,
    vendor: String,
    customer: String,
    warehouse: String,
}

async fn books() -> Books {
    let (server, _) = TestServer::in_org("Taxed Co").await;
    let tax = |code: &str, rate: &str, inclusive: bool, applies_to: &str| json!({"code": code, "name": code, "rate": rate, "inclusive": inclusive, "applies_to": applies_to});
    let vat19 = create(&server, "/api/v1/taxes", tax("VAT19", "19", false, "both")).await;
    let gst7_inclusive = create(&server, "/api/v1/taxes", tax("GST7", "7", true, "both")).await;
    let sales5 = create(&server, "/api/v1/taxes", tax("ST5", "5", false, "sales")).await;
    let mut products = Vec::new();
    for sku in ["P1", "P2", "P3"] {
        let product = create(
            &server,
            "/api/v1/products",
            json!({"sku": sku, "name": sku}),
        )
        .await;
        products.push(id(&product).to_owned());
    }
    let partner = |name: &str, kind: &str| json!({"name": name, "kind": kind});
    let vendor = create(&server, "/api/v1/partners", partner("Vendor", "vendor")).await;
    let customer = create(&server, "/api/v1/partners", partner("Customer", "customer")).await;
    let warehouse = create(
        &server,
        "/api/v1/locations",
        json!({"code": "WH1", "name": "Main"}),
    )
    .await;
    Books {
        vat19,
        gst7_inclusive,
        sales5,
        products,
        vendor: id(&vendor).to_owned(),
        customer: id(&customer).to_owned(),
        warehouse: id(&warehouse).to_owned(),
        server,
    }
}

#[tokio::test]
async fn purchase_orders_add_exclusive_taxes_and_take_inclusive_ones_out_exactly() {
    let b = books().await;
    let po = create(
        &b.server,
        "/api/v1/purchase-orders",
        json!({"vendor_id": b.vendor, "lines": [
            {"product_id": b.products[0], "quantity": "3", "unit_price": "33.3333", "tax_id": b.vat19["id"]},
            {"product_id": b.products[1], "quantity": "1", "unit_price": "10", "tax_id": b.gst7_inclusive["id"]},
            {"product_id": b.products[2], "quantity": "2", "unit_price": "5"}
        ]}),
    )
    .await;
    let lines = po["lines"].as_array().unwrap();
    // 3 × 33.3333 = 99.9999; 19 % on top is 18.999981, rounded per line to 19.0000.
    assert_eq!(
        amounts(&lines[0]),
        ("99.9999", "99.9999", "19.0000", json!("19.0000"), false)
    );
    assert_eq!(lines[0]["tax_id"], b.vat19["id"]);
    // 10.00 includes 7 %: 10 × 7 / 107 = 0.654205…, so 0.6542 tax on 9.3458 net.
    assert_eq!(
        amounts(&lines[1]),
        ("10.0000", "9.3458", "0.6542", json!("7.0000"), true)
    );
    assert_eq!(
        (amounts(&lines[2]), &lines[2]["tax_id"]),
        (
            ("10.0000", "10.0000", "0.0000", Value::Null, false),
            &Value::Null
        )
    );
    // 99.9999 + 9.3458 + 10 net, 19.0000 + 0.6542 tax.
    assert_eq!(totals(&po), ("119.3457", "19.6542", "138.9999"));

    // The order keeps the tax it was priced with.
    let vat_path = format!("/api/v1/taxes/{}", id(&b.vat19));
    let raised = b
        .server
        .request(Method::PATCH, &vat_path)
        .header("if-match", "*")
        .json(&json!({"rate": "20"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raised.status(), 200);
    let po_path = format!("/api/v1/purchase-orders/{}", id(&po));
    assert_eq!(json_of(&b.server, &po_path).await, po);

    // Stock is valued without the inclusive tax: 9.3458 a unit.
    let confirm = b
        .server
        .post(&format!("{po_path}/confirm"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    let receipt = b
        .server
        .post(
            &format!("{po_path}/receipts"),
            json!({"location_id": b.warehouse, "lines": [{"line_id": lines[1]["id"], "quantity": "1"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(receipt.status(), 200);
    let valuation = json_of(
        &b.server,
        &format!("/api/v1/products/{}/valuation", b.products[1]),
    )
    .await;
    assert_eq!(valuation["average_cost"], "9.3458");
}

#[tokio::test]
async fn sales_orders_total_their_taxed_lines_and_refuse_taxes_that_do_not_apply() {
    let b = books().await;
    let gst19_inclusive = create(
        &b.server,
        "/api/v1/taxes",
        json!({"code": "GST19", "name": "GST 19 % included", "rate": "19", "inclusive": true}),
    )
    .await;
    let order = create(
        &b.server,
        "/api/v1/sales-orders",
        json!({"customer_id": b.customer, "location_id": b.warehouse, "lines": [
            {"product_id": b.products[0], "quantity": "2", "unit_price": "59.50", "tax_id": gst19_inclusive["id"]},
            {"product_id": b.products[1], "quantity": "1", "unit_price": "0.001", "tax_id": b.sales5["id"]}
        ]}),
    )
    .await;
    let lines = order["lines"].as_array().unwrap();
    // 2 × 59.50 = 119.00 including 19 %: 119 × 19 / 119 = 19 tax on 100 net.
    assert_eq!(
        amounts(&lines[0]),
        ("119.0000", "100.0000", "19.0000", json!("19.0000"), true)
    );
    // 5 % of 0.0010 is 0.00005: half a ten-thousandth rounds away from zero, to 0.0001.
    assert_eq!(
        amounts(&lines[1]),
        ("0.0010", "0.0010", "0.0001", json!("5.0000"), false)
    );
    assert_eq!(totals(&order), ("100.0010", "19.0001", "119.0011"));

    // A sales-only tax on a purchase, a purchase on an unknown or archived tax: 422, nothing made.
    let archived = create(
        &b.server,
        "/api/v1/taxes",
        json!({"code": "OLD", "name": "Old", "rate": "16"}),
    )
    .await;
    let archive = b
        .server
        .post(
            &format!("/api/v1/taxes/{}/archive", id(&archived)),
            json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(archive.status(), 200);
    let refused = b
        .server
        .post(
            "/api/v1/purchase-orders",
            json!({"vendor_id": b.vendor, "lines": [
                {"product_id": b.products[0], "quantity": "1", "tax_id": b.sales5["id"]},
                {"product_id": b.products[0], "quantity": "1", "tax_id": steelyard_domain::new_id()},
                {"product_id": b.products[0], "quantity": "1", "tax_id": archived["id"]},
                {"product_id": b.products[0], "quantity": "1", "tax_id": b.vat19["id"]}
            ]}),
        )
        .send()
        .await
        .unwrap();
    let body = problem(refused, 422).await;
    let errors = field_errors(&body);
    assert_eq!(
        errors,
        [
            ("lines[0].tax_id", "not_applicable"),
            ("lines[1].tax_id", "unknown"),
            ("lines[2].tax_id", "unknown")
        ]
    );
    let orders = json_of(&b.server, "/api/v1/purchase-orders").await;
    assert!(orders["items"].as_array().unwrap().is_empty());
}
