//! The server under test: building its release binary, starting it on a fresh data dir (and a
//! fresh PostgreSQL database), waiting for `/ready`, reading its CPU time and memory from
//! `/proc`, and stopping it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::client::{Call, Conn};

/// Where the server keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// How one server is started.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub backend: Backend,
    /// `postgres://user@host:port` without a database; a fresh database is made under it.
    pub pg_base_url: String,
    /// Keeps the rate limiter on (with every tier raised far above the load) instead of off.
    pub rate_limiter: bool,
    pub demo: bool,
    /// `RUST_LOG` for the server, or None for its default (`info`, with the access log).
    pub log_filter: Option<String>,
}

/// The credentials the harness gives the first administrator.
pub const ADMIN_EMAIL: &str = "bench-admin@steelyard.local";
pub const ADMIN_PASSWORD: &str = "Bench-Admin-Password-2026";
const RAISED_LIMIT_PER_MIN: &str = "1000000000";

/// A running server.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Lines the server printed on stdout (the demo users and their passwords).
    pub stdout: Arc<Mutex<Vec<String>>>,
    database: Option<(String, String)>,
    /// From spawning the process to the first 200 from `/ready`.
    pub time_to_ready: Duration,
    /// The server's stderr (JSON logs); kept after the run, outside the data dir.
    pub log_path: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The PostgreSQL database made for this server, if any.
    pub fn database_name(&self) -> Option<String> {
        self.database.as_ref().map(|(_, name)| name.clone())
    }

    /// On PostgreSQL, gathers the planner's statistics (`ANALYZE`), as autovacuum does for a
    /// database in use; nothing to do on SQLite. A fresh database has none, and PostgreSQL
    /// then takes a filter to keep 0.5% of a table per value, so it scans the orders' lines
    /// whole for a page of orders (BENCHMARKS.md, cause 22).
    pub async fn analyze(&self) -> anyhow::Result<()> {
        use sqlx::{Connection, Executor};
        let Some((base, name)) = &self.database else {
            return Ok(());
        };
        let url = format!("{}/{name}", base.trim_end_matches('/'));
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        conn.execute("ANALYZE").await?;
        conn.close().await?;
        Ok(())
    }

    /// Starts the binary and waits until `/ready` answers 200.
    pub async fn start(launch: &Launch) -> anyhow::Result<Self> {
        let addr = free_port()?;
        let data_dir = fresh_data_dir()?;
        let mut command = Command::new(&launch.binary);
        command.arg("serve").arg("--bind").arg(addr.to_string());
        command.arg("--data-dir").arg(&data_dir);
        if launch.demo {
            command.arg("--demo");
        }
        // A clean environment: nothing of the caller's (DATABASE_URL, REDIS_URL, a config
        // file) leaks into the measured server.
        command.env_clear();
        if let Ok(path) = std::env::var("PATH") {
            command.env("PATH", path);
        }
        command
            .env("STEELYARD_JWT_SECRET", random_secret())
            .env("STEELYARD_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("STEELYARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("STEELYARD_ACCESS_TOKEN_TTL_SECS", "86400")
            .env("STEELYARD_WS_MAX_CONNECTIONS_PER_USER", "1000000")
            .env("STEELYARD_LOG_FORMAT", "json");
        if launch.rate_limiter {
            command
                .env("STEELYARD_RATE_LIMITS", "on")
                .env("STEELYARD_RATE_LIMIT_STRICT_PER_MIN", RAISED_LIMIT_PER_MIN)
                .env(
                    "STEELYARD_RATE_LIMIT_MODERATE_PER_MIN",
                    RAISED_LIMIT_PER_MIN,
                )
                .env("STEELYARD_RATE_LIMIT_RELAXED_PER_MIN", RAISED_LIMIT_PER_MIN);
        } else {
            command.env("STEELYARD_RATE_LIMITS", "off");
        }
        if let Some(filter) = &launch.log_filter {
            command.env("RUST_LOG", filter);
        }
        let database = match launch.backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let name = format!(
                    "steelyard_bench_{}_{}",
                    std::process::id(),
                    chrono::Utc::now().timestamp_micros()
                );
                create_database(&launch.pg_base_url, &name).await?;
                let url = format!("{}/{name}", launch.pg_base_url.trim_end_matches('/'));
                command.env("DATABASE_URL", &url);
                Some((launch.pg_base_url.clone(), name))
            }
        };
        let log_path = data_dir.with_extension("log");
        let log = std::fs::File::create(&log_path)?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", launch.binary.display()))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            let lines = stdout.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            });
        }
        let mut server = Self {
            child,
            addr,
            data_dir,
            stdout,
            database,
            time_to_ready: Duration::ZERO,
            log_path,
        };
        match wait_ready(&mut server, Duration::from_secs(180)).await {
            Ok(()) => {
                server.time_to_ready = spawned_at.elapsed();
                Ok(server)
            }
            Err(error) => {
                let log = server.log_tail();
                server.stop().await;
                Err(error.context(format!(
                    "the server did not become ready; its log ends:\n{log}"
                )))
            }
        }
    }

    /// The password printed for a demo user created at this start.
    pub fn demo_password(&self, email: &str) -> Option<String> {
        let lines = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(email))
                .then(|| words.nth(1).map(str::to_owned))
                .flatten()
        })
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after 30 s) and removes its data
    /// (the log stays).
    pub async fn stop(mut self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            eprintln!("the server did not stop within 30 s of SIGTERM; killing it");
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some((base, name)) = self.database.take()
            && let Err(error) = drop_database(&base, &name).await
        {
            eprintln!("could not drop the benchmark database {name}: {error:#}");
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

async fn wait_ready(server: &mut Server, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    let ready = Call::get("/ready".into());
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            bail!("the server exited with {status}");
        }
        if let Ok(mut conn) = Conn::open(server.addr, None).await
            && let Ok(reply) = conn.send(&ready, None).await
            && reply.status.is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no 200 from /ready within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A port nobody listens on now (the server binds it a moment later).
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

fn fresh_data_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "steelyard-bench-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn random_secret() -> String {
    (0..48)
        .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
        .collect()
}

async fn create_database(base: &str, name: &str) -> anyhow::Result<()> {
    use sqlx::{Connection, Executor};
    let admin_url = format!("{}/postgres", base.trim_end_matches('/'));
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .with_context(|| format!("cannot reach PostgreSQL at {admin_url}"))?;
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await?;
    conn.close().await?;
    Ok(())
}

async fn drop_database(base: &str, name: &str) -> anyhow::Result<()> {
    use sqlx::{Connection, Executor};
    let admin_url = format!("{}/postgres", base.trim_end_matches('/'));
    let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
    conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await?;
    conn.close().await?;
    Ok(())
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after its closing parenthesis are plain.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc stat format")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5); `fields[0]` is field 3.
    let ticks: u64 = fields
        .get(11)
        .zip(fields.get(12))
        .and_then(|(u, s)| Some(u.parse::<u64>().ok()? + s.parse::<u64>().ok()?))
        .context("no utime/stime in /proc stat")?;
    Ok(Duration::from_secs_f64(
        ticks as f64 / clock_ticks_per_second() as f64,
    ))
}

/// CPU time used so far by each PostgreSQL backend serving `database` (a local PostgreSQL
/// names the database in each backend's process title), by process id. Shared processes
/// (WAL writer, checkpointer) are not counted.
pub fn database_cpu_times(database: &str) -> HashMap<u32, Duration> {
    let needle = format!(" {database} ");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| String::from_utf8_lossy(&cmdline).contains(&needle))
                .unwrap_or(false)
        })
        .filter_map(|pid| Some((pid, cpu_time(pid).ok()?)))
        .collect()
}

