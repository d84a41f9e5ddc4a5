//! The `steelyard` command: serve the API, migrate, check the configuration, verify the audit
//! trail. Every subcommand that touches the database selects it the same way: `DATABASE_URL`
//! when set, otherwise the SQLite file in `--data-dir`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use steelyard_server::config::{Config, Overrides};
use steelyard_store::{Db, PoolSettings};

mod log_output;

/// mimalloc instead of glibc malloc: requests allocate many small short-lived buffers, which
/// glibc served at 10-12% of the server's CPU (BENCHMARKS.md, "Causes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "steelyard",
    version,
    about = "Steelyard: an ERP server for manufacturers and traders"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the API (default 127.0.0.1:8080) on SQLite in the data dir, or on DATABASE_URL.
    Serve {
        /// Address to listen on.
        #[arg(long)]
        bind: Option<String>,
        /// Load the demo organization and its demo users (idempotent) before serving; new users
        /// are printed with their one-time passwords.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        storage: Storage,
    },
    /// Applies pending database migrations and exits.
    Migrate {
        #[command(flatten)]
        storage: Storage,
    },
    /// Prints the effective configuration with secrets masked; exits 2 if it has problems.
    CheckConfig {
        #[command(flatten)]
        storage: Storage,
    },
    /// Prints the version.
    Version,
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Inventory.
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Adds a user to an organization with a role and prints a one-time password.
    Create {
        /// The organization: its id or its exact name.
        #[arg(long)]
        org: String,
        /// A built-in role (admin, manager, purchaser, sales, warehouse, planner, operator,
        /// accountant, partner_portal) or a custom role of the organization.
        #[arg(long)]
        role: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// For partner_portal users: the business partner's id.
        #[arg(long)]
        partner: Option<String>,
        #[command(flatten)]
        storage: Storage,
    },
}

