//! `steelyard-bench`: builds the server's release binary, starts it on fresh data (SQLite and
//! PostgreSQL), runs the selected scenarios, stops it, and prints the tables (optionally written
//! as Markdown for BENCHMARKS.md). See BENCHMARKS.md for what each scenario does.

mod calibrate;
mod client;
mod fanout;
mod load;
mod report;
mod scenarios;
mod server;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::load::{Pace, Plan, Target, Workload};
use crate::report::{HttpRow, Report, StartupRow};
use crate::scenarios::{CottonMix, FilteredList, Fixture, GetById, WriteTransaction};
use crate::server::{Backend, Launch, Server};

#[derive(Debug, Parser)]
#[command(
    name = "steelyard-bench",
    about = "Load and fan-out benchmarks of the Steelyard server"
)]
struct Cli {
    /// What to run.
    #[arg(value_enum, default_value = "all")]
    scenarios: Vec<Scenario>,
    /// Backends for the HTTP scenarios.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres"
    )]
    backends: Vec<BackendName>,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Seconds of warm-up before each run (not counted).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Connections for the closed-loop (maximum throughput) and fixed-rate runs.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// The fixed-rate runs go at this fraction of the maximum measured just before.
    #[arg(long, default_value_t = 0.7)]
    rate_fraction: f64,
    /// Virtual users of the Cotton ERP mix, one run each.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    users: Vec<usize>,
    /// Mean pause of a mix user between requests, in milliseconds (0.5× to 1.5× at random).
    #[arg(long, default_value_t = 1000)]
    think_ms: u64,
    /// Subscribed sockets of the fan-out, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,50000")]
    sockets: Vec<usize>,
    /// Fan-out commit rate is chosen so that this many messages a second are due.
    #[arg(long, default_value_t = 200_000.0)]
    fanout_messages: f64,
    /// PostgreSQL server (no database name); a fresh database is made for each server start.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pg_url: String,
    /// Use this server binary instead of building one.
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Do not run `cargo build --release -p steelyard` (use the binary already built).
    #[arg(long)]
    no_build: bool,
    /// RUST_LOG for the server; by default its own default (info, with one access-log line
    /// per request, written to a file in the data dir).
    #[arg(long)]
    server_log: Option<String>,
    /// Threads of the HTTP load generator. It shares the machine's cores with the server, and
    /// one thread keeps up with the HTTP scenarios here while stalling the server, and being
    /// stalled by it, least (BENCHMARKS.md, "How it measures"). The fan-out's clients always
    /// use one thread per core: they read far more messages than the HTTP clients send
    /// requests.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Also write the results as Markdown to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    All,
    Get,
    List,
    Write,
    Mix,
    Limited,
    Fanout,
    Startup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendName {
    Sqlite,
    Postgres,
}

impl Cli {
    fn wants(&self, scenario: Scenario) -> bool {
        self.scenarios.contains(&Scenario::All) || self.scenarios.contains(&scenario)
    }

    fn launch(&self, binary: &std::path::Path, backend: Backend, rate_limiter: bool) -> Launch {
        Launch {
            binary: binary.to_owned(),
            backend,
            pg_base_url: self.pg_url.clone(),
            rate_limiter,
            demo: true,
            log_filter: self.server_log.clone(),
        }
    }

