//! The store's write transactions on either engine: what is dropped leaves nothing, a unique
//! key is reported as a duplicate, a writer that waits too long is told so, and concurrent
//! writers all land on an intact event chain. On a SQLite file they run inline on one
//! rusqlite writer (crates/store/src/writer.rs), so these are its guarantees too.

use std::time::{Duration, Instant};

use steelyard_domain::access::DataScope;
use steelyard_domain::event::NewEvent;
use steelyard_domain::organization::{OrgStatus, Organization};
use steelyard_store::testing::TestDatabase;
use steelyard_store::{
    Backend, Db, Origin, PoolSettings, StoreError, document, events, organizations, sessions,
};
use uuid::Uuid;

fn origin() -> Origin {
    Origin {
        actor: "test".into(),
        request_id: None,
    }
}

fn organization(name: &str) -> Organization {
    let now = steelyard_store::now();
    Organization {
        id: Uuid::now_v7(),
        name: name.into(),
        legal_name: None,
        tax_id: None,
        base_currency: "USD".into(),
        status: OrgStatus::Active,
        version: 1,
        created_at: now,
        updated_at: now,
        archived_at: None,
    }
}

fn created(org: &Organization) -> NewEvent {
    NewEvent {
        org_id: org.id,
        aggregate_type: "organization",
        aggregate_id: org.id,
        kind: "organization.created",
        data: serde_json::json!({ "name": org.name }),
        changes: serde_json::json!({}),
    }
}

