//! A buyer imports a vendor's order over real HTTP: names as the vendor wrote them are matched
//! to vendors and products in a read-only preview, the chosen matches are committed as a draft
//! order, which is then confirmed and received in two parts; and bad documents are refused
//! line by line with nothing written.

mod common;

use common::{TestServer, problem};
use reqwest::Response;
use serde_json::{Value, json};

struct Shop {
    server: TestServer,
    acme: String,
    bolt30: String,
    bolt40: String,
    washer: String,
    warehouse: String,
}

async fn shop() -> Shop {
    let (server, _) = TestServer::in_org("Buyer Co").await;
    let id = |v: Value| v["id"].as_str().unwrap().to_owned();
    let vendor = |name: &str, kind: &str| json!({"name": name, "kind": kind});
    let acme = id(server
        .post_json("/api/v1/partners", vendor("ACME Bolts Co.", "vendor"))
        .await);
    server
        .post_json("/api/v1/partners", vendor("Acme Tools GmbH", "both"))
        .await;
    server
        .post_json("/api/v1/partners", vendor("Acme Bolt Buyers", "customer"))
        .await;
    let product = |sku: &str, name: &str| json!({"sku": sku, "name": name, "standard_cost": "0.10", "purchase_unit": {"unit": "box", "factor": "12"}});
    let bolt30 = id(server
        .post_json("/api/v1/products", product("HB-M8X30", "Hex Bolt M8 x 30"))
        .await);
    let bolt40 = id(server
        .post_json("/api/v1/products", product("HB-M8X40", "Hex Bolt M8 x 40"))
        .await);
    let washer = id(server
        .post_json(
            "/api/v1/products",
            json!({"sku": "WSH-M8", "name": "Washer M8"}),
        )
        .await);
    let warehouse = id(server
        .post_json("/api/v1/locations", json!({"code": "WH1", "name": "Main"}))
        .await);
    Shop {
        server,
        acme,
        bolt30,
        bolt40,
        washer,
        warehouse,
    }
}

