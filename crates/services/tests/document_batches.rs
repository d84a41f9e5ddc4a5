//! New documents written several to a transaction on PostgreSQL (`store/src/batch.rs`, ADR
//! 0010): orders created at once share transactions, yet each keeps its own number, lines,
//! event (with its own request's origin) and idempotency answer; a document that fails fails
//! alone, and the numbers stay without gaps; the batches publish their events in seq order,
//! a request that went away included.

use serde_json::json;
use steelyard_domain::access::Actor;
use steelyard_domain::event::NewEvent;
use steelyard_domain::money::{Money, Quantity};
use steelyard_domain::organization::{Organization, OrganizationDraft};
use steelyard_domain::page::PageRequest;
use steelyard_domain::purchase::{PoStatus, PurchaseOrder, PurchaseOrderLine};
use steelyard_domain::tax::LineTax;
use steelyard_services::{
    App, Ctx, inventory, organizations, partners, products, purchasing, sales,
};
use steelyard_store::idempotency::{self, IdempotencyRecord};
use steelyard_store::testing::TestDatabase;
use steelyard_store::{Creation, Origin};
use tokio::task::JoinSet;
use uuid::Uuid;

/// An organization with a vendor, a customer, a warehouse and a product, and the system
/// acting in it.
struct Shop {
    org: Organization,
    ctx: Ctx,
    vendor: Uuid,
    customer: Uuid,
    warehouse: Uuid,
    product: Uuid,
}

async fn shop(app: &App) -> Shop {
    let draft = OrganizationDraft {
        name: Some("Batch Works".into()),
        ..Default::default()
    };
    let org = organizations::create(app, &Ctx::system(), draft)
        .await
        .unwrap();
    let ctx = Ctx::new(Actor::system_in(org.id), None);
    let partner = |name: &str, kind: &str| {
        serde_json::from_value(json!({"name": name, "kind": kind})).unwrap()
    };
    let vendor = partners::create(app, &ctx, partner("Anderson Steel", "vendor"))
        .await
        .unwrap();
    let customer = partners::create(app, &ctx, partner("Contoso", "customer"))
        .await
        .unwrap();
    let warehouse = inventory::create_location(
        app,
        &ctx,
        serde_json::from_value(json!({"code": "WH1", "name": "Main"})).unwrap(),
    )
    .await
    .unwrap();
    let product = products::create(
        app,
        &ctx,
        serde_json::from_value(json!({"sku": "BOLT-M8", "name": "Bolt"})).unwrap(),
    )
    .await
    .unwrap();
    Shop {
        org,
        ctx,
        vendor: vendor.id,
        customer: customer.id,
        warehouse: warehouse.id,
        product: product.id,
    }
}

/// A purchase order of two lines to hand to the store, from `vendor` (which may not exist).
fn new_order(shop: &Shop, vendor: Uuid) -> PurchaseOrder {
    let quantity = Quantity::parse("2").unwrap();
    let price = Money::parse("1.50").unwrap();
    let lines = (1..=2)
        .map(|line_no| {
            let line_total = price.times(quantity).unwrap();
            PurchaseOrderLine {
                id: steelyard_domain::new_id(),
                line_no,
                product_id: shop.product,
                quantity,
                unit: "pcs".into(),
                unit_price: price,
                line_total,
                tax: LineTax::of(line_total, None).unwrap(),
                unit_factor: Quantity::parse("1").unwrap(),
                received: Quantity::ZERO,
            }
        })
        .collect::<Vec<_>>();
    let totals = PurchaseOrder::totals_of(&lines).unwrap();
    PurchaseOrder {
        id: Uuid::nil(),
        organization_id: shop.org.id,
        number: String::new(),
        vendor_id: vendor,
        status: PoStatus::Draft,
        notes: None,
        lines,
        subtotal: totals.subtotal,
        tax_total: totals.tax_total,
        total: totals.total,
        version: 1,
        created_at: steelyard_store::now(),
        updated_at: steelyard_store::now(),
        confirmed_at: None,
    }
}