    fn plan(&self, users: usize, pace: Pace) -> Plan {
        Plan {
            users,
            pace,
            warmup: Duration::from_secs(self.warmup),
            duration: Duration::from_secs(self.duration),
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let started = chrono::Utc::now();
    let open_files = server::raise_open_files_limit();
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the bench crate sits in the workspace")?
        .to_owned();
    let binary = match (&cli.server_bin, cli.no_build) {
        (Some(path), _) => path.clone(),
        (None, true) => server::release_binary(&workspace),
        (None, false) => server::build_release(&workspace)?,
    };
    anyhow::ensure!(binary.exists(), "no server binary at {}", binary.display());
    eprintln!(
        "server binary: {} (open-files limit {open_files})",
        binary.display()
    );
    let mut report = Report {
        machine_check_before: Some(calibrate::machine_check()),
        ..Report::default()
    };
    runtime(Some(cli.client_threads))?.block_on(start_and_http(&cli, &binary, &mut report))?;
    if cli.wants(Scenario::Fanout) {
        let fanout = runtime(None)?.block_on(fanout_scenarios(&cli, &binary, &mut report));
        if let Err(error) = fanout {
            eprintln!("fan-out failed: {error:#}");
            report.fanout_skipped.push(format!("{error:#}"));
        }
    }

    report.machine_check_after = Some(calibrate::machine_check());
    let tables = report.markdown();
    println!("\n{tables}");
    if let Some(path) = &cli.markdown {
        std::fs::write(path, format!("{}\n{tables}", machine_header(&cli, started)))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// A runtime for the load generator: `threads` workers, or one per core.
fn runtime(threads: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        builder.worker_threads(threads.max(1));
    }
    Ok(builder.enable_all().build()?)
}

/// The start-up scenario and, per backend, the HTTP and rate-limited scenarios.
async fn start_and_http(
    cli: &Cli,
    binary: &std::path::Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    if cli.wants(Scenario::Startup) {
        report.startup = Some(startup(binary).await?);
    }
    for backend in &cli.backends {
        let backend = match backend {
            BackendName::Sqlite => Backend::Sqlite,
            BackendName::Postgres => Backend::Postgres,
        };
        let http = [
            Scenario::Get,
            Scenario::List,
            Scenario::Write,
            Scenario::Mix,
        ];
        if http.iter().any(|s| cli.wants(*s))
            && let Err(error) = http_scenarios(cli, binary, backend, report).await
        {
            eprintln!("{} HTTP scenarios failed: {error:#}", backend.name());
        }
        if cli.wants(Scenario::Limited)
            && let Err(error) = limiter_scenario(cli, binary, backend, report).await
        {
            eprintln!("{} rate-limited scenario failed: {error:#}", backend.name());
        }
    }
    Ok(())
}

async fn http_scenarios(
    cli: &Cli,
    binary: &std::path::Path,
    backend: Backend,
    report: &mut Report,
) -> anyhow::Result<()> {
    let server = Server::start(&cli.launch(binary, backend, false)).await?;
    eprintln!(
        "{} server log: {}",
        backend.name(),
        server.log_path.display()
    );
    let result = async {
        let fixture = Arc::new(Fixture::prepare(&server).await?);
        let target = Target {
            addr: server.addr,
            token: fixture.token.clone(),
            server_pid: server.pid(),
            database: server.database_name(),
        };
        if cli.wants(Scenario::Get) {
            max_then_fixed_rate(
                cli,
                "GET by id",
                backend,
                GetById(fixture.clone()),
                &target,
                report,
            )
            .await;
        }
        if cli.wants(Scenario::List) {
            let plan = cli.plan(cli.connections, Pace::Closed);
            let measured = load::run(&plan, Arc::new(FilteredList), &target).await;
            push(report, "list 50 (kind=vendor)", backend, &plan, measured);
        }
        if cli.wants(Scenario::Write) {
            let workload = WriteTransaction(fixture.clone());
            max_then_fixed_rate(
                cli,
                "write tx: PO, 5 lines",
                backend,
                workload,
                &target,
                report,
            )
            .await;
        }
        if cli.wants(Scenario::Mix) {
            for &users in &cli.users {
                let mut plan = cli.plan(users, Pace::Think(Duration::from_millis(cli.think_ms)));
                // Enough warm-up for every user to have started and paused once.
                plan.warmup = plan.warmup.max(Duration::from_millis(cli.think_ms * 3));
                let mix = CottonMix {
                    fixture: fixture.clone(),
                    run: chrono::Utc::now().timestamp_micros() as u64,
                };
                let measured = load::run(&plan, Arc::new(mix), &target).await;
                push(report, "Cotton ERP mix", backend, &plan, measured);
            }
        }
        anyhow::Ok(())
    }
    .await;
    server.stop().await;
    result
}

/// The same GET by id with the rate limiter on (every tier raised far above the load), so
/// that its cost per request shows next to the run without it.
async fn limiter_scenario(
    cli: &Cli,
    binary: &std::path::Path,
    backend: Backend,
    report: &mut Report,
) -> anyhow::Result<()> {
    let server = Server::start(&cli.launch(binary, backend, true)).await?;
    let result = async {
        let fixture = Arc::new(Fixture::prepare(&server).await?);
        let target = Target {
            addr: server.addr,
            token: fixture.token.clone(),
            server_pid: server.pid(),
            database: server.database_name(),
        };
        let plan = cli.plan(cli.connections, Pace::Closed);
        let measured = load::run(&plan, Arc::new(GetById(fixture)), &target).await;
        push(
            report,
            "GET by id, rate limiter on",
            backend,
            &plan,
            measured,
        );
        anyhow::Ok(())
    }
    .await;
    server.stop().await;
    result
}

/// A closed-loop run for the maximum, then an open-loop run at a fraction of it for latency.
async fn max_then_fixed_rate<W: Workload>(
    cli: &Cli,
    name: &str,
    backend: Backend,
    workload: W,
    target: &Target,
    report: &mut Report,
) {
    let workload = Arc::new(workload);
    let plan = cli.plan(cli.connections, Pace::Closed);
    let max = load::run(&plan, workload.clone(), target).await;
    let rate = (max.throughput() * cli.rate_fraction).max(1.0);
    push(report, &format!("{name}: max"), backend, &plan, max);
    let plan = cli.plan(cli.connections, Pace::Rate(rate));
    let fixed = load::run(&plan, workload, target).await;
    push(
        report,
        &format!("{name}: {:.0}% of max", cli.rate_fraction * 100.0),
        backend,
        &plan,
        fixed,
    );
}

fn push(report: &mut Report, name: &str, backend: Backend, plan: &Plan, measured: load::Measured) {
    let row = HttpRow {
        scenario: name.to_owned(),
        backend: backend.name(),
        users: plan.users,
        pace: plan.pace,
        measured,
    };
    let single = Report {
        http: vec![row.clone()],
        ..Default::default()
    };
    // Each row as it finishes, so a long run shows progress.
    eprint!("{}", single.markdown().lines().nth(2).unwrap_or_default());
    eprintln!();
    report.http.push(row);
}

async fn fanout_scenarios(
    cli: &Cli,
    binary: &std::path::Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let server = Server::start(&cli.launch(binary, Backend::Sqlite, false)).await?;
    let result = async {
        let fixture = Arc::new(Fixture::prepare(&server).await?);
        for &sockets in &cli.sockets {
            let rate = (cli.fanout_messages / sockets as f64).max(1.0);
            let duration = Duration::from_secs(cli.duration);
            match fanout::run(&server, &fixture, sockets, rate, duration).await {
                Ok(result) => report.fanout.push(result),
                Err(error) => {
                    let text = format!("{sockets} sockets: {error:#}");
                    eprintln!("fan-out: {text}");
                    let missing = text.contains("no WebSocket endpoint");
                    report.fanout_skipped.push(text);
                    if missing {
                        break;
                    }
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    server.stop().await;
    result
}

/// Start-up on an empty data dir (migrations, first administrator) to the first 200 from
/// `/ready`, and resident memory two seconds later, three times.
async fn startup(binary: &std::path::Path) -> anyhow::Result<StartupRow> {
    let mut row = StartupRow {
        time_to_ready: Vec::new(),
        idle_rss: Vec::new(),
    };
    for _ in 0..3 {
        let launch = Launch {
            binary: binary.to_owned(),
            backend: Backend::Sqlite,
            pg_base_url: String::new(),
            rate_limiter: true,
            demo: false,
            log_filter: None,
        };
        let server = Server::start(&launch).await?;
        row.time_to_ready.push(server.time_to_ready);
        tokio::time::sleep(Duration::from_secs(2)).await;
        row.idle_rss.push(server::resident_bytes(server.pid())?);
        server.stop().await;
    }
    Ok(row)
}

/// Date the run started, machine and command, at the top of a Markdown fragment.
fn machine_header(cli: &Cli, started: chrono::DateTime<chrono::Utc>) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "Run {} on {cores} cores ({model}), {memory_gib:.1} GiB memory.\n\n\
         Command: `cargo run --release -p steelyard-bench -- {}`\n\n\
         HTTP load generator: {} thread(s); fan-out clients: one per core.\n",
        started.format("%Y-%m-%d %H:%M UTC"),
        args.join(" "),
        cli.client_threads
    )
}
