//! Lists as files over real HTTP: every list answers CSV and XLSX by `Accept`, with its
//! filters; the XLSX is a valid ZIP (read back with an independent ZIP reader) holding the
//! sheet; thousands of rows stream page by page to the last row.

mod common;

use std::io::Read;

use common::{TestServer, problem};
use serde_json::json;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn export(server: &TestServer, path: &str, accept: &str) -> (String, String, Vec<u8>) {
    let response = server
        .get(path)
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path} as {accept}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let bytes = response.bytes().await.unwrap().to_vec();
    (content_type, disposition, bytes)
}

/// The archive's entry names and its sheet, read with the `zip` crate (which checks every
/// entry's CRC and size as it reads).
fn open_xlsx(bytes: &[u8]) -> (Vec<String>, String) {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a valid ZIP");
    let mut names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    names.sort();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut sink = Vec::new();
        entry
            .read_to_end(&mut sink)
            .expect("the entry's CRC and size hold");
    }
    let mut sheet = String::new();
    archive
        .by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    (names, sheet)
}

#[tokio::test]
async fn an_xlsx_export_is_a_workbook_with_the_filtered_rows_escaped_and_typed() {
    let (server, _) = TestServer::in_org("Export Co").await;
    for (name, kind) in [
        ("Smith & Sons <UK>", "vendor"),
        ("=HYPERLINK(\"x\")", "vendor"),
        ("Müller GmbH", "both"),
        ("Only Customer", "customer"),
    ] {
        server
            .post_json(
                "/api/v1/partners",
                json!({"name": name, "kind": kind, "payment_terms_days": 30}),
            )
            .await;
    }
    let (content_type, disposition, bytes) =
        export(&server, "/api/v1/partners?kind=vendor", XLSX).await;
    assert_eq!(content_type, XLSX);
    assert_eq!(disposition, "attachment; filename=\"partners.xlsx\"");
    let (names, sheet) = open_xlsx(&bytes);
    assert_eq!(
        names,
        [
            "[Content_Types].xml",
            "_rels/.rels",
            "xl/_rels/workbook.xml.rels",
            "xl/styles.xml",
            "xl/workbook.xml",
            "xl/worksheets/sheet1.xml"
        ]
    );
    assert!(sheet.starts_with("<?xml"), "{sheet}");
    assert!(sheet.ends_with("</sheetData></worksheet>"));
    assert_eq!(
        sheet.matches("<row ").count(),
        4,
        "header and the three vendors"
    );
    assert!(sheet.contains(r#"<c r="A1" s="1" t="inlineStr"><is><t>id</t></is></c>"#));
    assert!(sheet.contains("Smith &amp; Sons &lt;UK&gt;"));
    assert!(sheet.contains("Müller GmbH"));
    assert!(!sheet.contains("Only Customer"), "the filter applies");
    // Inline strings are never formulas: the text stays as it was written.
    assert!(sheet.contains("<t>=HYPERLINK(&quot;x&quot;)</t>"));
    // payment_terms_days (column G) is a number cell.
    assert!(sheet.contains(r#"<c r="G2"><v>30</v></c>"#), "{sheet}");

    let (_, _, csv) = export(&server, "/api/v1/partners?kind=vendor", "text/csv").await;
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.contains("'=HYPERLINK"), "formulas defused in CSV");
}

#[tokio::test]
async fn every_list_answers_csv_and_xlsx() {
    let (server, org) = TestServer::in_org("Lists Co").await;
    server
        .post_json(
            "/api/v1/users",
            json!({"email": "buyer@lists.example", "role": "purchaser", "organization_id": org}),
        )
        .await;
    let vendor = server
        .post_json("/api/v1/partners", json!({"name": "V", "kind": "both"}))
        .await;
    let product = server
        .post_json("/api/v1/products", json!({"sku": "P-1", "name": "P"}))
        .await;
    let location = server
        .post_json("/api/v1/locations", json!({"code": "WH", "name": "W"}))
        .await;
    server.post_json("/api/v1/inventory/adjustments", json!({
        "product_id": product["id"], "location_id": location["id"], "quantity": "5", "unit_cost": "1", "reason": "count"
    }))
    .await;
    server
        .post_json(
            "/api/v1/purchase-orders",
            json!({"vendor_id": vendor["id"], "lines": []}),
        )
        .await;
    server
        .post_json(
            "/api/v1/sales-orders",
            json!({"customer_id": vendor["id"], "location_id": location["id"], "lines": []}),
        )
        .await;
    server
        .post_json(
            "/api/v1/auth/tokens",
            json!({"name": "ci", "permissions": ["product.read"]}),
        )
        .await;
    server
        .post_json(
            "/api/v1/commodities",
            json!({"code": "C1", "name": "Cotton", "unit": "kg"}),
        )
        .await;
    server
        .post_json(
            "/api/v1/taxes",
            json!({"code": "VAT", "name": "VAT", "rate": "19"}),
        )
        .await;
    let department = server
        .post_json(
            "/api/v1/departments",
            json!({"code": "QA", "name": "Quality"}),
        )
        .await;
    server
        .post_json(
            "/api/v1/employees",
            json!({"code": "E-1", "name": "Maria Lopez", "department_id": department["id"]}),
        )
        .await;
    let lists = [
        ("/api/v1/commodities", "commodities", "id,code"),
        ("/api/v1/taxes", "taxes", "id,code"),
        ("/api/v1/accounts", "accounts", "id,code"),
        ("/api/v1/departments", "departments", "id,code"),
        ("/api/v1/employees", "employees", "id,code"),
        ("/api/v1/organizations", "organizations", "id,name"),
        ("/api/v1/partners", "partners", "id,name"),
        ("/api/v1/products", "products", "id,sku"),
        ("/api/v1/locations", "locations", "id,code"),
        (
            "/api/v1/inventory/stock",
            "stock",
            "product_id,location_id,on_hand",
        ),
        ("/api/v1/inventory/moves", "stock-moves", "id,product_id"),
        (
            "/api/v1/purchase-orders",
            "purchase-orders",
            "id,number,vendor_id",
        ),
        (
            "/api/v1/sales-orders",
            "sales-orders",
            "id,number,customer_id",
        ),
        ("/api/v1/events", "events", "seq,id"),
        ("/api/v1/users", "users", "id,email"),
        ("/api/v1/roles", "roles", "name,built_in"),
        ("/api/v1/auth/tokens", "tokens", "id,name"),
    ];
    for (path, name, header) in lists {
        let (content_type, disposition, csv) = export(&server, path, "text/csv").await;
        assert_eq!(content_type, "text/csv; charset=utf-8", "{path}");
        assert_eq!(disposition, format!("attachment; filename=\"{name}.csv\""));
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with(header), "{path}: {csv}");
        assert!(csv.lines().count() >= 2, "{path} has a row: {csv}");

        let (content_type, disposition, bytes) = export(&server, path, XLSX).await;
        assert_eq!(content_type, XLSX, "{path}");
        assert_eq!(disposition, format!("attachment; filename=\"{name}.xlsx\""));
        let (_, sheet) = open_xlsx(&bytes);
        assert_eq!(
            sheet.matches("<row ").count(),
            csv.lines().count(),
            "{path}: the same rows in both formats"
        );
    }
    let refused = server
        .get("/api/v1/partners?status=bogus")
        .header("accept", XLSX)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(refused, 422).await["errors"][0]["field"], "status");
}

#[tokio::test]
async fn thousands_of_rows_stream_to_the_last_row_in_both_formats() {
    let (server, _) = TestServer::in_org("Bulk Co").await;
    const ROWS: usize = 2_100;
    let server = std::sync::Arc::new(server);
    let mut workers = Vec::new();
    for worker in 0..6 {
        let server = server.clone();
        workers.push(tokio::spawn(async move {
            for i in (worker..ROWS).step_by(6) {
                let name = format!("Partner {i:05}");
                server
                    .post_json("/api/v1/partners", json!({"name": name, "kind": "vendor"}))
                    .await;
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let (_, _, csv) = export(&server, "/api/v1/partners", "text/csv").await;
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), ROWS + 1);
    let mut ids: Vec<&str> = csv.lines().skip(1).map(|l| &l[..36]).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ROWS, "every partner once");

    let (_, _, bytes) = export(&server, "/api/v1/partners", XLSX).await;
    let (_, sheet) = open_xlsx(&bytes);
    assert_eq!(sheet.matches("<row ").count(), ROWS + 1);
    assert!(sheet.contains(&format!(r#"<row r="{}">"#, ROWS + 1)));
}
