//! Scale benchmarks against the API emulator, with the release controller binary.
//!
//! `cargo bench -p gitseal-controller --bench scale` prints:
//! - **cold start**: 2,000 SealedSecrets × 4 items sealed across 12 RSA-4096 keys
//!   (mostly the newest): time until every Secret is written and RSA decrypts
//!   performed, against the bound items ÷ (raw aws-lc-rs decrypt rate × cores)
//!   measured in the same run (target ≤ 1.25×);
//! - **restart with nothing changed**: RSA decrypts (target 0) and time until
//!   every SealedSecret was reconciled (target ≤ 5 s);
//! - **memory**: peak RSS of the controller with 10,000 SealedSecrets, their
//!   Secrets and 10,000 unrelated Secrets (target ≤ 64 MiB).
//!
//! Set `GITSEAL_BENCH_QUICK=1` for a smaller run.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use gitseal_core::PrivateKey;
use gitseal_core::keys::{GeneratedKey, KeyGenParams, generate, key_secret};
use gitseal_core::seal::{InputSecret, SealOptions, seal};
use kube_emulator::Emulator;
use serde_json::json;
use support::*;

fn quick() -> bool {
    std::env::var_os("GITSEAL_BENCH_QUICK").is_some()
}

/// Decrypts per second, in all, with `threads` threads decrypting at once: on
/// shared or virtual CPUs two threads reach less than twice the one-thread rate.
fn decrypt_rate(key: &PrivateKey, threads: usize) -> f64 {
    let ct = gitseal_core::hybrid::encrypt(key.public_key(), b"label", b"value").unwrap();
    let n = 200 / threads;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..n {
                    gitseal_core::hybrid::decrypt([key], b"label", &ct).unwrap();
                }
            });
        }
    });
    (n * threads) as f64 / start.elapsed().as_secs_f64()
}

async fn keys(n: usize) -> Vec<GeneratedKey> {
    let now = time::OffsetDateTime::now_utc();
    let mut handles = Vec::new();
    for i in 0..n {
        let params = KeyGenParams {
            bits: 4096,
            common_name: String::new(),
            not_before: now - time::Duration::days((n - i) as i64 * 30),
            validity: time::Duration::days(3650),
        };
        handles.push(tokio::task::spawn_blocking(move || generate(&params).unwrap()));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out // oldest first
}

/// A SealedSecret as `gitseal seal` writes it. `recorded: false` drops the
/// `gitseal.dev/sealed-to` annotation, which leaves it as kubeseal writes it.
fn sealed_with(key: &PrivateKey, ns: &str, name: &str, items: usize, recorded: bool) -> serde_json::Value {
    let data: serde_json::Map<String, serde_json::Value> = (0..items)
        .map(|i| (format!("item{i}"), json!(format!("value-{name}-{i}"))))
        .collect();
    let input = InputSecret::from_value(
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "stringData": data}),
    )
    .unwrap();
    let mut sealed = seal(input, key.public_key(), &SealOptions::default()).unwrap();
    if !recorded {
        sealed.metadata.annotations = None;
    }
    serde_json::to_value(sealed).unwrap()
}

async fn metric_value(c: &Controller, name: &str) -> f64 {
    let (_, body) = http("GET", &format!("http://{}/metrics", c.metrics), None).await;
    metric(&body, name, &[]).unwrap_or(0.0)
}

/// User + system CPU seconds process `pid` has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0 // USER_HZ is 100 on Linux
}

fn peak_rss_mib(c: &Controller) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

const FAST: &[&str] = &["--kubeclient-qps", "0", "--key-renew-period", "0"];

async fn cold_and_restart() {
    let (count, items, nkeys) = if quick() { (200, 4, 12) } else { (2000, 4, 12) };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("generating {nkeys} RSA-4096 keys…");
    let generated = keys(nkeys).await;
    let rate = decrypt_rate(&generated[nkeys - 1].private_key, 1);
    let parallel_rate = decrypt_rate(&generated[nkeys - 1].private_key, cores);
    let bound = (count * items) as f64 / (rate * cores as f64);
    println!();
    println!("cold start: {count} SealedSecrets × {items} items, {nkeys} RSA-4096 keys, {cores} cores");
    println!("  raw aws-lc-rs RSA-4096 decrypt: {rate:.0}/s per core → bound {bound:.2} s");
    println!(
        "  ({cores} threads at once decrypt {parallel_rate:.0}/s in all, {:.0}% of {cores}× one thread)",
        100.0 * parallel_rate / (rate * cores as f64),
    );
    for recorded in [false, true] {
        let emu = cold_start(&generated, count, items, bound, parallel_rate, recorded).await;
        if recorded {
            restart(&emu, count).await;
        }
    }
}

