//! The organizations story, run against SQLite and (with TEST_DATABASE_URL) PostgreSQL: the
//! same business scenario must behave the same on both engines.

use std::collections::HashSet;

use steelyard_domain::access::{Actor, DataScope};
use steelyard_domain::organization::{OrgStatus, OrganizationDraft, OrganizationPatchDraft};
use steelyard_domain::page::PageRequest;
use steelyard_services::{App, Ctx, Error, Expected, organizations};
use steelyard_store::organizations::OrganizationFilter;
use steelyard_store::testing::TestDatabase;

/// The events a new organization's baseline chart of accounts records right after
/// `organization.created` (one `account.created` per account).
const CHART: i64 = steelyard_domain::account::BASELINE_CHART.len() as i64;

fn draft(name: &str) -> OrganizationDraft {
    OrganizationDraft {
        name: Some(name.into()),
        ..Default::default()
    }
}

fn rename(name: &str) -> OrganizationPatchDraft {
    OrganizationPatchDraft {
        name: Some(Some(name.into())),
        ..Default::default()
    }
}

async fn app() -> (TestDatabase, App) {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    (database, App::new(db))
}

#[tokio::test]
async fn an_organization_lives_through_create_update_archive_and_restore_with_a_verified_history() {
    let (_database, app) = app().await;
    let ctx = Ctx::system();
    let org = organizations::create(&app, &ctx, draft("Northwind"))
        .await
        .unwrap();
    let org = organizations::update(
        &app,
        &ctx,
        org.id,
        Some(Expected::Version(1)),
        rename("Northwind Machining"),
    )
    .await
    .unwrap();
    assert_eq!((org.name.as_str(), org.version), ("Northwind Machining", 2));
    let org = organizations::archive(&app, &ctx, org.id, Some(Expected::Version(2)))
        .await
        .unwrap();
    assert_eq!(org.status, OrgStatus::Archived);
    let org = organizations::restore(&app, &ctx, org.id, None)
        .await
        .unwrap();
    assert_eq!((org.status, org.version), (OrgStatus::Active, 4));

    let history = organizations::history(&app, &ctx, org.id).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "organization.created",
            "organization.updated",
            "organization.archived",
            "organization.restored"
        ]
    );
    let seqs: Vec<_> = history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, CHART + 2, CHART + 3, CHART + 4]);
    let rename_changes: serde_json::Value = serde_json::from_str(&history[1].changes).unwrap();
    assert_eq!(rename_changes["name"]["before"], "Northwind");
    assert_eq!(rename_changes["name"]["after"], "Northwind Machining");

    let report = steelyard_store::events::verify_all(&app.db).await.unwrap();
    assert_eq!(
        (report.verified, report.first_break),
        (CHART as u64 + 4, None)
    );
}

#[tokio::test]
async fn a_stale_version_is_refused_and_nothing_changes() {
    let (_database, app) = app().await;
    let ctx = Ctx::system();
    let org = organizations::create(&app, &ctx, draft("Acme"))
        .await
        .unwrap();
    organizations::update(
        &app,
        &ctx,
        org.id,
        Some(Expected::Version(1)),
        rename("Acme 2"),
    )
    .await
    .unwrap();
    let stale = organizations::update(
        &app,
        &ctx,
        org.id,
        Some(Expected::Version(1)),
        rename("Acme 3"),
    )
    .await;
    assert!(
        matches!(stale, Err(Error::Stale { current: 2 })),
        "{stale:?}"
    );
    let missing = organizations::update(&app, &ctx, org.id, None, rename("Acme 4")).await;
    assert!(matches!(missing, Err(Error::PreconditionRequired)));
    assert_eq!(
        organizations::get(&app, &ctx, org.id).await.unwrap().name,
        "Acme 2"
    );
}

#[tokio::test]
async fn concurrent_updates_of_one_version_let_exactly_one_win() {
    let (_database, app) = app().await;
    let ctx = Ctx::system();
    let org = organizations::create(&app, &ctx, draft("Race"))
        .await
        .unwrap();
    let attempts = (0..16).map(|i| {
        let (app, ctx) = (app.clone(), ctx.clone());
        tokio::spawn(async move {
            organizations::update(
                &app,
                &ctx,
                org.id,
                Some(Expected::Version(1)),
                rename(&format!("Race {i}")),
            )
            .await
        })
    });
    let results = futures_join(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, Error::Stale { .. }))
    );
}

#[tokio::test]
async fn concurrent_changes_get_gap_free_sequence_numbers_in_commit_order() {
    let (_database, app) = app().await;
    let ctx = Ctx::system();
    let org = organizations::create(&app, &ctx, draft("Busy"))
        .await
        .unwrap();
    // Each task retries on a stale version until its rename lands.
    let tasks = (0..12).map(|i| {
        let (app, ctx) = (app.clone(), ctx.clone());
        tokio::spawn(async move {
            loop {
                let current = organizations::get(&app, &ctx, org.id).await.unwrap();
                match organizations::update(
                    &app,
                    &ctx,
                    org.id,
                    Some(Expected::Version(current.version)),
                    rename(&format!("Busy {i}")),
                )
                .await
                {
                    Ok(_) => return,
                    Err(Error::Stale { .. }) => continue,
                    Err(other) => panic!("{other:?}"),
                }
            }
        })
    });
    futures_join(tasks).await;
    let history = organizations::history(&app, &ctx, org.id).await.unwrap();
    let seqs: Vec<i64> = history.iter().map(|e| e.seq).collect();
    let expected: Vec<i64> = std::iter::once(1).chain(CHART + 2..=CHART + 13).collect();
    assert_eq!(seqs, expected);
    assert_eq!(
        steelyard_store::events::verify_all(&app.db)
            .await
            .unwrap()
            .first_break,
        None
    );
}

