//! Wiring: client, key watch, leader election, controllers, HTTP servers, signals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::future::BoxFuture;
use kube::client::ClientBuilder;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::config::Flags;
use crate::http::{ApiState, metrics_router, router};
use crate::keywatch::{KeyStore, renewal_loop, watch_keys};
use crate::leader::{Elector, LeaseConfig};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::reconcile::{Shared, refresh_gauges, run_controller};

const SA_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Paces every API request to `--kubeclient-qps` / `--kubeclient-burst`.
#[derive(Clone)]
pub struct QpsLayer(Option<Arc<RateLimiter>>);

impl<S> tower::Layer<S> for QpsLayer {
    type Service = Qps<S>;
    fn layer(&self, inner: S) -> Qps<S> {
        Qps {
            inner,
            limiter: self.0.clone(),
        }
    }
}

pub struct Qps<S> {
    inner: S,
    limiter: Option<Arc<RateLimiter>>,
}

impl<S, R> tower::Service<R> for Qps<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let wait = self.limiter.as_ref().map(|l| l.reserve("client", Instant::now()));
        let fut = self.inner.call(req);
        Box::pin(async move {
            if let Some(wait) = wait.filter(|w| !w.is_zero()) {
                tokio::time::sleep(wait).await;
            }
            fut.await
        })
    }
}

/// `User-Agent` of the controller's API requests.
pub const USER_AGENT: &str = concat!("gitseal-controller/", env!("CARGO_PKG_VERSION"));

/// The kube client: in-cluster config, else `--kubeconfig`/`$KUBECONFIG`/~/.kube/config.
pub async fn client(flags: &Flags) -> anyhow::Result<(kube::Client, String)> {
    let config = match &flags.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    let mut config = config;
    // Names the controller in API server audit logs (and to the test emulator).
    config
        .headers
        .push((http::header::USER_AGENT, http::HeaderValue::from_static(USER_AGENT)));
    let default_ns = config.default_namespace.clone();
    let limiter = RateLimiter::new(flags.kubeclient_qps, flags.kubeclient_burst).map(Arc::new);
    let client = ClientBuilder::try_from(config)?.with_layer(&QpsLayer(limiter)).build();
    Ok((client, default_ns))
}

/// `POD_NAMESPACE`, else the service-account file, else the kubeconfig's namespace.
pub fn own_namespace(flags: &Flags, kubeconfig_default: &str) -> String {
    if let Some(ns) = flags.own_namespace.as_ref().filter(|s| !s.is_empty()) {
        return ns.clone();
    }
    if let Ok(ns) = std::fs::read_to_string(SA_NAMESPACE_FILE) {
        let ns = ns.trim();
        if !ns.is_empty() {
            return ns.to_string();
        }
    }
    kubeconfig_default.to_string()
}

fn identity(flags: &Flags) -> String {
    flags
        .pod_name
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("gitseal-controller-{}", std::process::id()))
}