/// CPU the backends used between two samples; a backend started in between counts whole.
pub fn database_cpu_between(
    before: &HashMap<u32, Duration>,
    after: &HashMap<u32, Duration>,
) -> Duration {
    after
        .iter()
        .map(|(pid, cpu)| cpu.saturating_sub(before.get(pid).copied().unwrap_or_default()))
        .sum()
}

fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Resident memory of a process in bytes, from `VmRSS` in `/proc/<pid>/status`.
pub fn resident_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc status")?;
    Ok(kib * 1024)
}

/// Builds the server's release binary (a no-op when it is up to date) and returns its path.
pub fn build_release(workspace: &Path) -> anyhow::Result<PathBuf> {
    eprintln!("building the server: cargo build --release -p steelyard");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "steelyard"])
        .current_dir(workspace)
        .status()
        .context("cannot run cargo")?;
    anyhow::ensure!(status.success(), "building the server failed");
    Ok(release_binary(workspace))
}

/// Where cargo puts the release binary: `$CARGO_TARGET_DIR/release/steelyard` or the
/// workspace's `target/`.
pub fn release_binary(workspace: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    target.join("release").join("steelyard")
}

/// Raises this process's open-files soft limit to the hard limit (children inherit it) and
/// returns the new limit.
pub fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(_) => 1024,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_time_and_memory_of_this_process() {
        let me = std::process::id();
        let busy_until = Instant::now() + Duration::from_millis(50);
        while Instant::now() < busy_until {}
        assert!(cpu_time(me).unwrap() > Duration::ZERO);
        assert!(resident_bytes(me).unwrap() > 1024 * 1024);
    }
}
