//! What the benchmarks in `tests/benches` share: their arguments, accounts
//! made untimed, the real worker binary, closed-loop load with latency
//! percentiles, and the raw references each run measures beside its figures.
//!
//! Every benchmark runs as a quick smoke test under `cargo test` (which
//! passes no `--bench` flag), so `cargo test --all-targets` keeps it working
//! without making CI slow.

use crate::TestApp;
use crate::app::WorkerProcess;
use futures_util::StreamExt;
use latchkey_core::SecretString;
use latchkey_core::password::PasswordHasher;
use std::future::Future;
use std::time::{Duration, Instant};

/// Accounts added to the directory at once while setting up.
const SETUP_CONCURRENCY: usize = 16;

/// A benchmark's command line: `[COUNT] [--NAME=VALUE]...` after `--`.
pub struct Args {
    benchmarking: bool,
    values: Vec<String>,
}

impl Args {
    /// The arguments this process was started with.
    pub fn from_env() -> Self {
        let values: Vec<String> = std::env::args().skip(1).collect();
        Self {
            benchmarking: values.iter().any(|value| value == "--bench"),
            values,
        }
    }

    /// Whether `cargo bench` started it; otherwise it is a smoke test.
    pub fn benchmarking(&self) -> bool {
        self.benchmarking
    }

    /// The first bare number given, else `bench` when benchmarking and
    /// `smoke` under `cargo test`.
    pub fn count(&self, bench: usize, smoke: usize) -> usize {
        self.values
            .iter()
            .find_map(|value| value.parse().ok())
            .unwrap_or(if self.benchmarking { bench } else { smoke })
    }

    /// The number given as `--name=N`, else `default`.
    pub fn option(&self, name: &str, default: usize) -> usize {
        let prefix = format!("--{name}=");
        self.values
            .iter()
            .find_map(|value| value.strip_prefix(&prefix))
            .map(|value| {
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("--{name}= takes a number, not {value:?}"))
            })
            .unwrap_or(default)
    }

    /// `bench_seconds` when benchmarking, a fraction of a second otherwise.
    pub fn span(&self, bench_seconds: u64) -> Duration {
        if self.benchmarking {
            Duration::from_secs(bench_seconds)
        } else {
            Duration::from_millis(300)
        }
    }
}

/// Adds Latchkey accounts `{prefix}0`, `{prefix}1`, ... (`count` of them)
/// that all sign in with `password` (hashed once), several at a time;
/// answers their uids in order.
pub async fn add_accounts(
    app: &TestApp,
    prefix: &str,
    count: usize,
    password: &str,
) -> Vec<String> {
    let hasher = PasswordHasher::new(app.settings.argon2).expect("argon2 settings");
    let hash = hasher.hash(&SecretString::from(password));
    let (dn, operator_password) = app.service();
    let url = app.slapd.url();
    let uids: Vec<String> = (0..count).map(|index| format!("{prefix}{index}")).collect();
    futures_util::stream::iter(&uids)
        .for_each_concurrent(SETUP_CONCURRENCY, |uid| {
            crate::ldap::add_account(&url, (&dn, &operator_password), uid, &hash)
        })
        .await;
    uids
}

/// The worker binary for this build profile. `cargo bench` builds only this
/// package, so a benchmark builds `latchkey-worker` in release itself;
/// under `cargo test` the binary `cargo build --bins` made is used.
pub fn ensure_worker_binary(args: &Args) {
    if !args.benchmarking() {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "--package", "latchkey-workers"])
        .args(["--bin", "latchkey-worker"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the release worker binary builds");
}

/// Jobs the worker process has finished with the outcome `done` (its
/// record then says `succeeded`), from its `/metrics`.
pub async fn jobs_done(http: &reqwest::Client, worker: &WorkerProcess) -> u64 {
    let Ok(response) = http
        .get(format!("{}/metrics", worker.health_address))
        .send()
        .await
    else {
        // Still starting: it has finished nothing yet.
        return 0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|line| {
            line.starts_with("latchkey_jobs_total{") && line.contains("outcome=\"done\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Which argon2id operation a raw reference repeats.
#[derive(Debug, Clone, Copy)]
pub enum Argon2Operation {
    /// Hashing a new password, as a worker does.
    Hash,
    /// Verifying a password against its hash, as a sign-in does.
    Verify,
}

/// Operations per second with `threads` threads repeating `operation`
/// back to back for `span`, with the parameters `hasher` was built with.
pub fn raw_argon2_rate(
    hasher: &PasswordHasher,
    operation: Argon2Operation,
    threads: usize,
    span: Duration,
) -> f64 {
    let password = SecretString::from("raw-argon2-reference");
    let stored = hasher.hash(&password);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (hasher, password, stored) = (hasher.clone(), password.clone(), stored.clone());
            std::thread::spawn(move || {
                let mut count = 0u64;
                while started.elapsed() < span {
                    match operation {
                        Argon2Operation::Hash => {
                            std::hint::black_box(hasher.hash(&password));
                        }
                        Argon2Operation::Verify => {
                            assert!(hasher.verify(&stored, &password));
                        }
                    }
                    count += 1;
                }
                count
            })
        })
        .collect();
    let total: u64 = handles
        .into_iter()
        .map(|handle| handle.join().expect("a hashing thread"))
        .sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// What a closed-loop run measured.
pub struct Load {
    /// Requests finished, per second of the run.
    pub per_second: f64,
    latencies: Vec<Duration>,
}

impl Load {
    /// The latency that `fraction` (0.5, 0.99) of the requests stayed under.
    pub fn percentile(&self, fraction: f64) -> Duration {
        let last = self.latencies.len().saturating_sub(1);
        let index = ((last as f64) * fraction).round() as usize;
        self.latencies.get(index).copied().unwrap_or_default()
    }

    /// One line of a report: the rate, p50 and p99.
    pub fn line(&self, what: &str) -> String {
        format!(
            "{what:<34} {:>9.1}/s   p50 {:>8.2?}   p99 {:>8.2?}   ({} requests)",
            self.per_second,
            self.percentile(0.5),
            self.percentile(0.99),
            self.latencies.len()
        )
    }
}

/// Runs `clients` clients for `span`, each sending its next request as soon
/// as the last one is answered; `request(client, sequence)` sends one.
pub async fn closed_loop<F, Fut>(clients: usize, span: Duration, request: F) -> Load
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let started = Instant::now();
    let loops: Vec<_> = (0..clients)
        .map(|client| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < span {
                    let sent = Instant::now();
                    request(client, latencies.len()).await;
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for client in loops {
        latencies.extend(client.await.expect("a client loop"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Load {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies,
    }
}
