//! Tests of configuration loading: defaults, problems reported together, secrets masked.

use super::*;

fn load(pairs: &[(&str, &str)]) -> Result<Config, Vec<ConfigProblem>> {
    let env = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_sources(&Overrides::default(), &env)
}

#[test]
fn defaults_serve_sqlite_on_localhost_in_development() {
    let config = load(&[]).unwrap();
    assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(config.environment, Environment::Development);
    assert_eq!(
        config.db_target().backend(),
        Some(steelyard_store::Backend::Sqlite)
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let problems = load(&[
        ("STEELYARD_ENV", "production"),
        ("STEELYARD_BIND", "nowhere"),
        ("DATABASE_URL", "mysql://x"),
        ("STEELYARD_REQUEST_TIMEOUT_SECS", "soon"),
    ])
    .unwrap_err();
    let settings: Vec<_> = problems.iter().map(|p| p.setting.as_str()).collect();
    assert_eq!(
        settings,
        [
            "STEELYARD_BIND",
            "DATABASE_URL",
            "STEELYARD_JWT_SECRET",
            "STEELYARD_REQUEST_TIMEOUT_SECS"
        ]
    );
    assert!(problems.iter().all(|p| !p.fix.is_empty()));
}

#[test]
fn production_refuses_a_weak_secret_and_accepts_a_strong_one() {
    assert!(
        load(&[
            ("STEELYARD_ENV", "production"),
            ("STEELYARD_JWT_SECRET", "short")
        ])
        .is_err()
    );
    let strong = "x".repeat(MIN_SECRET_LEN);
    assert!(
        load(&[
            ("STEELYARD_ENV", "production"),
            ("STEELYARD_JWT_SECRET", &strong)
        ])
        .is_ok()
    );
}

#[test]
fn secrets_are_masked_in_the_description() {
    let config = load(&[
        ("STEELYARD_JWT_SECRET", &"s".repeat(40)),
        ("DATABASE_URL", "postgres://u:pw@h/db"),
    ])
    .unwrap();
    let text = format!("{:?} {:?}", config.describe(), config);
    assert!(
        !text.contains(&"s".repeat(40)) && !text.contains(":pw@"),
        "{text}"
    );
}

#[test]
fn switches_take_on_off_words_and_refuse_anything_else() {
    let config = load(&[("STEELYARD_HSTS", "on"), ("STEELYARD_RATE_LIMITS", "no")]).unwrap();
    assert!(config.hsts);
    assert!(!config.rate_limits_enabled);
    let problems = load(&[("STEELYARD_METRICS_PUBLIC", "maybe")]).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].setting, "STEELYARD_METRICS_PUBLIC");
}

#[test]
fn a_zero_count_in_the_file_is_a_problem_like_one_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steelyard.toml");
    std::fs::write(&path, "db_max_connections = 0\nrequest_timeout_secs = 0\n").unwrap();
    let overrides = Overrides {
        config_file: Some(path),
        ..Overrides::default()
    };
    let problems = Config::from_sources(&overrides, &HashMap::new()).unwrap_err();
    let settings: Vec<_> = problems.iter().map(|p| p.setting.as_str()).collect();
    assert_eq!(
        settings,
        [
            "STEELYARD_REQUEST_TIMEOUT_SECS",
            "STEELYARD_DB_MAX_CONNECTIONS"
        ]
    );
    let env = HashMap::from([("STEELYARD_DB_MAX_CONNECTIONS".to_owned(), "0".to_owned())]);
    let problems = Config::from_sources(&Overrides::default(), &env).unwrap_err();
    assert_eq!(problems[0].setting, "STEELYARD_DB_MAX_CONNECTIONS");
}
