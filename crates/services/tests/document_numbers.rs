//! Automatic document numbers (`store::document::insert_with_next_number`). From two instances
//! on one PostgreSQL database, where each instance queues its own orders (ADR 0006) and the
//! instances meet only at the counter's row lock, inside the statement that takes the number
//! and inserts the order: numbers stay unique and without gaps, skip a number chosen by hand,
//! and every order keeps its lines and its event. On either engine, a sales order skips a
//! number found taken when its counter is behind the orders.

use serde_json::json;
use steelyard_domain::access::Actor;
use steelyard_domain::organization::{Organization, OrganizationDraft};
use steelyard_domain::page::PageRequest;
use steelyard_domain::purchase::PurchaseOrderDraft;
use steelyard_services::{
    App, Ctx, inventory, organizations, partners, products, purchasing, sales,
};
use steelyard_store::testing::TestDatabase;
use tokio::task::JoinSet;

/// A new organization, and the system acting in it.
async fn organization(app: &App, name: &str) -> (Organization, Ctx) {
    let draft = OrganizationDraft {
        name: Some(name.into()),
        ..Default::default()
    };
    let org = organizations::create(app, &Ctx::system(), draft)
        .await
        .unwrap();
    let ctx = Ctx::new(Actor::system_in(org.id), None);
    (org, ctx)
}

fn order(vendor: uuid::Uuid, product: uuid::Uuid, number: Option<&str>) -> PurchaseOrderDraft {
    serde_json::from_value(json!({
        "vendor_id": vendor,
        "number": number,
        "lines": [
            {"product_id": product, "quantity": "2"},
            {"product_id": product, "quantity": "3"}
        ]
    }))
    .expect("a purchase order draft")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_take_every_number_once_and_skip_one_chosen_by_hand() {
    let database = TestDatabase::new().await;
    if database.database_url().is_none() {
        return; // one process per SQLite file: its one writer numbers every order
    }
    let (a, b) = (
        App::new(database.connect().await),
        App::new(database.connect().await),
    );
    let (_, ctx) = organization(&a, "Two Counters Co").await;
    let vendor = partners::create(
        &a,
        &ctx,
        serde_json::from_value(json!({"name": "Anderson Steel", "kind": "vendor"})).unwrap(),
    )
    .await
    .unwrap();
    let product = products::create(
        &a,
        &ctx,
        serde_json::from_value(json!({"sku": "BOLT-M8", "name": "Bolt"})).unwrap(),
    )
    .await
    .unwrap();
    let chosen = purchasing::create(&b, &ctx, order(vendor.id, product.id, Some("PO-000005")))
        .await
        .unwrap();
    assert_eq!(chosen.number, "PO-000005");

    let mut creates = JoinSet::new();
    for n in 0..30 {
        let app = if n % 2 == 0 { a.clone() } else { b.clone() };
        let (ctx, draft) = (ctx.clone(), order(vendor.id, product.id, None));
        creates.spawn(async move { purchasing::create(&app, &ctx, draft).await.unwrap() });
    }
    let mut answered: Vec<String> = creates
        .join_all()
        .await
        .into_iter()
        .map(|po| po.number)
        .collect();
    answered.sort();
    let expected: Vec<String> = (1..=31)
        .filter(|&n| n != 5)
        .map(|n| format!("PO-{n:06}"))
        .collect();
    assert_eq!(answered, expected);

    // Stored as answered, each with its two lines and no line of an attempt that collided.
    let page = purchasing::list(&a, &ctx, &Default::default(), PageRequest::first(100))
        .await
        .unwrap();
    let mut stored: Vec<(String, usize)> = page
        .items
        .iter()
        .map(|po| (po.number.clone(), po.lines.len()))
        .collect();
    stored.sort();
    let mut all = expected.clone();
    all.push(chosen.number.clone());
    all.sort();
    assert_eq!(stored, all.into_iter().map(|n| (n, 2)).collect::<Vec<_>>());
    let report = steelyard_store::events::verify_all(&a.db).await.unwrap();
    assert_eq!(report.first_break, None);
    // The organization, the vendor, the product and 31 orders.
    assert!(report.verified >= 34, "{report:?}");
}

#[tokio::test]
async fn a_sales_order_skips_a_number_taken_while_its_counter_was_behind() {
    let database = TestDatabase::new().await;
    let app = App::new(database.connect().await);
    let (org, ctx) = organization(&app, "Restored Co").await;
    let customer = partners::create(
        &app,
        &ctx,
        serde_json::from_value(json!({"name": "Contoso", "kind": "customer"})).unwrap(),
    )
    .await
    .unwrap();
    let warehouse = inventory::create_location(
        &app,
        &ctx,
        serde_json::from_value(json!({"code": "WH1", "name": "Main"})).unwrap(),
    )
    .await
    .unwrap();
    let create = || async {
        let draft = serde_json::from_value(
            json!({"customer_id": customer.id, "location_id": warehouse.id, "lines": []}),
        )
        .unwrap();
        sales::create(&app, &ctx, draft).await.unwrap().number
    };
    assert_eq!(create().await, "SO-000001");
    // The counter set back, as a restore of an older copy of it would leave it.
    steelyard_store::testing::execute(
        &app.db,
        &format!(
            "UPDATE document_numbers SET last = 0 WHERE org_id = '{}' AND doc_type = 'SO'",
            org.id
        ),
    )
    .await;
    assert_eq!(create().await, "SO-000002");
    assert_eq!(create().await, "SO-000003");
}