async fn serve(listener: TcpListener, app: axum::Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

/// Runs the controller until SIGTERM/SIGINT.
pub async fn run(flags: Flags) -> anyhow::Result<()> {
    let flags = Arc::new(flags);
    let (client, kube_ns) = client(&flags).await?;
    let namespace = own_namespace(&flags, &kube_ns);
    let metrics = Metrics::new();
    let keys = Arc::new(KeyStore::default());
    info!(
        namespace,
        version = env!("CARGO_PKG_VERSION"),
        "starting gitseal-controller"
    );

    // HTTP first: every replica serves, leader or not.
    let api_listener = TcpListener::bind(flags.listen_addr)
        .await
        .with_context(|| format!("listening on {}", flags.listen_addr))?;
    let metrics_listener = TcpListener::bind(flags.listen_metrics_addr)
        .await
        .with_context(|| format!("listening on {}", flags.listen_metrics_addr))?;
    info!(api = %api_listener.local_addr()?, metrics = %metrics_listener.local_addr()?, "serving HTTP");
    let state = ApiState {
        keys: keys.clone(),
        metrics: metrics.clone(),
        limiter: RateLimiter::new(flags.rate_limit, flags.rate_limit_burst).map(Arc::new),
        accept_deprecated_v1_data: flags.accept_deprecated_v1_data,
    };
    let mut tasks = JoinSet::new();
    let app = router(
        state,
        flags.max_request_bytes,
        flags.read_timeout.max(flags.write_timeout),
    );
    tasks.spawn(async move { serve(api_listener, app).await.context("API server") });
    let metrics_app = metrics_router(metrics.clone());
    tasks.spawn(async move { serve(metrics_listener, metrics_app).await.context("metrics server") });

    tasks.spawn(
        watch_keys(
            client.clone(),
            namespace.clone(),
            flags.clone(),
            keys.clone(),
            metrics.clone(),
        )
        .then_ok(),
    );

    let shared = Shared::new(client.clone(), flags.clone(), keys.clone(), metrics.clone());
    {
        let shared = shared.clone();
        tasks.spawn(
            async move {
                loop {
                    refresh_gauges(&shared);
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
            }
            .then_ok(),
        );
    }

    // Leadership.
    let (leader_tx, mut leader_rx) = watch::channel(!flags.leader_elect);
    let lease = LeaseConfig {
        name: flags.leader_elect_lease_name.clone(),
        identity: identity(&flags),
        lease_duration: flags.leader_elect_lease_duration,
        renew_deadline: flags.leader_elect_renew_deadline,
        retry_period: flags.leader_elect_retry_period,
    };
    if flags.leader_elect {
        tasks.spawn(
            Elector::new(client.clone(), &namespace, lease.clone())
                .run(leader_tx)
                .then_ok(),
        );
    }

    // SIGUSR1 forces a new key (leader only).
    let force_key = Arc::new(Notify::new());
    #[cfg(unix)]
    {
        let force_key = force_key.clone();
        let leader_rx = leader_rx.clone();
        let mut usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
        tasks.spawn(
            async move {
                while usr1.recv().await.is_some() {
                    if *leader_rx.borrow() {
                        info!("SIGUSR1: generating a new key");
                        force_key.notify_one();
                    } else {
                        warn!("SIGUSR1 ignored: only the leader generates keys");
                    }
                }
            }
            .then_ok(),
        );
    }

    // The leader's work starts and stops with leadership.
    let namespaces = flags.watched_namespaces(&namespace);
    let leader_work = {
        let (client, namespace, flags, keys, shared) = (
            client.clone(),
            namespace.clone(),
            flags.clone(),
            keys.clone(),
            shared.clone(),
        );
        let metrics = metrics.clone();
        async move {
            let mut running: Option<JoinSet<()>> = None;
            loop {
                let is_leader = *leader_rx.borrow_and_update();
                metrics.is_leader.set(i64::from(is_leader));
                match (is_leader, running.is_some()) {
                    (true, false) => {
                        let mut work = JoinSet::new();
                        work.spawn(renewal_loop(
                            client.clone(),
                            namespace.clone(),
                            flags.clone(),
                            keys.clone(),
                            force_key.clone(),
                        ));
                        match &namespaces {
                            None => {
                                work.spawn(run_controller(shared.clone(), None));
                            }
                            // Every namespace starts at once: adding namespaces doesn't slow start-up.
                            Some(list) => {
                                for ns in list {
                                    work.spawn(run_controller(shared.clone(), Some(ns.clone())));
                                }
                            }
                        }
                        running = Some(work);
                    }
                    (false, true) => {
                        if let Some(mut work) = running.take() {
                            work.abort_all();
                            while work.join_next().await.is_some() {}
                        }
                        // The caches start from scratch under the next leadership.
                        shared.stores.lock().unwrap_or_else(|e| e.into_inner()).clear();
                    }
                    _ => {}
                }
                if leader_rx.changed().await.is_err() {
                    futures::future::pending::<()>().await;
                }
            }
        }
    };
    tasks.spawn(leader_work.then_ok());

    let shutdown = shutdown_signal();
    tokio::select! {
        _ = shutdown => info!("shutting down"),
        Some(done) = tasks.join_next() => {
            match done {
                Ok(Err(e)) => return Err(e),
                Ok(Ok(())) => anyhow::bail!("a controller task ended unexpectedly"),
                Err(e) => anyhow::bail!("a controller task failed: {e}"),
            }
        }
    }
    tasks.abort_all();
    if flags.leader_elect {
        Elector::release(client, &namespace, &lease).await;
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return futures::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

trait ThenOk: std::future::Future<Output = ()> + Sized {
    fn then_ok(self) -> impl std::future::Future<Output = anyhow::Result<()>> {
        async move {
            self.await;
            Ok(())
        }
    }
}

impl<F: std::future::Future<Output = ()>> ThenOk for F {}
