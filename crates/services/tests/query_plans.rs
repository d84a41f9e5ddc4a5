//! PostgreSQL's plans for the reads on a write's path: a handful of rows by id is read through
//! an index even from a table of a few hundred rows, where the planner's default cost of a
//! random page read would have it scan the table and test every row against the list
//! (BENCHMARKS.md, cause 33).

use steelyard_domain::organization::OrganizationDraft;
use steelyard_services::{App, Ctx, organizations};
use steelyard_store::testing::{TestDatabase, execute, generic_plan};

#[tokio::test]
async fn products_by_id_are_read_through_an_index_from_a_small_table() {
    let database = TestDatabase::new().await;
    if database.database_url().is_none() {
        return; // SQLite's planner takes the primary key for an IN list
    }
    let app = App::new(database.connect().await);
    let draft = OrganizationDraft {
        name: Some("Plan Co".into()),
        ..Default::default()
    };
    let org = organizations::create(&app, &Ctx::system(), draft)
        .await
        .unwrap();
    // 300 products, as the benchmark seeds, and the statistics autovacuum would gather.
    execute(
        &app.db,
        &format!(
            "INSERT INTO products (id, org_id, sku, sku_key, name, name_key, tracked, stock_unit, \
             standard_cost, list_price, status, version, created_at, updated_at) \
             SELECT gen_random_uuid()::text, '{}', 'P' || n, 'p' || n, 'Part ' || n, 'part ' || n, \
             1, 'pcs', 100, 200, 'active', 1, 0, 0 FROM generate_series(1, 300) AS n",
            org.id
        ),
    )
    .await;
    execute(&app.db, "ANALYZE products").await;
    // `products::by_ids` for an order of 5 lines: the list padded to 8, and the organization.
    let plan = generic_plan(
        &app.db,
        "SELECT id FROM products WHERE id IN ($1, $2, $3, $4, $5, $6, $7, $8) AND org_id = $9",
        9,
    )
    .await;
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(plan.contains("Index"), "{plan}");
}
