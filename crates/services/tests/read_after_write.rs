//! Reads see every committed write at once, from any thread. On SQLite short reads run inline on
//! a per-thread connection (crates/store/src/inline.rs): a connection left inside a read
//! transaction would keep serving an old snapshot, and this test would catch it.

use steelyard_domain::access::Actor;
use steelyard_domain::organization::OrganizationDraft;
use steelyard_domain::page::PageRequest;
use steelyard_domain::partner::{PartnerDraft, PartnerFilter, PartnerPatchDraft};
use steelyard_services::{App, Ctx, Expected, organizations, partners};
use steelyard_store::testing::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_thread_reads_each_committed_version_at_once() {
    let database = TestDatabase::new().await;
    let app = App::new(database.connect().await);
    let org = organizations::create(
        &app,
        &Ctx::system(),
        OrganizationDraft {
            name: Some("Snapshot Co".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ctx = Ctx::new(Actor::system_in(org.id), None);
    let draft = PartnerDraft {
        name: Some("Version 1".into()),
        kind: Some("vendor".into()),
        ..Default::default()
    };
    let partner = partners::create(&app, &ctx, draft).await.unwrap();
    for version in 2..=40_i64 {
        let patch = PartnerPatchDraft {
            name: Some(Some(format!("Version {version}"))),
            ..Default::default()
        };
        let expected = Some(Expected::Version(version - 1));
        partners::update(&app, &ctx, partner.id, expected, patch)
            .await
            .unwrap();
        // Readers on several worker threads, each with its own connection once warmed up.
        let readers: Vec<_> = (0..8)
            .map(|_| {
                let (app, ctx) = (app.clone(), ctx.clone());
                tokio::spawn(async move {
                    let one = partners::get(&app, &ctx, partner.id).await.unwrap();
                    let filter = PartnerFilter::default();
                    let page = partners::list(&app, &ctx, &filter, PageRequest::first(50))
                        .await
                        .unwrap();
                    (one.version, one.name, page.items[0].version)
                })
            })
            .collect();
        for reader in readers {
            let (read, name, listed) = reader.await.unwrap();
            assert_eq!((read, listed), (version, version), "{name}");
            assert_eq!(name, format!("Version {version}"));
        }
    }
}
