//! `serve --demo` seeding: a living organization on the first start, nothing twice after.

use steelyard_domain::access::Actor;
use steelyard_domain::account::Account;
use steelyard_domain::commodity::Commodity;
use steelyard_domain::employee::Employee;
use steelyard_domain::page::PageRequest;
use steelyard_domain::partner::PartnerFilter;
use steelyard_domain::tax::Tax;
use steelyard_services::{App, Ctx, demo, partners};
use steelyard_store::testing::TestDatabase;

#[tokio::test]
async fn the_demo_loads_once_with_users_partners_master_data_stock_and_open_orders_and_a_second_start_adds_nothing()
 {
    let database = TestDatabase::new().await;
    let app = App::new(database.connect().await);
    let first = demo::seed(&app).await.unwrap();
    assert!(first.organization_created);
    assert!(
        first
            .users
            .iter()
            .all(|(_, _, password)| password.is_some())
    );
    let second = demo::seed(&app).await.unwrap();
    assert_eq!(second.organization.id, first.organization.id);
    assert!(!second.organization_created);
    assert!(
        second
            .users
            .iter()
            .all(|(_, _, password)| password.is_none())
    );

    let ctx = Ctx::new(Actor::system_in(first.organization.id), None);
    let listed = partners::list(
        &app,
        &ctx,
        &PartnerFilter::default(),
        PageRequest::first(100),
    )
    .await
    .unwrap();
    assert_eq!(listed.items.len(), demo::DEMO_PARTNERS.len());
    let stock = steelyard_services::inventory::levels(&app, &ctx, (None, None), None, 10_000)
        .await
        .unwrap();
    assert_eq!(
        stock.len(),
        4,
        "opening stock for each demo product, loaded once"
    );
    let orders = steelyard_services::purchasing::list(
        &app,
        &ctx,
        &Default::default(),
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(orders.items.len(), 2);
    assert!(
        orders
            .items
            .iter()
            .all(|po| po.status == steelyard_domain::purchase::PoStatus::Confirmed)
    );
    let sales =
        steelyard_services::sales::list(&app, &ctx, &Default::default(), PageRequest::first(10))
            .await
            .unwrap();
    let mut statuses: Vec<_> = sales.items.iter().map(|so| so.status).collect();
    statuses.sort_by_key(|status| format!("{status:?}"));
    assert_eq!(
        statuses,
        [
            steelyard_domain::sales::SoStatus::Confirmed,
            steelyard_domain::sales::SoStatus::Draft
        ],
        "one confirmed customer order holding stock, one draft"
    );
    let employees = steelyard_services::master_data::list::<Employee>(
        &app,
        &ctx,
        &Default::default(),
        PageRequest::first(100),
    )
    .await
    .unwrap();
    assert_eq!(employees.items.len(), demo::DEMO_EMPLOYEES.len());
    let taxes = steelyard_services::master_data::list::<Tax>(
        &app,
        &ctx,
        &Default::default(),
        PageRequest::first(100),
    )
    .await
    .unwrap();
    assert_eq!(taxes.items.len(), demo::DEMO_TAXES.len());
    let commodities = steelyard_services::master_data::list::<Commodity>(
        &app,
        &ctx,
        &Default::default(),
        PageRequest::first(100),
    )
    .await
    .unwrap();
    assert_eq!(commodities.items.len(), demo::DEMO_COMMODITIES.len());
    let accounts = steelyard_services::master_data::list::<Account>(
        &app,
        &ctx,
        &Default::default(),
        PageRequest::first(100),
    )
    .await
    .unwrap();
    assert_eq!(
        accounts.items.len(),
        steelyard_domain::account::BASELINE_CHART.len()
    );
    let report = steelyard_store::events::verify_all(&app.db).await.unwrap();
    assert_eq!(report.first_break, None);
}
