//! Fresh databases for tests: each test gets its own, so tests run in parallel and never see
//! each other. SQLite by default; a new PostgreSQL database (dropped afterwards) when
//! `TEST_DATABASE_URL` is set, which is how CI runs the same suite on both engines.

use sqlx::{Connection, Executor};

use crate::db::{Db, DbTarget, PoolSettings};

/// Keeps a test database alive; dropping it removes the database.
#[derive(Debug)]
pub struct TestDatabase {
    pub target: DbTarget,
    /// The SQLite data dir, or None on PostgreSQL.
    pub dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// A new empty database on the engine the environment selects.
    pub async fn new() -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let target = DbTarget::SqliteFile(dir.path().join("steelyard.db"));
                Self {
                    target,
                    dir: Some(dir),
                    postgres: None,
                }
            }
            Some(admin_url) => {
                sqlx::any::install_default_drivers();
                let name = format!("sy_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = sqlx::AnyConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
                    });
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create test database");
                let _ = conn.close().await;
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(base, _)| base);
                let url = format!("{base}/{name}");
                Self {
                    target: DbTarget::Url(url),
                    dir: None,
                    postgres: Some((admin_url, name)),
                }
            }
        }
    }

    /// The data dir to hand the server (a temp dir on PostgreSQL too, for generated secrets).
    pub fn data_dir(&self) -> std::path::PathBuf {
        match (&self.dir, &self.target) {
            (Some(dir), _) => dir.path().to_owned(),
            (None, DbTarget::SqliteFile(file)) => file
                .parent()
                .map_or_else(std::env::temp_dir, ToOwned::to_owned),
            (None, DbTarget::Url(_)) => std::env::temp_dir(),
        }
    }

    /// A second handle on the same database, for a second server instance; only the
    /// original removes the database when dropped, so keep it alive longer.
    pub fn share(&self) -> Self {
        Self {
            target: self.target.clone(),
            dir: None,
            postgres: None,
        }
    }

    pub fn database_url(&self) -> Option<String> {
        match &self.target {
            DbTarget::Url(url) => Some(url.clone()),
            DbTarget::SqliteFile(_) => None,
        }
    }

    /// Connected and migrated.
    pub async fn connect(&self) -> Db {
        let db = Db::connect(&self.target, &PoolSettings::default())
            .await
            .expect("connect to test database");
        db.migrate().await.expect("migrate test database");
        db
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            // Drop runs outside any runtime guarantee: use a small one on its own thread.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async move {
                    let mut conn = sqlx::AnyConnection::connect(&admin_url).await.ok()?;
                    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await
                        .ok()?;
                    Some(())
                })
            })
            .join();
        }
    }
}

/// Adds an active user with a session open for an hour: (user id, session id).
pub async fn user_with_session(db: &Db, email: &str) -> (uuid::Uuid, uuid::Uuid) {
    let (user, session) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let origin = crate::Origin {
        actor: "test".into(),
        request_id: None,
    };
    let mut tx = db.begin(origin).await.expect("begin");
    let row = crate::users::UserRow {
        id: user,
        email: email.into(),
        display_name: email.into(),
        password_hash: "-".into(),
        status: "active".into(),
        is_super_admin: false,
        version: 1,
        created_at: crate::now(),
    };
    crate::users::insert(&mut tx, &row)
        .await
        .expect("insert user");
    crate::sessions::create(
        &mut tx,
        session,
        user,
        None,
        3600,
        &format!("hash {session}"),
    )
    .await
    .expect("open session");
    tx.commit().await.expect("commit");
    (user, session)
}

/// Runs one raw SQL statement behind the services' back (tests that tamper with stored rows).
pub async fn execute(db: &Db, sql: &str) {
    db.write_once(sql, &[]).await.expect("raw test SQL");
}

/// PostgreSQL: the generic plan of `sql` (whose parameters are all text) on one of the
/// application's own connections, as its sessions plan it once a statement has run a few
/// times.
pub async fn generic_plan(db: &Db, sql: &str, params: usize) -> String {
    // Detached: closed afterwards, so a failed step leaves no setting on a pooled connection.
    let mut conn = db.read.acquire().await.expect("a connection").detach();
    let types = vec!["text"; params].join(", ");
    for statement in [
        "SET plan_cache_mode = force_generic_plan".to_owned(),
        format!("PREPARE plan_under_test ({types}) AS {sql}"),
    ] {
        conn.execute(statement.as_str()).await.expect("prepare");
    }
    let nulls = vec!["NULL"; params].join(", ");
    let rows = sqlx::query(&format!("EXPLAIN EXECUTE plan_under_test ({nulls})"))
        .fetch_all(&mut conn)
        .await
        .expect("explain");
    rows.iter()
        .map(|row| sqlx::Row::try_get::<String, _>(row, 0).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}