impl Shop {
    async fn send_csv(&self, path: &str, csv: &str) -> Response {
        self.server
            .request(reqwest::Method::POST, path)
            .header("content-type", "text/csv")
            .body(csv.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// How many events and purchase orders the organization has: a preview changes neither.
    async fn written(&self) -> (usize, usize) {
        let count = |body: Value| body["items"].as_array().unwrap().len();
        let events = self
            .server
            .get("/api/v1/events?limit=500")
            .send()
            .await
            .unwrap();
        let orders = self
            .server
            .get("/api/v1/purchase-orders?limit=500")
            .send()
            .await
            .unwrap();
        (
            count(events.json().await.unwrap()),
            count(orders.json().await.unwrap()),
        )
    }
}

const VENDOR_CSV: &str = "PO Number,Vendor,Order Date,Part,Description,Quantity,Unit,Unit Price\r\n\
    V-1001,Acme Bolt Co,2026-11-20,hex bolt m8x30,\"Hex bolts, zinc plated\",10,box,1.20\r\n\
    ,,,Hex Bolts M8x40,,5,,1.50\r\n\
    ,,,WSH-M8,Washers,100,ea,0.05\r\n";

fn fields(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_misspelled_vendor_order_is_previewed_committed_confirmed_and_received() {
    let shop = shop().await;
    let before = shop.written().await;
    let response = shop
        .send_csv("/api/v1/purchasing/imports", VENDOR_CSV)
        .await;
    assert_eq!(response.status(), 200);
    let preview: Value = response.json().await.unwrap();
    assert_eq!(shop.written().await, before, "a preview writes nothing");

    let vendor = &preview["vendor"];
    assert_eq!(vendor["matched"]["id"], shop.acme.as_str(), "{preview}");
    assert_eq!(vendor["matched"]["stage"], "fuzzy");
    let score = vendor["matched"]["score"].as_f64().unwrap();
    assert!((0.9..1.0).contains(&score), "{score}");
    let alternatives: Vec<&str> = vendor["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        alternatives,
        ["Acme Tools GmbH"],
        "customers are not vendors"
    );

    let line = |i: usize| &preview["lines"][i]["product"];
    assert_eq!(
        (
            line(0)["matched"]["id"].as_str(),
            line(0)["matched"]["stage"].as_str()
        ),
        (Some(shop.bolt30.as_str()), Some("normalized"))
    );
    assert_eq!(line(0)["alternatives"][0]["sku"], "HB-M8X40");
    assert_eq!(
        (
            line(1)["matched"]["id"].as_str(),
            line(1)["matched"]["stage"].as_str()
        ),
        (Some(shop.bolt40.as_str()), Some("fuzzy"))
    );
    assert_eq!(
        (
            line(2)["matched"]["id"].as_str(),
            line(2)["matched"]["stage"].as_str()
        ),
        (Some(shop.washer.as_str()), Some("exact"))
    );
    assert_eq!(preview["lines"][2]["csv_line"], 4);
    assert_eq!(
        (
            preview["po_number"].as_str(),
            preview["number_exists"].as_bool()
        ),
        (Some("V-1001"), Some(false))
    );

    // The buyer accepts the matches: the preview's document commits as it is.
    let commit = shop
        .server
        .post(
            "/api/v1/purchasing/imports/commit",
            preview["document"].clone(),
        )
        .header("idempotency-key", "import-v-1001")
        .send()
        .await
        .unwrap();
    assert_eq!(commit.status(), 201);
    let location = commit.headers()["location"].to_str().unwrap().to_owned();
    let po: Value = commit.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/purchase-orders/{}", po["id"].as_str().unwrap())
    );
    assert_eq!(
        (
            po["number"].as_str(),
            po["status"].as_str(),
            po["total"].as_str()
        ),
        (Some("V-1001"), Some("draft"), Some("24.5000"))
    );
    assert_eq!(po["notes"], "Order date 2026-11-20");
    assert_eq!(
        po["lines"][1]["unit"], "box",
        "the purchase unit when none is named"
    );
    let after_commit = shop.written().await;
    assert_eq!(
        after_commit,
        (before.0 + 1, before.1 + 1),
        "one order, one event"
    );

    let retry = shop
        .server
        .post(
            "/api/v1/purchasing/imports/commit",
            preview["document"].clone(),
        )
        .header("idempotency-key", "import-v-1001")
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.json::<Value>().await.unwrap()["id"], po["id"]);
    let again = shop
        .send_csv("/api/v1/purchasing/imports", VENDOR_CSV)
        .await;
    assert_eq!(again.json::<Value>().await.unwrap()["number_exists"], true);
    let twice = shop
        .server
        .post(
            "/api/v1/purchasing/imports/commit",
            preview["document"].clone(),
        )
        .send()
        .await
        .unwrap();
    problem(twice, 409).await;
    assert_eq!(shop.written().await, after_commit);

    let path = format!("/api/v1/purchase-orders/{}", po["id"].as_str().unwrap());
    assert_eq!(
        shop.server
            .post_json(&format!("{path}/confirm"), json!({}))
            .await["status"],
        "confirmed"
    );
    let lines: Vec<String> = po["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    let receive = |parts: Vec<(&String, &str)>| {
        let lines: Vec<Value> = parts
            .into_iter()
            .map(|(line, quantity)| json!({"line_id": line, "quantity": quantity}))
            .collect();
        json!({"location_id": shop.warehouse, "lines": lines})
    };
    let partial = shop
        .server
        .post_json(&format!("{path}/receipts"), receive(vec![(&lines[0], "4")]))
        .await;
    assert_eq!(partial["status"], "partially_received");
    let rest = receive(vec![(&lines[0], "6"), (&lines[1], "5"), (&lines[2], "100")]);
    let done = shop
        .server
        .post_json(&format!("{path}/receipts"), rest)
        .await;
    assert_eq!(done["status"], "received");
    let stock: Value = shop
        .server
        .get(&format!(
            "/api/v1/inventory/stock?product_id={}",
            shop.bolt30
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stock["items"][0]["on_hand"], "120.000000", "10 boxes of 12");
}

#[tokio::test]
async fn a_chosen_product_overrides_the_match_and_a_csv_commits_with_id_columns() {
    let shop = shop().await;
    let document = json!({
        "vendor": "acme bolts co", "lines": [{"part": "hex bolt m8x30", "quantity": 2, "product_id": shop.bolt40}]
    });
    let preview = shop
        .server
        .post_json("/api/v1/purchasing/imports", document)
        .await;
    assert_eq!(preview["vendor"]["matched"]["stage"], "normalized");
    let line = &preview["lines"][0]["product"];
    assert_eq!(
        (
            line["matched"]["id"].as_str(),
            line["matched"]["stage"].as_str()
        ),
        (Some(shop.bolt40.as_str()), Some("chosen"))
    );
    assert_eq!(line["alternatives"][0]["id"], shop.bolt30.as_str());

    let without_ids = shop
        .send_csv("/api/v1/purchasing/imports/commit", VENDOR_CSV)
        .await;
    let body = problem(without_ids, 422).await;
    assert_eq!(fields(&body)[0], ("vendor_id".into(), "required".into()));
    assert!(fields(&body).contains(&("lines[2].product_id".into(), "required".into())));

    let csv = format!(
        "vendor,vendor_id,part,product_id,quantity,notes,order_date\n\
         Acme,{},bolt,{},3,Call before delivery,2026-12-01\n",
        shop.acme, shop.washer
    );
    let committed = shop
        .send_csv("/api/v1/purchasing/imports/commit", &csv)
        .await;
    assert_eq!(committed.status(), 201);
    let po: Value = committed.json().await.unwrap();
    assert_eq!(po["number"], "PO-000001");
    assert_eq!(po["lines"][0]["product_id"], shop.washer.as_str());
    assert_eq!(po["notes"], "Call before delivery; order date 2026-12-01");
}

#[tokio::test]
async fn bad_documents_are_refused_line_by_line_and_write_nothing() {
    let shop = shop().await;
    let before = shop.written().await;

    let unmatched =
        "vendor,part,quantity\nACME Bolts Co.,HB-M8X30,1\nACME Bolts Co.,flange gasket DN50,2\n";
    let body = problem(
        shop.send_csv("/api/v1/purchasing/imports", unmatched).await,
        422,
    )
    .await;
    assert_eq!(
        fields(&body),
        [("lines[1].part".into(), "unmatched".into())]
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("CSV line 3") && message.contains("flange gasket DN50"),
        "{message}"
    );

    let nobody = "vendor,part,quantity\nGlobex Corporation,HB-M8X30,1\n";
    let body = problem(
        shop.send_csv("/api/v1/purchasing/imports", nobody).await,
        422,
    )
    .await;
    assert_eq!(fields(&body), [("vendor".into(), "unmatched".into())]);

    let malformed = "vendor,part,quantity\nACME Bolts Co.,\"HB-M8X30,1\n";
    let body = problem(
        shop.send_csv("/api/v1/purchasing/imports", malformed).await,
        422,
    )
    .await;
    assert_eq!(fields(&body), [("document".into(), "malformed_csv".into())]);

    let mut too_long = String::from("vendor,part,quantity\n");
    for _ in 0..501 {
        too_long.push_str("ACME Bolts Co.,HB-M8X30,1\n");
    }
    let body = problem(
        shop.send_csv("/api/v1/purchasing/imports", &too_long).await,
        422,
    )
    .await;
    assert_eq!(fields(&body), [("lines".into(), "too_many".into())]);

    let bad_values =
        "vendor,part,quantity,unit,order_date\nACME Bolts Co.,HB-M8X30,-1,kg,tomorrow\n";
    let body = problem(
        shop.send_csv("/api/v1/purchasing/imports", bad_values)
            .await,
        422,
    )
    .await;
    let found = fields(&body);
    for expected in ["lines[0].quantity", "lines[0].unit", "order_date"] {
        assert!(
            found.iter().any(|(f, _)| f == expected),
            "{expected}: {found:?}"
        );
    }

    let other_type = shop
        .server
        .request(reqwest::Method::POST, "/api/v1/purchasing/imports")
        .header("content-type", "text/plain")
        .body("vendor,part,quantity\n")
        .send()
        .await
        .unwrap();
    problem(other_type, 415).await;
    assert_eq!(shop.written().await, before);
}