#[tokio::test]
async fn a_dropped_transaction_leaves_nothing_and_the_next_one_proceeds() {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let org = organization("Dropped Co");
    {
        let mut tx = db.begin(origin()).await.unwrap();
        organizations::insert(&mut tx, &org).await.unwrap();
        tx.record(created(&org));
        // Dropped here, uncommitted.
    }
    let scope = DataScope::Organization(org.id);
    assert!(matches!(
        organizations::get(&db, &scope, org.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(events::head_seq(&db, org.id).await.unwrap(), 0);

    // The writer is free again at once, and the same row now goes in.
    let started = Instant::now();
    let mut tx = db.begin(origin()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    organizations::insert(&mut tx, &org).await.unwrap();
    tx.record(created(&org));
    let stored = tx.commit().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        organizations::get(&db, &scope, org.id).await.unwrap().name,
        "Dropped Co"
    );
    assert_eq!(events::head_seq(&db, org.id).await.unwrap(), 1);
}

#[tokio::test]
async fn a_unique_key_taken_twice_is_a_duplicate_and_rolls_back_cleanly() {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let first = organization("Twin Co");
    let mut tx = db.begin(origin()).await.unwrap();
    organizations::insert(&mut tx, &first).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.begin(origin()).await.unwrap();
    let twin = organization("twin co");
    match organizations::insert(&mut tx, &twin).await {
        Err(StoreError::Duplicate(what)) => {
            assert!(what.contains("name_key"), "names the key: {what}")
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    drop(tx);
    let page = organizations::list(
        &db,
        &DataScope::All,
        &Default::default(),
        steelyard_domain::page::PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn a_writer_that_waits_past_the_timeout_is_told_the_database_is_busy() {
    let database = TestDatabase::new().await;
    let settings = PoolSettings {
        acquire_timeout: Duration::from_millis(50),
        ..PoolSettings::default()
    };
    let db = Db::connect(&database.target, &settings).await.unwrap();
    db.migrate().await.unwrap();
    let held = db.begin(origin()).await.unwrap();
    let second = db.begin(origin()).await;
    match db.backend() {
        // One writer: the second waits for the first, up to six acquire timeouts.
        Backend::Sqlite => assert!(matches!(second, Err(StoreError::Busy)), "{second:?}"),
        // Transactions run side by side on PostgreSQL.
        Backend::Postgres => assert!(second.is_ok(), "{second:?}"),
    }
    drop(held);
    assert!(db.begin(origin()).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_all_commit_onto_one_unbroken_chain() {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let org = organization("Busy Co");
    let mut tx = db.begin(origin()).await.unwrap();
    organizations::insert(&mut tx, &org).await.unwrap();
    tx.record(created(&org));
    tx.commit().await.unwrap();

    // Each writer adds an organization of its own and appends to the shared one's chain.
    let writers: Vec<_> = (0..40)
        .map(|n| {
            let (db, shared) = (db.clone(), org.id);
            tokio::spawn(async move {
                let own = organization(&format!("Busy Co {n}"));
                let mut tx = db.begin(origin()).await.unwrap();
                organizations::insert(&mut tx, &own).await.unwrap();
                tx.record(NewEvent {
                    org_id: shared,
                    ..created(&own)
                });
                tx.commit().await.unwrap()
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for writer in writers {
        let stored = writer.await.unwrap();
        assert_eq!(stored.len(), 1);
        seqs.push(stored[0].seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=41).collect::<Vec<i64>>());
    assert_eq!(events::head_seq(&db, org.id).await.unwrap(), 41);
    let report = events::verify_all(&db).await.unwrap();
    assert!(report.first_break.is_none(), "{:?}", report.first_break);
    assert_eq!(report.verified, 41);
}

#[tokio::test]
async fn more_events_than_one_insert_holds_are_all_chained_in_order() {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let org = organization("Many Events Co");
    let mut tx = db.begin(origin()).await.unwrap();
    organizations::insert(&mut tx, &org).await.unwrap();
    // 1,201 events: three multi-row inserts of at most 500, the head moved once at the end.
    for _ in 0..1_201 {
        tx.record(created(&org));
    }
    let stored = tx.commit().await.unwrap();
    assert_eq!(stored.len(), 1_201);
    assert_eq!(
        stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=1_201).collect::<Vec<i64>>()
    );
    assert_eq!(events::head_seq(&db, org.id).await.unwrap(), 1_201);
    let report = events::verify_all(&db).await.unwrap();
    assert!(report.first_break.is_none(), "{:?}", report.first_break);
    assert_eq!(report.verified, 1_201);

    // The chain goes on from the moved head.
    let mut tx = db.begin(origin()).await.unwrap();
    tx.record(created(&org));
    assert_eq!(tx.commit().await.unwrap()[0].seq, 1_202);
    assert!(events::verify_all(&db).await.unwrap().first_break.is_none());
}

/// On PostgreSQL a second writer of the same organization waits for its turn in this
/// instance's queue, not in PostgreSQL's lock manager, and then takes the next number
/// (ADR 0006). SQLite's one writer is its queue already.
#[tokio::test]
async fn on_postgresql_a_second_writer_queues_in_the_instance_not_on_the_row_lock() {
    use sqlx::Connection;
    let database = TestDatabase::new().await;
    let Some(url) = database.database_url() else {
        return;
    };
    let db = database.connect().await;
    let org = Uuid::now_v7();
    let mut first = db.begin(origin()).await.unwrap();
    let number = document::next_number(&mut first, org, "PO").await.unwrap();
    let started = Instant::now();
    let second = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin(origin()).await.unwrap();
            let next = document::next_number(&mut tx, org, "PO").await.unwrap();
            tx.commit().await.unwrap();
            next
        }
    });
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mut observer = sqlx::AnyConnection::connect(&url).await.unwrap();
    let (waiting_on_locks,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(&mut observer)
    .await
    .unwrap();
    assert!(!second.is_finished(), "the second waits for the first");
    // After 250 ms in the queue a writer goes on to the row lock; before that it must not be
    // there. A starved machine that took that long to get here proves nothing either way.
    if started.elapsed() < Duration::from_millis(200) {
        assert_eq!(
            waiting_on_locks, 0,
            "nobody waits in PostgreSQL's lock manager"
        );
    }
    first.commit().await.unwrap();
    assert_eq!(second.await.unwrap(), number + 1);
}

/// On PostgreSQL each instance chains from the head it last committed, and moves the head
/// only if it is still there (ADR 0006). Two instances writing one organization in turn and
/// at once must still make one gap-free, unbroken chain: each one's hint goes stale whenever
/// the other appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_two_instances_appending_to_one_organization_keep_one_chain() {
    use sqlx::Connection;
    let database = TestDatabase::new().await;
    if database.database_url().is_none() {
        return; // one process per SQLite file; its writer is the only chain's writer
    }
    let (a, b) = (database.connect().await, database.connect().await);
    let org = organization("Two Instances Co");
    let mut tx = a.begin(origin()).await.unwrap();
    organizations::insert(&mut tx, &org).await.unwrap();
    tx.record(created(&org));
    tx.commit().await.unwrap();

    let append = |db: &Db, events: usize| {
        let (db, org) = (db.clone(), org.clone());
        async move {
            let mut tx = db.begin(origin()).await.unwrap();
            for _ in 0..events {
                tx.record(created(&org));
            }
            let stored = tx.commit().await.unwrap();
            stored.iter().map(|event| event.seq).collect::<Vec<_>>()
        }
    };
    // In turn: a's hint is good, then stale after each of b's appends, and so is b's.
    assert_eq!(append(&a, 1).await, [2]);
    assert_eq!(append(&a, 3).await, [3, 4, 5]);
    assert_eq!(append(&b, 1).await, [6]);
    assert_eq!(append(&a, 2).await, [7, 8]);
    assert_eq!(append(&a, 1).await, [9]);
    assert_eq!(append(&b, 1).await, [10]);

    // Another instance's transaction holds the head while a's hint is good: a's `UPDATE`
    // waits for it, then checks the head as it was left. Rolled back, the head is unmoved,
    // and a goes on from its hint.
    assert_eq!(append(&a, 1).await, [11]);
    let url = database.database_url().unwrap();
    let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
    hold_chain_head(&mut other, org.id, "FOR UPDATE").await;
    let waiting = tokio::spawn(append(&a, 1));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiting.is_finished(),
        "the append waits for the head's lock"
    );
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(waiting.await.unwrap(), [12]);
    assert_eq!(append(&b, 1).await, [13]);

    // With a good hint the head is neither read nor locked before the `UPDATE` moves it: a
    // holder of `FOR KEY SHARE`, which blocks `SELECT … FOR UPDATE` but not an `UPDATE` of
    // the head's other columns, does not hold the append up. (a's hint was stale at 12 and
    // is good again after its next append.)
    assert_eq!(append(&a, 1).await, [14]);
    hold_chain_head(&mut other, org.id, "FOR KEY SHARE").await;
    let unlocked = tokio::time::timeout(Duration::from_secs(10), append(&a, 1)).await;
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(
        unlocked.expect("the append waited for the head's lock"),
        [15]
    );

    // At once: twenty writers on each instance.
    let writers: Vec<_> = (0..40)
        .map(|n| tokio::spawn(append(if n % 2 == 0 { &a } else { &b }, 1 + n % 3)))
        .collect();
    let mut seqs = Vec::new();
    for writer in writers {
        let stored = writer.await.unwrap();
        assert!(
            stored.windows(2).all(|pair| pair[1] == pair[0] + 1),
            "one transaction's events are consecutive"
        );
        seqs.extend(stored);
    }
    seqs.sort_unstable();
    let last = 15 + seqs.len() as i64;
    assert_eq!(seqs, (16..=last).collect::<Vec<i64>>());
    assert_eq!(events::head_seq(&a, org.id).await.unwrap(), last);
    let report = events::verify_all(&a).await.unwrap();
    assert!(report.first_break.is_none(), "{:?}", report.first_break);
    assert_eq!(report.verified, u64::try_from(last).unwrap());
}

/// Opens a transaction on `connection` that holds the organization's chain head row with
/// `lock` (`FOR UPDATE`, `FOR KEY SHARE`, …) until it ends.
async fn hold_chain_head(connection: &mut sqlx::AnyConnection, org: Uuid, lock: &str) {
    sqlx::query("BEGIN")
        .execute(&mut *connection)
        .await
        .unwrap();
    sqlx::query(&format!(
        "SELECT 1 FROM event_chain_heads WHERE org_id = $1 {lock}"
    ))
    .bind(org.to_string())
    .execute(&mut *connection)
    .await
    .unwrap();
}

#[tokio::test]
async fn on_sqlite_a_logout_whose_request_went_away_still_closes_the_remembered_session() {
    let database = TestDatabase::new().await;
    if database.database_url().is_some() {
        return; // The group commit this test drives is SQLite's.
    }
    let db = database.connect().await;
    let (user, session) =
        steelyard_store::testing::user_with_session(&db, "gone@example.com").await;
    assert!(
        sessions::is_open_for_active_user(&db, session, user)
            .await
            .unwrap()
    );

    // The logout's statements run; then another transaction takes the writer, so the logout's
    // commit waits for its group, and its request goes away meanwhile.
    let mut logout = db.begin(origin()).await.unwrap();
    sessions::revoke(&mut logout, session, "logout")
        .await
        .unwrap();
    let other = tokio::spawn({
        let db = db.clone();
        async move { db.begin(origin()).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waited = tokio::time::timeout(Duration::from_millis(100), logout.commit()).await;
    assert!(
        waited.is_err(),
        "the commit was still waiting for its group"
    );
    drop(other.await.unwrap());
    // Whatever group is open is committed before a statement outside it runs.
    steelyard_store::testing::execute(&db, "UPDATE partners SET name = name WHERE 1 = 0").await;

    assert!(
        !sessions::is_open_for_active_user(&db, session, user)
            .await
            .unwrap(),
        "the logout was committed for the request that went away, and the check sees it"
    );
}