/// One cold start into a fresh emulator, which it returns for a restart.
async fn cold_start(
    generated: &[GeneratedKey],
    count: usize,
    items: usize,
    bound: f64,
    parallel_rate: f64,
    recorded: bool,
) -> Emulator {
    let nkeys = generated.len();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let emu = emulator().await;
    for (i, k) in generated.iter().enumerate() {
        let secret = key_secret(k, CONTROLLER_NS, &format!("sealed-secrets-key{i:02}"));
        emu.create(serde_json::to_value(secret).unwrap()).unwrap();
    }
    // 90% to the newest key, the rest spread over the eleven older ones.
    let key_for = |i: usize| {
        if !i.is_multiple_of(10) {
            nkeys - 1
        } else {
            (i / 10) % (nkeys - 1)
        }
    };
    for i in 0..count {
        let key = &generated[key_for(i)].private_key;
        emu.create(sealed_with(key, "app", &format!("ss{i:05}"), items, recorded))
            .unwrap();
    }
    let total_items = count * items;
    // Unrecorded, newest to oldest: an item sealed to the k-th newest key costs
    // k+1 tries when nothing says which key to try (the first item of each).
    let decrypts_needed: usize = if recorded {
        total_items
    } else {
        (0..count).map(|i| items + (nkeys - 1 - key_for(i))).sum()
    };

    let start = Instant::now();
    let emulator_cpu = cpu_seconds(std::process::id());
    let c = Controller::start(&emu, FAST);
    wait_for("every Secret", Duration::from_secs(600), async || {
        emu.count("v1", "secrets", Some("app")) >= count
    })
    .await;
    let cold = start.elapsed();
    let decrypts = metric_value(&c, "sealed_secrets_controller_rsa_decrypts_total").await;
    let cpu = cpu_seconds(c.child.id());
    let emulator_cpu = cpu_seconds(std::process::id()) - emulator_cpu;
    println!();
    if recorded {
        println!("  sealed by gitseal (each SealedSecret records the key it was sealed to):");
    } else {
        println!("  sealed by kubeseal (nothing records the key; the first item of each tries newest to oldest):");
    }
    println!(
        "    every Secret written after {:.2} s = {:.2}× the bound; {decrypts:.0} RSA decrypts for {total_items} items",
        cold.as_secs_f64(),
        cold.as_secs_f64() / bound
    );
    println!(
        "    ideal for the {decrypts_needed} decrypts needed at the measured parallel rate: {:.2} s",
        decrypts_needed as f64 / parallel_rate
    );
    println!(
        "    the controller used {cpu:.2} s of CPU: {:.2}× the bound's CPU ({:.2} s); the emulator (this process) used {emulator_cpu:.2} s of the same cores",
        cpu / (bound * cores as f64),
        bound * cores as f64
    );
    println!("    controller peak RSS {:.1} MiB", peak_rss_mib(&c));
    // Let statuses settle before a restart.
    wait_for("statuses", Duration::from_secs(120), async || {
        (0..count)
            .step_by(97)
            .all(|i| synced(&emu, "app", &format!("ss{i:05}")).is_some_and(|(s, _)| s == "True"))
    })
    .await;
    emu
}

async fn restart(emu: &Emulator, count: usize) {
    let start = Instant::now();
    let c = Controller::start(emu, FAST);
    wait_for("every SealedSecret reconciled", Duration::from_secs(120), async || {
        metric_value(&c, "sealed_secrets_controller_unseal_requests_total").await >= count as f64
    })
    .await;
    let elapsed = start.elapsed();
    let decrypts = metric_value(&c, "sealed_secrets_controller_rsa_decrypts_total").await;
    let all_synced = (0..count).all(|i| synced(emu, "app", &format!("ss{i:05}")).is_some_and(|(s, _)| s == "True"));
    println!();
    println!(
        "restart, nothing changed: {decrypts:.0} RSA decrypts; every SealedSecret reconciled {:.2} s after the process started; all Synced=True: {all_synced}",
        elapsed.as_secs_f64()
    );
}

async fn memory() {
    let n = if quick() { 1000 } else { 10_000 };
    let generated = keys(1).await;
    let key = &generated[0].private_key;
    let emu = emulator().await;
    emu.create(serde_json::to_value(key_secret(&generated[0], CONTROLLER_NS, "sealed-secrets-key00")).unwrap())
        .unwrap();
    for i in 0..n {
        emu.create(sealed_with(key, "app", &format!("ss{i:05}"), 2, true))
            .unwrap();
        emu.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("unrelated{i:05}"), "namespace": "other",
            "labels": {"team": "x"}, "annotations": {"note": "x".repeat(200)}}, "data": {"blob": "eHh4".repeat(100)}}))
            .unwrap();
    }
    let c = Controller::start(&emu, FAST);
    let t = wait_for("every Secret", Duration::from_secs(900), async || {
        emu.count("v1", "secrets", Some("app")) >= n
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!();
    println!("memory: {n} SealedSecrets (2 RSA-4096 items each), their {n} Secrets, {n} unrelated Secrets");
    println!(
        "  cold start (all decrypted in {:.1} s): controller peak RSS {:.1} MiB",
        t.as_secs_f64(),
        peak_rss_mib(&c)
    );
    drop(c);
    let c = Controller::start(&emu, FAST);
    wait_for("restart reconciled", Duration::from_secs(120), async || {
        metric_value(&c, "sealed_secrets_controller_unseal_requests_total").await >= n as f64
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!(
        "  after a restart (steady state): controller peak RSS {:.1} MiB",
        peak_rss_mib(&c)
    );
}

fn main() {
    // `cargo bench` passes --bench; a filter argument selects a part.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if filter
            .as_deref()
            .is_none_or(|f| "cold".contains(f) || "restart".contains(f))
        {
            cold_and_restart().await;
        }
        if filter.as_deref().is_none_or(|f| "memory".contains(f)) {
            memory().await;
        }
    });
}
