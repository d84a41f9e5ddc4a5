//! Group commit on the SQLite writer: shared commits, dropped or cancelled members, checkpoints.

use std::time::Duration;

use crate::writer::SqliteWriter;

fn writer() -> (tempfile::TempDir, SqliteWriter) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("group.db");
    let setup = rusqlite::Connection::open(&path).unwrap();
    setup
        .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER NOT NULL);")
        .unwrap();
    let writer = SqliteWriter::open(&path, Duration::from_secs(5)).unwrap();
    (dir, writer)
}

/// What another connection sees committed.
fn committed(dir: &tempfile::TempDir) -> Vec<i64> {
    let reader = rusqlite::Connection::open(dir.path().join("group.db")).unwrap();
    let mut statement = reader.prepare("SELECT n FROM t ORDER BY n").unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn insert(tx: &super::SqliteTx, n: i64) {
    tx.connection()
        .execute("INSERT INTO t (n) VALUES (?1)", [n])
        .unwrap();
}

#[tokio::test]
async fn transactions_queued_behind_each_other_share_one_commit() {
    let (dir, writer) = writer();
    let writer = std::sync::Arc::new(writer);
    let tasks: Vec<_> = (1..=20)
        .map(|n| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let tx = writer.begin().await.unwrap();
                insert(&tx, n);
                // Holding the writer across a yield lets the other tasks queue for it.
                tokio::task::yield_now().await;
                tx.commit().await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(committed(&dir), (1..=20).collect::<Vec<_>>());
    let commits = writer.commits().await;
    assert!(commits < 20, "{commits} commits for 20 transactions");
}

#[tokio::test]
async fn a_member_that_is_dropped_undoes_only_its_own_work() {
    let (dir, writer) = writer();
    let writer = std::sync::Arc::new(writer);
    let first = writer.begin().await.unwrap();
    insert(&first, 1);
    let failing = tokio::spawn({
        let writer = writer.clone();
        async move {
            let tx = writer.begin().await.unwrap();
            insert(&tx, 2);
            drop(tx);
        }
    });
    let last = tokio::spawn({
        let writer = writer.clone();
        async move {
            let tx = writer.begin().await.unwrap();
            insert(&tx, 3);
            tx.commit().await
        }
    });
    tokio::task::yield_now().await; // both queue behind `first`
    first.commit().await.unwrap();
    failing.await.unwrap();
    last.await.unwrap().unwrap();
    assert_eq!(committed(&dir), vec![1, 3]);
    assert_eq!(writer.commits().await, 1, "one group");
}

#[tokio::test]
async fn a_member_cancelled_while_its_group_is_open_is_still_committed() {
    let (dir, writer) = writer();
    let writer = std::sync::Arc::new(writer);
    let first = writer.begin().await.unwrap();
    insert(&first, 1);
    let (joined, rolled_back) = tokio::sync::oneshot::channel();
    let second = tokio::spawn({
        let writer = writer.clone();
        async move {
            let tx = writer.begin().await.unwrap();
            insert(&tx, 2);
            // Leaves the group open with `first`'s work in it, and nobody waiting.
            rolled_back.await.unwrap();
            drop(tx);
        }
    });
    tokio::task::yield_now().await; // `second` queues behind `first`
    let mut commit = Box::pin(first.commit());
    let polled_once = tokio::time::timeout(Duration::ZERO, &mut commit).await;
    assert!(polled_once.is_err(), "waits for the group, behind `second`");
    drop(commit); // the client went away
    joined.send(()).unwrap();
    second.await.unwrap();
    for _ in 0..100 {
        if !committed(&dir).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(committed(&dir), vec![1]);
}

#[test]
fn the_writers_checkpoint_waits_for_a_moment_nobody_waits_but_not_for_ever() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let catch_up = Arc::new(AtomicBool::new(true));
    let waiting = Arc::new(AtomicUsize::new(1));
    let connection = rusqlite::Connection::open_in_memory().unwrap();
    let mut state = super::WriterState::new(
        connection,
        Arc::clone(&catch_up),
        Arc::clone(&waiting),
        Arc::default(),
    );
    assert!(!state.catch_up_due(), "a transaction waits to begin");
    assert!(catch_up.load(Ordering::Relaxed), "the request stays");
    waiting.store(0, Ordering::Relaxed);
    assert!(state.catch_up_due(), "nobody waits");
    assert!(!catch_up.load(Ordering::Relaxed), "the request is taken");
    assert!(!state.catch_up_due(), "nothing asked");
    // Asked again, with writers always waiting: it runs once it has been put off long
    // enough.
    catch_up.store(true, Ordering::Relaxed);
    waiting.store(3, Ordering::Relaxed);
    assert!(!state.catch_up_due());
    state.catch_up_seen = Some(std::time::Instant::now() - super::CATCH_UP_PATIENCE);
    assert!(state.catch_up_due());
}
