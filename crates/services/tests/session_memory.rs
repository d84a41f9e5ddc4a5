//! On PostgreSQL each instance remembers the sessions it found open, and a session closed on one
//! instance is refused by every other on the very next check (crates/store/src/
//! session_notices.rs, ADR 0009). Two `Db`s on one database stand for two instances. On SQLite
//! one process serves the file; `write_transactions.rs` and the API tests cover it there.

use std::time::{Duration, Instant};

use steelyard_store::testing::{TestDatabase, user_with_session};
use steelyard_store::{Db, Origin, sessions, users};
use uuid::Uuid;

fn origin() -> Origin {
    Origin {
        actor: "test".into(),
        request_id: None,
    }
}

/// Two instances on one PostgreSQL database, each hearing of closed sessions; None on SQLite.
async fn two_instances(database: &TestDatabase) -> Option<(Db, Db)> {
    database.database_url()?;
    let (a, b) = (database.connect().await, database.connect().await);
    a.start_background_work().unwrap();
    b.start_background_work().unwrap();
    Some((a, b))
}

async fn is_open(db: &Db, session: Uuid, user: Uuid) -> bool {
    sessions::is_open_for_active_user(db, session, user)
        .await
        .unwrap()
}

/// Checks the session on `db` until a check is answered from memory (at most 5 s): the
/// instance hears its heartbeats and remembers.
async fn until_answered_from_memory(db: &Db, session: Uuid, user: Uuid) {
    let started = Instant::now();
    loop {
        let before = db.sessions_answered_from_memory();
        assert!(is_open(db, session, user).await, "the session is open");
        if db.sessions_answered_from_memory() > before {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no check was answered from memory"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The ways a session closes, each as the services make it.
#[derive(Debug, Clone, Copy)]
enum Closing {
    Logout,
    LogoutEverywhere,
    PasswordChangedElsewhere,
    UserDisabled,
}

async fn close(db: &Db, closing: Closing, user: Uuid, session: Uuid) {
    let mut tx = db.begin(origin()).await.unwrap();
    match closing {
        Closing::Logout => sessions::revoke(&mut tx, session, "logout").await.unwrap(),
        Closing::LogoutEverywhere => {
            sessions::revoke_all(&mut tx, user, "logout all")
                .await
                .unwrap();
        }
        Closing::PasswordChangedElsewhere => {
            sessions::revoke_others(&mut tx, user, Uuid::now_v7(), "password changed")
                .await
                .unwrap();
        }
        Closing::UserDisabled => users::set_status(&mut tx, user, "disabled", 1)
            .await
            .unwrap(),
    }
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_closed_on_one_instance_is_refused_by_the_other_at_once() {
    let database = TestDatabase::new().await;
    let Some((a, b)) = two_instances(&database).await else {
        return;
    };
    for (n, closing) in [
        Closing::Logout,
        Closing::LogoutEverywhere,
        Closing::PasswordChangedElsewhere,
        Closing::UserDisabled,
    ]
    .into_iter()
    .enumerate()
    {
        let (user, session) = user_with_session(&a, &format!("user{n}@example.com")).await;
        until_answered_from_memory(&b, session, user).await;

        let started = Instant::now();
        close(&a, closing, user, session).await;
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "{closing:?}: the closing commit answers only once every instance heard of it"
        );
        assert!(
            !is_open(&b, session, user).await,
            "{closing:?}: the other instance refuses the session on its next check"
        );
        assert!(!is_open(&a, session, user).await, "{closing:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_closed_outside_the_store_is_heard_too() {
    let database = TestDatabase::new().await;
    let Some((a, b)) = two_instances(&database).await else {
        return;
    };
    let (user, session) = user_with_session(&a, "outside@example.com").await;
    until_answered_from_memory(&b, session, user).await;

    // An administrator's SQL: the trigger notifies, though nothing waits for the instances.
    steelyard_store::testing::execute(
        &a,
        &format!("UPDATE users SET status = 'disabled' WHERE id = '{user}'"),
    )
    .await;
    let started = Instant::now();
    while is_open(&b, session, user).await {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the other instance still trusts the session"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_does_not_listen_trusts_nothing_it_remembers() {
    let database = TestDatabase::new().await;
    if database.database_url().is_none() {
        return;
    }
    // A command's handle: connected and migrated, but no background work.
    let db = database.connect().await;
    let (user, session) = user_with_session(&db, "command@example.com").await;
    for _ in 0..3 {
        assert!(is_open(&db, session, user).await);
    }
    assert_eq!(db.sessions_answered_from_memory(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_remembered_before_the_listener_lost_its_connection_is_not_trusted_after() {
    let database = TestDatabase::new().await;
    let Some((a, b)) = two_instances(&database).await else {
        return;
    };
    let (user, session) = user_with_session(&a, "lost@example.com").await;
    until_answered_from_memory(&b, session, user).await;

    // A close whose notification never arrives: the trigger is off for it…
    let execute = |sql: &'static str| steelyard_store::testing::execute(&a, sql);
    execute("ALTER TABLE sessions DISABLE TRIGGER steelyard_sessions_closed_v1").await;
    steelyard_store::testing::execute(
        &a,
        &format!("UPDATE sessions SET revoked_at = 1 WHERE id = '{session}'"),
    )
    .await;
    execute("ALTER TABLE sessions ENABLE TRIGGER steelyard_sessions_closed_v1").await;
    assert!(is_open(&b, session, user).await, "answered from memory");
    // …as when the listener's connection drops meanwhile.
    execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await;

    // Once the listener is back and hears heartbeats again, the old answer is gone.
    tokio::time::sleep(Duration::from_secs(3)).await;
    until_heard_again(&b).await;
    assert!(!is_open(&b, session, user).await);
}

/// Waits until `db` answers checks from memory again (a session of its own).
async fn until_heard_again(db: &Db) {
    let (user, session) = user_with_session(db, "probe@example.com").await;
    until_answered_from_memory(db, session, user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_finds_the_triggers_disabled_trusts_nothing_it_remembers() {
    let database = TestDatabase::new().await;
    if database.database_url().is_none() {
        return;
    }
    let first = database.connect().await;
    steelyard_store::testing::execute(
        &first,
        "ALTER TABLE users DISABLE TRIGGER steelyard_users_closed_v1",
    )
    .await;
    let (user, session) = user_with_session(&first, "untriggered@example.com").await;

    // Started after the triggers were disabled: no close would be heard.
    let db = database.connect().await;
    db.start_background_work().unwrap();
    for _ in 0..20 {
        assert!(is_open(&db, session, user).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(db.sessions_answered_from_memory(), 0);
}