#[derive(Debug, Subcommand)]
enum InventoryCommand {
    /// Recomputes on-hand from the stock ledger and compares it with the kept stock levels;
    /// exits 1 listing every difference (it repairs nothing).
    Check {
        #[command(flatten)]
        storage: Storage,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walks every organization's event hash chain; exits 1 at the first tampered or missing event.
    Verify {
        #[command(flatten)]
        storage: Storage,
    },
}

/// Where the data lives, shared by every subcommand that opens the database.
#[derive(Debug, Args)]
struct Storage {
    /// Directory for the SQLite database and generated secrets (ignored for the database when
    /// DATABASE_URL is set).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// A TOML configuration file (also STEELYARD_CONFIG).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl Storage {
    fn overrides(&self, bind: Option<String>) -> Overrides {
        Overrides {
            bind,
            data_dir: self.data_dir.clone(),
            config_file: self.config.clone(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (overrides, command) = match cli.command {
        Command::Version => {
            println!("steelyard {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Serve {
            ref bind,
            ref storage,
            ..
        } => (storage.overrides(bind.clone()), &cli.command),
        Command::Migrate { ref storage } | Command::CheckConfig { ref storage } => {
            (storage.overrides(None), &cli.command)
        }
        Command::Audit {
            command: AuditCommand::Verify { ref storage },
        }
        | Command::User {
            command: UserCommand::Create { ref storage, .. },
        }
        | Command::Inventory {
            command: InventoryCommand::Check { ref storage },
        } => (storage.overrides(None), &cli.command),
    };
    let config = match Config::load(&overrides) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!(
                "steelyard: the configuration has {} problem(s):",
                problems.len()
            );
            for problem in &problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::from(2);
        }
    };
    if let Command::CheckConfig { .. } = command {
        for (name, value) in config.describe() {
            println!("{name:<24} {value}");
        }
        return ExitCode::SUCCESS;
    }
    let logs = match init_logging(config.log_json) {
        Ok(logs) => logs,
        Err(error) => {
            eprintln!("steelyard: cannot start the log writer: {error}");
            return ExitCode::FAILURE;
        }
    };
    let _sentry = config.sentry_dsn.as_ref().map(|dsn| {
        let mut options = sentry::ClientOptions::default();
        options.release = Some(env!("CARGO_PKG_VERSION").into());
        options.environment = Some(format!("{:?}", config.environment).to_lowercase().into());
        sentry::init((dsn.0.as_str(), options))
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("steelyard: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Serve { demo, .. } => serve(config, *demo).await,
            Command::Migrate { .. } => migrate(config).await,
            Command::Audit { .. } => verify(config).await,
            Command::Inventory { .. } => inventory_check(config).await,
            Command::User {
                command:
                    UserCommand::Create {
                        org,
                        role,
                        email,
                        name,
                        partner,
                        ..
                    },
            } => create_user(config, org, role, email, name.clone(), partner.as_deref()).await,
            Command::Version | Command::CheckConfig { .. } => Ok(ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) if error.is::<Refused>() => {
            // After the log, so the reasons are the last lines the operator sees.
            logs.flush();
            eprintln!("{error}");
            ExitCode::from(2)
        }
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "steelyard failed");
            logs.flush();
            eprintln!("steelyard: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Input a command refused, one line per reason: printed after the log, with exit code 2.
#[derive(Debug)]
struct Refused(Vec<String>);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|r| format!("steelyard: {r}")).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for Refused {}

/// Logs go to stderr through [`log_output`], so no request waits on a write to stderr. The
/// returned guard writes out what is left when it is dropped at exit.
fn init_logging(json: bool) -> std::io::Result<log_output::LogFlush<std::io::Stderr>> {
    let (output, logs) = log_output::buffered(std::io::stderr())?;
    // A panic's message goes to stderr directly: the lines logged before it go first.
    let flush_on_panic = std::sync::Arc::clone(&output);
    let report_panic = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flush_on_panic.flush_now();
        report_panic(info);
    }));
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(output);
    if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .flatten_event(true)
            .init();
    } else {
        builder.init();
    }
    Ok(logs)
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<ExitCode> {
    let bind = config.bind;
    let _serving = match config.db_target() {
        steelyard_store::DbTarget::SqliteFile(path) => Some(lock_for_serving(&path)?),
        steelyard_store::DbTarget::Url(_) => None,
    };
    let backend = config.db_target().redacted();
    let state = steelyard_server::prepare(config).await?;
    if demo {
        let seeded = steelyard_services::demo::seed(&state.app).await?;
        let org = &seeded.organization;
        let verb = if seeded.organization_created {
            "Loaded"
        } else {
            "Found"
        };
        println!(
            "{verb} the demo organization {:?} ({}). Demo users:",
            org.name, org.id
        );
        for (email, role, password) in &seeded.users {
            let password = password
                .as_deref()
                .unwrap_or("(set when first created; shown then only)");
            println!("  {email:<34} {role:<11} {password}");
        }
    }
    if let Some(org) = steelyard_services::organizations::ensure_first(&state.app).await? {
        println!(
            "Created the first organization {:?} ({}); rename it in the API.",
            org.name, org.id
        );
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    tracing::info!(address = %bind, database = %backend, version = env!("CARGO_PKG_VERSION"), "steelyard is serving");
    println!("Steelyard is serving on http://{bind} (API docs at http://{bind}/api/docs)");
    steelyard_server::serve(state, listener, steelyard_server::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// One process serves a SQLite file: its writes queue in that process, and it remembers open
/// sessions until its own writer changes them (ADR 0008). The lock is the operating system's,
/// on `<file>-serve.lock`, and goes with the process, however it ends.
fn lock_for_serving(database: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut path = database.as_os_str().to_owned();
    path.push("-serve.lock");
    if let Some(dir) = database.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            anyhow::anyhow!("cannot open {}: {e}", std::path::Path::new(&path).display())
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "another steelyard process is serving {}; stop it first (one process serves a SQLite file)",
            database.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

async fn open(config: &Config) -> anyhow::Result<Db> {
    let target = config.db_target();
    Db::connect(&target, &PoolSettings::default())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database ({}): {e}", target.redacted()))
}

async fn migrate(config: Config) -> anyhow::Result<ExitCode> {
    let db = open(&config).await?;
    let pending = db.pending_migrations().await?;
    db.migrate().await?;
    if pending.is_empty() {
        println!("The database is up to date.");
    }
    for migration in pending {
        println!("applied {} {}", migration.version, migration.description);
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn verify(config: Config) -> anyhow::Result<ExitCode> {
    let db = open(&config).await?;
    let report = steelyard_store::events::verify_all(&db).await?;
    db.close().await;
    match report.first_break {
        None => {
            println!(
                "ok: {} events in {} chains verified",
                report.verified, report.organizations
            );
            Ok(ExitCode::SUCCESS)
        }
        Some((org, broken)) => {
            println!("TAMPERED: organization {org}: {broken}");
            println!("({} events verified before the break)", report.verified);
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn create_user(
    config: Config,
    org: &str,
    role: &str,
    email: &str,
    name: Option<String>,
    partner: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use steelyard_services::access::{self, UserDraft};
    let db = open(&config).await?;
    db.migrate().await?;
    let app = steelyard_services::App::new(db.clone());
    let ctx = steelyard_services::Ctx::system();
    let org_id = match org.parse() {
        Ok(id) => id,
        Err(_) => {
            let filter = steelyard_store::organizations::OrganizationFilter {
                status: None,
                q: Some(org.into()),
            };
            let page = steelyard_domain::page::PageRequest::first(50);
            let found = steelyard_services::organizations::list(&app, &ctx, &filter, page).await?;
            let exact: Vec<_> = found.items.into_iter().filter(|o| o.name == org).collect();
            match exact.as_slice() {
                [only] => only.id,
                [] => anyhow::bail!("no organization is named {org:?}"),
                _ => anyhow::bail!("several organizations are named {org:?}; pass its id"),
            }
        }
    };
    let partner_id = partner
        .map(str::parse)
        .transpose()
        .map_err(|_| anyhow::anyhow!("--partner is not an id"))?;
    let draft = UserDraft {
        email: Some(email.into()),
        display_name: name,
        role: Some(role.into()),
        partner_id,
        organization_id: Some(org_id),
    };
    let result = access::create_user(&app, &ctx, draft).await;
    db.close().await;
    match result {
        Ok(created) => {
            let user = &created.user.user;
            match created.one_time_password {
                Some(password) => {
                    println!(
                        "Created {} ({}) as {} in organization {org_id}.",
                        user.email, user.id, created.user.role
                    );
                    println!("One-time password: {password}");
                }
                None => println!(
                    "Added the existing user {} ({}) as {} to organization {org_id}; their password is unchanged.",
                    user.email, user.id, created.user.role
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(steelyard_services::Error::Validation(errors)) => Err(Refused(
            errors
                .as_slice()
                .iter()
                .map(|error| format!("{}: {}", error.field, error.message))
                .collect(),
        )
        .into()),
        Err(other) => Err(other.into()),
    }
}

async fn inventory_check(config: Config) -> anyhow::Result<ExitCode> {
    let db = open(&config).await?;
    let mismatches = steelyard_store::inventory::ledger_mismatches(&db).await?;
    db.close().await;
    if mismatches.is_empty() {
        println!("ok: stock levels agree with the stock ledger");
        return Ok(ExitCode::SUCCESS);
    }
    for (product, location, kept, ledger) in &mismatches {
        let kept = steelyard_domain::money::Quantity::from_scaled(*kept);
        let ledger = steelyard_domain::money::Quantity::from_scaled(*ledger);
        println!("MISMATCH product {product} location {location}: kept {kept}, ledger {ledger}");
    }
    Ok(ExitCode::FAILURE)
}
