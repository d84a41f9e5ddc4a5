//! Automatic document numbers from two instances on one PostgreSQL database: each instance
//! queues its own orders (ADR 0006), and the instances meet only at the counter's row lock,
//! inside the statement that takes the number and inserts the order
//! (`store::document::insert_with_next_number`). Numbers stay unique and without gaps, skip a
//! number chosen by hand, and every order keeps its lines and its event.

use serde_json::json;
use steelyard_domain::access::Actor;
use steelyard_domain::organization::OrganizationDraft;
use steelyard_domain::page::PageRequest;
use steelyard_domain::purchase::PurchaseOrderDraft;
use steelyard_services::{App, Ctx, organizations, partners, products, purchasing};
use steelyard_store::testing::TestDatabase;
use tokio::task::JoinSet;

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
    let org = organizations::create(
        &a,
        &Ctx::system(),
        OrganizationDraft {
            name: Some("Two Counters Co".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ctx = Ctx::new(Actor::system_in(org.id), None);
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
