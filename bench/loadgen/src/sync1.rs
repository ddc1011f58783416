//! Single-sample clock sync, the baseline Crowdlight's min-RTT + drift filter is compared with:
//! each phone takes one `/t` exchange at a time and believes it, θ = t − (t1 + t4) / 2. The
//! phone clock here is the host clock itself (no drift, no quantisation), so the error of θ is
//! all path asymmetry and jitter — the figures flatter the baseline, not Crowdlight.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::client::Client;
use crate::net::{Kind, Sources};
use crate::stats::{now_us, summary};

/// The run's parameters.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Where `/t` is (usually an `impair` proxy in front of the relay).
    pub target: SocketAddr,
    /// Phones.
    pub phones: usize,
    /// Seconds to run.
    pub duration_s: f64,
    /// Samples before this many seconds are not counted.
    pub warmup_s: f64,
    /// Mean interval between a phone's samples, ms (±50 %).
    pub interval_ms: f64,
    /// Source addresses.
    pub sources: Sources,
}

#[derive(Default)]
struct Acc {
    err_ms: Vec<f64>,
    first_ms: Vec<f64>,
    rtt_ms: Vec<f64>,
    errors: u64,
}

/// Runs it; returns the figures as JSON.
pub async fn run(plan: Plan) -> anyhow::Result<Value> {
    let acc = Arc::new(Mutex::new(Acc::default()));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(plan.duration_s);
    let warm = start + Duration::from_secs_f64(plan.warmup_s);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..plan.phones {
        let (acc, plan) = (acc.clone(), plan.clone());
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(i as u64 * 31337 + 5);
            tokio::time::sleep(Duration::from_secs_f64(
                rng.random::<f64>() * plan.interval_ms / 1000.0,
            ))
            .await;
            let host = plan.target.to_string();
            let mut conn: Option<Client> = None;
            let mut first = true;
            loop {
                if !conn.as_ref().is_some_and(Client::is_reusable) {
                    match Client::connect(plan.target, plan.sources.for_client(i), Kind::Time).await
                    {
                        Ok(c) => conn = Some(c),
                        Err(_) => {
                            acc.lock().expect("acc").errors += 1;
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue;
                        }
                    }
                }
                let c = conn.as_mut().expect("connected");
                let t1 = now_us();
                let r = c
                    .get(Kind::Time, &host, "/t", &[], Duration::from_secs(3))
                    .await;
                let t4 = now_us();
                match r
                    .ok()
                    .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
                {
                    Some(v) if v.get("t").and_then(Value::as_f64).is_some() => {
                        let t = v["t"].as_f64().unwrap_or_default();
                        let theta = t - (t1 + t4) as f64 / 2.0;
                        if Instant::now() >= warm {
                            let mut a = acc.lock().expect("acc");
                            a.err_ms.push(theta.abs() / 1000.0);
                            a.rtt_ms.push((t4 - t1) as f64 / 1000.0);
                            if first {
                                a.first_ms.push(theta.abs() / 1000.0);
                                first = false;
                            }
                        }
                    }
                    _ => {
                        acc.lock().expect("acc").errors += 1;
                        conn = None;
                    }
                }
                let ms = plan.interval_ms * (0.5 + rng.random::<f64>());
                tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
            }
        });
    }
    tokio::time::sleep_until(end).await;
    tasks.abort_all();
    let a = std::mem::take(&mut *acc.lock().expect("acc"));
    Ok(json!({
        "phones": plan.phones,
        "abs_error_ms": summary(a.err_ms),
        "first_sample_abs_error_ms": summary(a.first_ms),
        "rtt_ms": summary(a.rtt_ms),
        "errors": a.errors,
    }))
}
