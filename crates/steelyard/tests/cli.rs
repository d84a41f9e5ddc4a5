//! The `steelyard` command as an operator runs it: configuration checks, migrations, users and
//! audit verification, on a temp SQLite data dir (or TEST_DATABASE_URL's PostgreSQL).

use std::process::{Command, Output};

use steelyard_store::testing::TestDatabase;

fn steelyard(database: &TestDatabase, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_steelyard"));
    command
        .args(args)
        .arg("--data-dir")
        .arg(database.data_dir());
    command.env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    if let Some(url) = database.database_url() {
        command.env("DATABASE_URL", url);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn check_config_lists_every_problem_with_its_fix_and_exits_2() {
    let database = TestDatabase::new().await;
    let env = [
        ("STEELYARD_ENV", "production"),
        ("STEELYARD_JWT_SECRET", "short"),
        ("STEELYARD_BIND", "nowhere"),
    ];
    let output = steelyard(&database, &["check-config"], &env);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let report = text(&output);
    assert!(
        report.contains("STEELYARD_JWT_SECRET") && report.contains("STEELYARD_BIND"),
        "{report}"
    );
    assert!(report.contains("fix:"), "{report}");
}

#[tokio::test]
async fn check_config_masks_secrets_and_database_passwords() {
    let database = TestDatabase::new().await;
    let env = [
        (
            "STEELYARD_JWT_SECRET",
            "a-very-long-secret-that-must-never-be-printed",
        ),
        (
            "DATABASE_URL",
            "postgres://app:hunter2-password@db.example/erp",
        ),
    ];
    let mut command = Command::new(env!("CARGO_BIN_EXE_steelyard"));
    command
        .arg("check-config")
        .arg("--data-dir")
        .arg(database.data_dir())
        .envs(env);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = text(&output);
    assert!(
        !report.contains("hunter2") && !report.contains("never-be-printed"),
        "{report}"
    );
    assert!(
        report.contains("postgres://app:****@db.example/erp"),
        "{report}"
    );
}

#[tokio::test]
async fn migrate_then_user_create_prints_a_one_time_password_and_audit_verify_holds() {
    let database = TestDatabase::new().await;
    let migrated = steelyard(&database, &["migrate"], &[]);
    assert!(migrated.status.success(), "{}", text(&migrated));
    // An organization to add the user to.
    let db = database.connect().await;
    let app = steelyard_services::App::new(db.clone());
    let draft = steelyard_domain::organization::OrganizationDraft {
        name: Some("Cli Works".into()),
        ..Default::default()
    };
    steelyard_services::organizations::create(&app, &steelyard_services::Ctx::system(), draft)
        .await
        .unwrap();
    db.close().await;

    let args = [
        "user",
        "create",
        "--org",
        "Cli Works",
        "--role",
        "warehouse",
        "--email",
        "wes@cli.example",
    ];
    let created = steelyard(&database, &args, &[]);
    assert!(created.status.success(), "{}", text(&created));
    assert!(
        text(&created).contains("One-time password: "),
        "{}",
        text(&created)
    );
    let duplicate = steelyard(&database, &args, &[]);
    assert!(!duplicate.status.success());
    let unknown_role = steelyard(
        &database,
        &[
            "user",
            "create",
            "--org",
            "Cli Works",
            "--role",
            "wizard",
            "--email",
            "w@cli.example",
        ],
        &[],
    );
    assert_eq!(
        unknown_role.status.code(),
        Some(2),
        "{}",
        text(&unknown_role)
    );

    let verified = steelyard(&database, &["audit", "verify"], &[]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(text(&verified).starts_with("ok: "), "{}", text(&verified));
}

#[tokio::test]
async fn audit_verify_exits_1_and_names_the_event_edited_behind_the_servers_back() {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let app = steelyard_services::App::new(db.clone());
    let ctx = steelyard_services::Ctx::system();
    for name in ["First", "Second"] {
        let draft = steelyard_domain::organization::OrganizationDraft {
            name: Some(name.into()),
            ..Default::default()
        };
        steelyard_services::organizations::create(&app, &ctx, draft)
            .await
            .unwrap();
    }
    steelyard_store::testing::execute(&db, "UPDATE events SET data = '{\"name\":\"Forged\"}' WHERE kind = 'organization.created' AND data LIKE '%Second%'").await;
    db.close().await;
    let output = steelyard(&database, &["audit", "verify"], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("TAMPERED") && text(&output).contains("altered"),
        "{}",
        text(&output)
    );
}

#[test]
fn version_prints_the_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_steelyard"))
        .arg("version")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn inventory_check_agrees_with_the_ledger_until_a_stock_level_is_edited() {
    use steelyard_domain::access::Actor;
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let app = steelyard_services::App::new(db.clone());
    let system = steelyard_services::Ctx::system();
    let org = steelyard_services::organizations::create(
        &app,
        &system,
        steelyard_domain::organization::OrganizationDraft {
            name: Some("Ledger Co".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ctx = steelyard_services::Ctx::new(Actor::system_in(org.id), None);
    let product: steelyard_domain::product::ProductDraft =
        serde_json::from_value(serde_json::json!({"sku": "P1", "name": "Part"})).unwrap();
    let product = steelyard_services::products::create(&app, &ctx, product)
        .await
        .unwrap();
    let location = steelyard_domain::inventory::LocationDraft {
        code: Some("WH".into()),
        name: Some("Warehouse".into()),
        parent_id: None,
    };
    let location = steelyard_services::inventory::create_location(&app, &ctx, location)
        .await
        .unwrap();
    let adjustment: steelyard_services::inventory::AdjustmentDraft =
        serde_json::from_value(serde_json::json!({
            "product_id": product.id, "location_id": location.id, "quantity": "7", "unit_cost": "2"
        }))
        .unwrap();
    steelyard_services::inventory::adjust(&app, &ctx, adjustment)
        .await
        .unwrap();

    let agreed = steelyard(&database, &["inventory", "check"], &[]);
    assert!(agreed.status.success(), "{}", text(&agreed));
    steelyard_store::testing::execute(&db, "UPDATE stock_levels SET on_hand = on_hand + 1000000")
        .await;
    db.close().await;
    let differs = steelyard(&database, &["inventory", "check"], &[]);
    assert_eq!(differs.status.code(), Some(1), "{}", text(&differs));
    assert!(
        text(&differs).contains("kept 8.000000, ledger 7.000000"),
        "{}",
        text(&differs)
    );
}

#[tokio::test]
async fn a_second_serve_on_the_same_sqlite_file_is_refused_while_the_first_runs() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let database = TestDatabase::new().await;
    if database.database_url().is_some() {
        return; // On PostgreSQL any number of instances serve one database.
    }
    let serve = || {
        Command::new(env!("CARGO_BIN_EXE_steelyard"))
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(database.data_dir())
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs")
    };
    let mut first = serve();
    let stdout = first.stdout.take().unwrap();
    let serving = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("is serving"));
    assert!(serving, "the first server started");

    // Bounded: without the lock the second one would serve too, and never exit.
    let mut second = serve();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while second.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = second.kill();
    let second = second.wait_with_output().unwrap();
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert!(
        text(&second).contains("another steelyard process is serving"),
        "{}",
        text(&second)
    );
}
