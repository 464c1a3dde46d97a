//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go does it:
//! acquire when the record is free or its holder stopped renewing for a lease
//! duration (judged by this replica's own clock, not the holder's timestamps),
//! renew every retry period, step down when renewal fails past the deadline,
//! and release on shutdown so a successor needn't wait.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tracing::{info, warn};

#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

pub struct Elector {
    api: Api<Lease>,
    cfg: LeaseConfig,
    /// The last record seen from another holder, and when this replica saw it change.
    observed: Option<(Option<String>, Option<MicroTime>, Instant)>,
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl Elector {
    pub fn new(client: kube::Client, namespace: &str, cfg: LeaseConfig) -> Self {
        Elector {
            api: Api::namespaced(client, namespace),
            cfg,
            observed: None,
        }
    }

    fn spec(&self, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.cfg.identity.clone()),
            lease_duration_seconds: Some(self.cfg.lease_duration.as_secs().max(1) as i32),
            acquire_time: Some(now()),
            renew_time: Some(now()),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    /// One attempt to acquire or renew. `Ok(true)` if this replica holds the lease.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.cfg.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.cfg.name.clone()),
                    ..Default::default()
                },
                spec: Some(self.spec(0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        if holder.as_deref() == Some(&self.cfg.identity) {
            let mut renewed = spec;
            renewed.renew_time = Some(now());
            renewed.lease_duration_seconds = Some(self.cfg.lease_duration.as_secs().max(1) as i32);
            lease.spec = Some(renewed);
        } else {
            let record = (holder.clone(), spec.renew_time.clone());
            let seen_at = match &self.observed {
                Some((h, r, at)) if (h, r) == (&record.0, &record.1) => *at,
                _ => {
                    self.observed = Some((record.0, record.1, Instant::now()));
                    Instant::now()
                }
            };
            let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(15).max(1) as u64);
            if holder.is_some() && seen_at.elapsed() < duration {
                return Ok(false);
            }
            lease.spec = Some(self.spec(spec.lease_transitions.unwrap_or(0) + 1));
        }
        // The resourceVersion in `lease` makes this a compare-and-swap.
        match self.api.replace(&self.cfg.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Runs forever, publishing leadership on `leader`.
    pub async fn run(mut self, leader: watch::Sender<bool>) {
        let mut last_renewal: Option<Instant> = None;
        loop {
            let was = *leader.borrow();
            let is = match self.try_acquire_or_renew().await {
                Ok(true) => {
                    last_renewal = Some(Instant::now());
                    true
                }
                Ok(false) => false,
                Err(e) => {
                    warn!(lease = self.cfg.name, error = %e, "lease request failed");
                    // Keep leading until the renew deadline passes without a renewal.
                    was && last_renewal.is_some_and(|t| t.elapsed() < self.cfg.renew_deadline)
                }
            };
            if is != was {
                if is {
                    info!(identity = self.cfg.identity, lease = self.cfg.name, "became the leader");
                } else {
                    warn!(
                        identity = self.cfg.identity,
                        lease = self.cfg.name,
                        "lost the leadership"
                    );
                }
                leader.send_replace(is);
            }
            tokio::time::sleep(self.cfg.retry_period).await;
        }
    }

    /// Gives the lease up if this replica holds it (on shutdown).
    pub async fn release(client: kube::Client, namespace: &str, cfg: &LeaseConfig) {
        let api: Api<Lease> = Api::namespaced(client, namespace);
        let Ok(Some(mut lease)) = api.get_opt(&cfg.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(&cfg.identity) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now());
        if api.replace(&cfg.name, &PostParams::default(), &lease).await.is_ok() {
            info!(lease = cfg.name, "released the lease");
        }
    }
}