#[tokio::test]
async fn names_are_unique_ignoring_case_and_spacing() {
    let (_database, app) = app().await;
    let ctx = Ctx::system();
    organizations::create(&app, &ctx, draft("Acme Tools"))
        .await
        .unwrap();
    let duplicate = organizations::create(&app, &ctx, draft("  acme   TOOLS ")).await;
    assert!(
        matches!(duplicate, Err(Error::Conflict(_))),
        "{duplicate:?}"
    );
}

#[tokio::test]
async fn internal_users_see_only_their_own_organization() {
    let (_database, app) = app().await;
    let system = Ctx::system();
    let mine = organizations::create(&app, &system, draft("Mine"))
        .await
        .unwrap();
    let theirs = organizations::create(&app, &system, draft("Theirs"))
        .await
        .unwrap();
    let user = Ctx::new(
        Actor::user(
            steelyard_domain::new_id(),
            DataScope::Organization(mine.id),
            ["organization.read"],
        ),
        None,
    );
    assert!(organizations::get(&app, &user, mine.id).await.is_ok());
    assert!(matches!(
        organizations::get(&app, &user, theirs.id).await,
        Err(Error::NotFound(_))
    ));
    let listed = organizations::list(
        &app,
        &user,
        &OrganizationFilter::default(),
        PageRequest::first(50),
    )
    .await
    .unwrap();
    assert_eq!(
        listed.items.iter().map(|o| o.id).collect::<Vec<_>>(),
        [mine.id]
    );
    let denied = organizations::archive(&app, &user, mine.id, None).await;
    assert!(matches!(denied, Err(Error::Forbidden(_))));
}

#[tokio::test]
async fn pages_walk_every_matching_organization_exactly_once() {
    let (_database, app) = app().await;
    let ctx = Ctx::system();
    for i in 0..7 {
        organizations::create(&app, &ctx, draft(&format!("Walk {i}")))
            .await
            .unwrap();
    }
    organizations::create(&app, &ctx, draft("Other"))
        .await
        .unwrap();
    let filter = OrganizationFilter {
        status: None,
        q: Some("walk".into()),
    };
    let mut seen = HashSet::new();
    let mut page = PageRequest::first(3);
    loop {
        let result = organizations::list(&app, &ctx, &filter, page)
            .await
            .unwrap();
        for org in &result.items {
            assert!(seen.insert(org.id), "{} seen twice", org.name);
        }
        match result.next_cursor {
            Some(cursor) => page.after = steelyard_domain::page::decode_cursor(&cursor),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
}

#[tokio::test]
async fn audit_verification_finds_an_event_edited_behind_the_servers_back() {
    let (_database, app) = app().await;
    let ctx = Ctx::system();
    let org = organizations::create(&app, &ctx, draft("Tamper"))
        .await
        .unwrap();
    organizations::update(
        &app,
        &ctx,
        org.id,
        Some(Expected::Version(1)),
        rename("Tamper 2"),
    )
    .await
    .unwrap();
    organizations::update(
        &app,
        &ctx,
        org.id,
        Some(Expected::Version(2)),
        rename("Tamper 3"),
    )
    .await
    .unwrap();
    sqlx_edit(
        &app,
        "UPDATE events SET data = '{\"name\":\"forged\"}' WHERE seq = 2",
    )
    .await;
    let report = steelyard_store::events::verify_all(&app.db).await.unwrap();
    let (org_id, broken) = report.first_break.expect("the edit is found");
    assert_eq!(org_id, org.id);
    assert_eq!(
        broken,
        steelyard_domain::event::ChainBreak::Altered { seq: 2 }
    );
}

async fn sqlx_edit(app: &App, sql: &str) {
    steelyard_store::testing::execute(&app.db, sql).await;
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

#[tokio::test]
async fn audit_verification_finds_a_forged_last_event_with_a_recomputed_hash() {
    let (_database, app) = app().await;
    let ctx = Ctx::system();
    let org = organizations::create(&app, &ctx, draft("Forge"))
        .await
        .unwrap();
    organizations::update(
        &app,
        &ctx,
        org.id,
        Some(Expected::Version(1)),
        rename("Forge 2"),
    )
    .await
    .unwrap();
    // Rewrite the last event and give it a hash that matches its new contents.
    let history = organizations::history(&app, &ctx, org.id).await.unwrap();
    let mut forged = history[1].clone();
    forged.actor = "mallory".into();
    forged.hash = forged.expected_hash();
    sqlx_edit(
        &app,
        &format!(
            "UPDATE events SET actor = 'mallory', hash = '{}' WHERE seq = 2",
            forged.hash
        ),
    )
    .await;
    let report = steelyard_store::events::verify_all(&app.db).await.unwrap();
    assert!(
        report.first_break.is_some(),
        "a forged tail must not verify: {report:?}"
    );
}

#[tokio::test]
async fn audit_verification_finds_a_deleted_chain_head() {
    let (_database, app) = app().await;
    let org = organizations::create(&app, &Ctx::system(), draft("Headless"))
        .await
        .unwrap();
    sqlx_edit(
        &app,
        &format!("DELETE FROM event_chain_heads WHERE org_id = '{}'", org.id),
    )
    .await;
    let report = steelyard_store::events::verify_all(&app.db).await.unwrap();
    assert_eq!(
        report.first_break,
        Some((
            org.id,
            steelyard_domain::event::ChainBreak::HeadMissing {
                last_seq: 1 + CHART
            }
        ))
    );
}