/// A transaction that has taken the organization's next purchase order number and holds the
/// counter until it is dropped (and rolled back).
async fn hold_the_purchase_order_counter(app: &App, shop: &Shop) -> steelyard_store::Tx {
    let mut holder = app
        .db
        .begin(Origin {
            actor: "test".into(),
            request_id: None,
        })
        .await
        .unwrap();
    steelyard_store::document::next_number(&mut holder, shop.org.id, "PO")
        .await
        .unwrap();
    holder
}

/// The transactions that wrote the organization's rows of `table` (PostgreSQL's `xmin`).
async fn transactions_that_wrote(url: &str, table: &str, org: Uuid) -> i64 {
    let pool = sqlx::postgres::PgPool::connect(url).await.unwrap();
    let sql = format!("SELECT COUNT(DISTINCT xmin::text) FROM {table} WHERE org_id = $1");
    let (count,): (i64,) = sqlx::query_as(&sql)
        .bind(org.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_created_at_once_share_transactions_and_keep_their_own_numbers_and_events() {
    let database = TestDatabase::new().await;
    let Some(url) = database.database_url() else {
        return; // SQLite writes each document alone; its group commit shares the COMMIT
    };
    let app = App::new(database.connect().await);
    let shop = shop(&app).await;
    let mut published = app.db.bus().subscribe();
    let mut creates = JoinSet::new();
    for n in 0..40 {
        let app = app.clone();
        let ctx = Ctx::new(Actor::system_in(shop.org.id), Some(format!("request-{n}")));
        let draft = if n % 4 == 3 {
            json!({"customer_id": shop.customer, "location_id": shop.warehouse,
                   "lines": [{"product_id": shop.product, "quantity": "1"}]})
        } else {
            json!({"vendor_id": shop.vendor,
                   "lines": [{"product_id": shop.product, "quantity": "2"},
                             {"product_id": shop.product, "quantity": "3"}]})
        };
        creates.spawn(async move {
            let request = format!("request-{n}");
            if n % 4 == 3 {
                let draft = serde_json::from_value(draft).unwrap();
                let order = sales::create(&app, &ctx, draft).await.unwrap();
                (request, order.id, order.number, order.lines.len())
            } else {
                let draft = serde_json::from_value(draft).unwrap();
                let order = purchasing::create(&app, &ctx, draft).await.unwrap();
                (request, order.id, order.number, order.lines.len())
            }
        });
    }
    let answered = creates.join_all().await;
    let mut numbers: Vec<&str> = answered.iter().map(|(_, _, n, _)| n.as_str()).collect();
    numbers.sort();
    let expected: Vec<String> = (1..=30)
        .map(|n| format!("PO-{n:06}"))
        .chain((1..=10).map(|n| format!("SO-{n:06}")))
        .collect();
    assert_eq!(numbers, expected);

    // Each order's one event carries its own request's id, and the chain holds.
    for (request, id, number, lines) in &answered {
        let aggregate = if number.starts_with("PO") {
            "purchase_order"
        } else {
            "sales_order"
        };
        let events = steelyard_store::events::for_aggregate(&app.db, shop.org.id, aggregate, *id)
            .await
            .unwrap();
        assert_eq!(events.len(), 1, "{number}");
        assert_eq!(events[0].request_id.as_deref(), Some(request.as_str()));
        assert!(events[0].data.contains(number.as_str()), "{number}");
        assert_eq!(*lines, if number.starts_with("PO") { 2 } else { 1 });
    }
    let report = steelyard_store::events::verify_all(&app.db).await.unwrap();
    assert_eq!(report.first_break, None);

    // The batches published the 40 events on the bus, in the chain's order: each batch
    // commits only after the one before it published.
    let seqs: Vec<i64> = (0..40)
        .map(|_| published.try_recv().expect("a published event").seq)
        .collect();
    assert!(
        seqs.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "published out of order: {seqs:?}"
    );
    assert!(published.try_recv().is_err(), "an event published twice");

    // Fewer transactions than orders: some were written together.
    let written_by = transactions_that_wrote(&url, "purchase_orders", shop.org.id).await;
    assert!(
        written_by < 30,
        "30 purchase orders took {written_by} transactions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_fails_in_a_batch_fails_alone_and_leaves_no_gap() {
    let database = TestDatabase::new().await;
    if database.database_url().is_none() {
        return;
    }
    let app = App::new(database.connect().await);
    let shop = shop(&app).await;
    let origin = |n: usize| Origin {
        actor: "system".into(),
        request_id: Some(format!("request-{n}")),
    };
    let mut creates = JoinSet::new();
    for n in 0..24 {
        // One order's vendor does not exist: its insert breaks the foreign key, and so would
        // the whole transaction of any batch it is in.
        let vendor = if n == 11 { Uuid::now_v7() } else { shop.vendor };
        let idempotency = IdempotencyRecord {
            scope: "batch-test".into(),
            key: format!("key-{n}"),
            fingerprint: "f".into(),
            status: 201,
            body: String::new(),
        };
        let creation = Creation {
            document: new_order(&shop, vendor),
            origin: origin(n),
            events: Box::new(|po: &PurchaseOrder| {
                vec![NewEvent::of_change(
                    po.organization_id,
                    "purchase_order",
                    po.id,
                    "purchase_order.created",
                    None,
                    po,
                )]
            }),
            idempotency: Some(idempotency),
        };
        let db = app.db.clone();
        creates.spawn(async move { (n, steelyard_store::purchasing::create(&db, creation).await) });
    }
    let mut stored = Vec::new();
    for (n, result) in creates.join_all().await {
        match result {
            Ok((po, events)) => {
                assert_ne!(
                    n, 11,
                    "the order of a vendor that does not exist was stored"
                );
                assert_eq!(events.len(), 1);
                assert_eq!(events[0].aggregate_id, po.id);
                assert_eq!(events[0].request_id, origin(n).request_id);
                // Its idempotency answer is the numbered order.
                let kept = idempotency::find(&app.db, "batch-test", &format!("key-{n}"))
                    .await
                    .unwrap()
                    .expect("an idempotency record");
                let body: PurchaseOrder = serde_json::from_str(&kept.body).unwrap();
                assert_eq!((body.id, &body.number), (po.id, &po.number));
                stored.push(po.number);
            }
            Err(error) => assert_eq!(n, 11, "order {n} failed: {error}"),
        }
    }
    stored.sort();
    let expected: Vec<String> = (1..=23).map(|n| format!("PO-{n:06}")).collect();
    assert_eq!(stored, expected);
    assert!(
        idempotency::find(&app.db, "batch-test", "key-11")
            .await
            .unwrap()
            .is_none()
    );
    let report = steelyard_store::events::verify_all(&app.db).await.unwrap();
    assert_eq!(report.first_break, None);
    // Stored with their lines, and nothing of the failed one.
    let page = purchasing::list(
        &app,
        &shop.ctx,
        &Default::default(),
        PageRequest::first(100),
    )
    .await
    .unwrap();
    assert_eq!(page.items.len(), 23);
    assert!(page.items.iter().all(|po| po.lines.len() == 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_goes_away_while_its_document_waits_leaves_nothing() {
    let database = TestDatabase::new().await;
    if database.database_url().is_none() {
        return;
    }
    let app = App::new(database.connect().await);
    let shop = shop(&app).await;
    let draft = || {
        serde_json::from_value(json!({"vendor_id": shop.vendor,
            "lines": [{"product_id": shop.product, "quantity": "1"}]}))
        .unwrap()
    };
    // Another transaction holds the purchase order counter, so the first order's batch waits
    // for it, and the second order waits behind that batch.
    let holder = hold_the_purchase_order_counter(&app, &shop).await;
    let first = tokio::spawn({
        let (app, ctx, draft) = (app.clone(), shop.ctx.clone(), draft());
        async move { purchasing::create(&app, &ctx, draft).await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let gone = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        purchasing::create(&app, &shop.ctx, draft()),
    )
    .await;
    assert!(
        gone.is_err(),
        "the second order was answered while the first waited"
    );
    drop(holder); // rolls back: its number is taken again
    assert_eq!(first.await.unwrap().number, "PO-000001");
    let next = purchasing::create(&app, &shop.ctx, draft()).await.unwrap();
    assert_eq!(next.number, "PO-000002");
    let page = purchasing::list(&app, &shop.ctx, &Default::default(), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        page.items.len(),
        2,
        "the order of the request that went away was stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_whose_request_went_away_during_its_batch_is_stored_and_published() {
    let database = TestDatabase::new().await;
    if database.database_url().is_none() {
        return;
    }
    let app = App::new(database.connect().await);
    let shop = shop(&app).await;
    let mut published = app.db.bus().subscribe();
    // Another transaction holds the purchase order counter, so the order's batch waits for it
    // with the order already taken in.
    let holder = hold_the_purchase_order_counter(&app, &shop).await;
    let request = tokio::spawn({
        let (app, ctx) = (app.clone(), shop.ctx.clone());
        let draft = serde_json::from_value(json!({"vendor_id": shop.vendor,
            "lines": [{"product_id": shop.product, "quantity": "1"}]}))
        .unwrap();
        async move { purchasing::create(&app, &ctx, draft).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    request.abort();
    assert!(request.await.unwrap_err().is_cancelled());
    drop(holder);

    // The batch commits without its request, and announces the order at once: no request is
    // left to do it.
    let event = tokio::time::timeout(std::time::Duration::from_secs(2), published.recv())
        .await
        .expect("the order's event was not published")
        .unwrap();
    assert_eq!(event.kind, "purchase_order.created");
    let page = purchasing::list(&app, &shop.ctx, &Default::default(), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, event.aggregate_id);
    assert_eq!(page.items[0].number, "PO-000001");
}

/// Ends the connection of every transaction of the test's database that waits for a lock:
/// a batch held up by the counter another transaction holds.
async fn cut_the_waiting_connection(url: &str) {
    let pool = sqlx::postgres::PgPool::connect(url).await.unwrap();
    let sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
               WHERE datname = current_database() AND wait_event_type = 'Lock'";
    for _ in 0..50 {
        let cut: Vec<(bool,)> = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        if !cut.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no batch was waiting for the counter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_for_another_reason_than_a_document_answers_every_member_with_it() {
    let database = TestDatabase::new().await;
    let Some(url) = database.database_url() else {
        return;
    };
    let app = App::new(database.connect().await);
    let shop = shop(&app).await;
    let create = || {
        let (app, ctx) = (app.clone(), shop.ctx.clone());
        let draft = serde_json::from_value(json!({"vendor_id": shop.vendor,
            "lines": [{"product_id": shop.product, "quantity": "1"}]}))
        .unwrap();
        tokio::spawn(async move { purchasing::create(&app, &ctx, draft).await })
    };
    // Another transaction holds the purchase order counter: the first order's batch waits for
    // it, and three more orders queue behind that batch.
    let holder = hold_the_purchase_order_counter(&app, &shop).await;
    let first = create();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let queued = [create(), create(), create()];
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The first batch loses its connection; the three queued orders then make the next batch,
    // which waits for the counter in turn and loses its connection too.
    cut_the_waiting_connection(&url).await;
    assert!(first.await.unwrap().is_err());
    cut_the_waiting_connection(&url).await;
    // Were the three written again one at a time, they would now get the counter.
    drop(holder);
    for order in queued {
        let answer = order.await.unwrap();
        assert!(answer.is_err(), "answered {answer:?}");
    }
    let page = purchasing::list(&app, &shop.ctx, &Default::default(), PageRequest::first(10))
        .await
        .unwrap();
    assert!(
        page.items.is_empty(),
        "orders of failed batches were stored"
    );
    let next = create().await.unwrap().unwrap();
    assert_eq!(next.number, "PO-000001");
}
