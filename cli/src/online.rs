//! The online modes' way to the controller, as kubeseal's: through the API
//! server's service proxy, `/api/v1/namespaces/<ns>/services/http:<name>:<port>/proxy/…`,
//! with kube-rs and the kubeconfig rules the rest of the CLI uses.
//!
//! Each online command starts a current-thread tokio runtime of its own; the
//! offline commands never start one.

use std::fmt;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use gitseal_core::Certificate;
use http::{Method, Request, StatusCode, header};
use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use kube::client::Body;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use crate::cli::ControllerArgs;
use crate::io::{self, Kube, usage};

/// How long one request (and its answer) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The most gitseal reads from one answer.
const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// How often a request the controller rate-limited (429) is retried, when it
/// asks to wait no longer than [`MAX_RETRY_AFTER`].
const RATE_LIMIT_RETRIES: u32 = 3;
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// No kubeconfig anywhere, and not running in a pod: nothing to connect with.
/// A usage error (exit status 2); `seal` words it as a missing `--cert`.
#[derive(Debug)]
pub struct NoClusterConfig;

impl fmt::Display for NoClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no kubeconfig found to reach the controller: pass --kubeconfig FILE or set $KUBECONFIG")
    }
}

impl std::error::Error for NoClusterConfig {}

/// An answer from the controller (through the proxy) that gitseal did not
/// already turn into an error: the caller interprets the status.
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
    retry_after: Option<Duration>,
}

impl Reply {
    /// The reason in the body, on one bounded line: a `metav1.Status` message
    /// (the API server's errors) or the first line of a plain-text body.
    pub fn message(&self) -> String {
        let from_status = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .filter(|v| v["kind"] == "Status")
            .and_then(|v| v["message"].as_str().map(str::to_string));
        let text = from_status.unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned());
        let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        let mut line: String = line.chars().take(300).collect();
        if line.is_empty() {
            line = self
                .status
                .canonical_reason()
                .unwrap_or("no reason given")
                .to_lowercase();
        }
        line
    }

    /// `HTTP 409: unable to …`
    pub fn describe(&self) -> String {
        format!("HTTP {}: {}", self.status.as_u16(), self.message())
    }
}

/// A connection to the API server itself, for the commands that read or write
/// objects (`gitseal keys`).
pub struct Cluster {
    // Dropped before the runtime it runs on.
    client: kube::Client,
    rt: tokio::runtime::Runtime,
    /// The API server, for messages (no credentials).
    server: String,
}

impl Cluster {
    pub fn connect(kube: Kube<'_>) -> Result<Cluster> {
        let kubeconfig = load_kubeconfig(kube)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the network runtime")?;
        let (client, server) = rt.block_on(async {
            let mut config = client_config(kubeconfig, kube).await?;
            // kube-rs would retry 429/503/504 for minutes; gitseal reports them instead.
            config.default_retry = false;
            let server = io::redact(&config.cluster_url.to_string());
            let client = kube::Client::try_from(config)
                .map_err(|e| anyhow!("cannot set up a client for the API server at {server}: {}", chain(&e)))?;
            Ok::<_, anyhow::Error>((client, server))
        })?;
        Ok(Cluster { client, rt, server })
    }

    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Runs one API call with the request timeout, naming `what` on failure.
    pub fn call<T>(&self, what: &str, fut: impl std::future::Future<Output = kube::Result<T>>) -> Result<T> {
        match self
            .rt
            .block_on(async { tokio::time::timeout(REQUEST_TIMEOUT, fut).await })
        {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(kube::Error::Api(status))) => {
                let msg = status.message.lines().next().unwrap_or("").trim().to_string();
                match status.code {
                    401 => bail!(
                        "cannot {what}: unauthorized: the API server at {} rejected the kubeconfig's credentials: {msg}",
                        self.server
                    ),
                    403 => bail!("cannot {what}: forbidden: {msg}"),
                    code => bail!("cannot {what}: HTTP {code}: {msg}"),
                }
            }
            Ok(Err(e)) => bail!(
                "cannot {what}: cannot reach the API server at {}: {}",
                self.server,
                chain(&e)
            ),
            Err(_) => bail!(
                "cannot {what}: no answer from the API server at {} within {}s",
                self.server,
                REQUEST_TIMEOUT.as_secs()
            ),
        }
    }
}

/// A connection to one controller Service.
pub struct Controller {
    // Dropped before the runtime it runs on.
    client: kube::Client,
    rt: tokio::runtime::Runtime,
    namespace: String,
    name: String,
    /// `/api/v1/namespaces/<ns>/services/http:<name>:<port>/proxy`
    proxy: String,
    /// The API server, for messages (no credentials).
    server: String,
}

impl Controller {
    /// Resolves the kubeconfig, then looks the Service up to learn the name of
    /// its first port, as kubeseal does (`""` for the static manifest, `http` for Helm).
    pub fn connect(kube: Kube<'_>, args: &ControllerArgs) -> Result<Controller> {
        check_name("--controller-name", &args.controller_name)?;
        check_name("--controller-namespace", &args.controller_namespace)?;
        let Cluster { client, rt, server } = Cluster::connect(kube)?;
        let (ns, name) = (args.controller_namespace.clone(), args.controller_name.clone());
        let port = rt.block_on(async {
            let api: Api<Service> = Api::namespaced(client.clone(), &ns);
            let svc = match tokio::time::timeout(REQUEST_TIMEOUT, api.get(&name)).await {
                Ok(Ok(svc)) => svc,
                Ok(Err(e)) => return Err(service_error(&e, &ns, &name, &server)),
                Err(_) => bail!(
                    "no answer from the API server at {server} within {}s (looking up service {ns}/{name})",
                    REQUEST_TIMEOUT.as_secs()
                ),
            };
            let port = svc
                .spec
                .and_then(|s| s.ports)
                .and_then(|p| p.into_iter().next())
                .ok_or_else(|| anyhow!("service {ns}/{name} has no ports: cannot reach the controller through it"))?
                .name
                .unwrap_or_default();
            Ok::<_, anyhow::Error>(port)
        })?;
        let proxy = format!("/api/v1/namespaces/{ns}/services/http:{name}:{port}/proxy");
        Ok(Controller {
            client,
            rt,
            namespace: ns,
            name,
            proxy,
            server,
        })
    }

    /// `service kube-system/sealed-secrets-controller`
    pub fn service(&self) -> String {
        format!("service {}/{}", self.namespace, self.name)
    }

    /// The controller's certificate: the PEM as served, and parsed.
    pub fn certificate(&self) -> Result<(Vec<u8>, Certificate)> {
        let reply = self.request(
            Method::GET,
            "/v1/cert.pem",
            "application/x-pem-file, */*",
            Vec::new(),
            "fetch the certificate",
        )?;
        if !reply.status.is_success() {
            bail!("cannot fetch certificate from {}: {}", self.service(), reply.describe());
        }
        let cert = Certificate::from_pem(&reply.body)
            .with_context(|| format!("the certificate from {}: not a usable certificate", self.service()))?;
        Ok((reply.body, cert))
    }

    /// The controller's age recipients (`/v1/recipients`), newest key first.
    pub fn recipients(&self) -> Result<Vec<gitseal_core::v2::Recipient>> {
        let reply = self.request_with(
            Method::GET,
            "/v1/recipients",
            "text/plain, */*",
            Vec::new(),
            "fetch the age recipients",
            true,
        )?;
        if reply.status == StatusCode::NOT_FOUND {
            bail!(
                "{} serves no age recipients (a Bitnami controller, or keys made before gitseal added them): \
                 pass --recipient or --recipients-file, or use --scheme bitnami",
                self.service()
            );
        }
        if !reply.status.is_success() {
            bail!(
                "cannot fetch the age recipients from {}: {}",
                self.service(),
                reply.describe()
            );
        }
        let text = String::from_utf8_lossy(&reply.body);
        gitseal_core::v2::parse_recipients(&text)
            .map_err(|(line, e)| anyhow!("the recipients from {}, line {line}: {e}", self.service()))
    }

    /// POSTs one SealedSecret (as JSON) to `/v1/verify` or `/v1/rotate`. Errors
    /// of the way there (API server, RBAC, proxy, rate limit) are errors; the
    /// controller's own answers are returned.
    pub fn post(&self, path: &str, json: Vec<u8>, what: &str) -> Result<Reply> {
        self.request(Method::POST, path, "application/json, */*", json, what)
    }

    fn request(&self, method: Method, path: &str, accept: &str, body: Vec<u8>, what: &str) -> Result<Reply> {
        self.request_with(method, path, accept, body, what, false)
    }

    /// [`Self::request`]; with `not_found_ok`, a 404 is returned to the caller
    /// (an endpoint an older or Bitnami controller lacks) instead of an error.
    fn request_with(
        &self,
        method: Method,
        path: &str,
        accept: &str,
        body: Vec<u8>,
        what: &str,
        not_found_ok: bool,
    ) -> Result<Reply> {
        let uri = format!("{}{path}", self.proxy);
        let mut retries = 0;
        loop {
            let mut req = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .header(header::ACCEPT, accept);
            if !body.is_empty() {
                req = req.header(header::CONTENT_TYPE, "application/json");
            }
            let req = req
                .body(Body::from(body.clone()))
                .map_err(|e| anyhow!("cannot {what}: bad request to {uri}: {e}"))?;
            let reply = self
                .rt
                .block_on(async { tokio::time::timeout(REQUEST_TIMEOUT, send(&self.client, req)).await })
                .map_err(|_| {
                    anyhow!(
                        "cannot {what}: no answer from {} through the API server at {} within {}s",
                        self.service(),
                        self.server,
                        REQUEST_TIMEOUT.as_secs()
                    )
                })?
                .map_err(|e| {
                    anyhow!(
                        "cannot {what}: cannot reach the API server at {} (for {}): {e}",
                        self.server,
                        self.service()
                    )
                })?;
            let svc = self.service();
            match reply.status {
                StatusCode::TOO_MANY_REQUESTS => {
                    let wait = reply.retry_after.unwrap_or(Duration::from_secs(1));
                    if retries < RATE_LIMIT_RETRIES && wait <= MAX_RETRY_AFTER {
                        retries += 1;
                        std::thread::sleep(wait);
                        continue;
                    }
                    bail!(
                        "cannot {what}: rate-limited by the controller behind {svc} (HTTP 429 Too Many Requests, \
                         retry after {}s); try again later or raise the controller's --rate-limit",
                        wait.as_secs()
                    );
                }
                StatusCode::UNAUTHORIZED => bail!(
                    "cannot {what}: unauthorized: the API server at {} rejected the kubeconfig's credentials: {}",
                    self.server,
                    reply.message()
                ),
                StatusCode::FORBIDDEN => bail!(
                    "cannot {what}: forbidden to use the proxy of {svc} (RBAC needs get and create on services/proxy): {}",
                    reply.message()
                ),
                StatusCode::NOT_FOUND if not_found_ok => return Ok(reply),
                StatusCode::NOT_FOUND => bail!(
                    "cannot {what}: not found through the proxy of {svc} (is it a Sealed Secrets controller?): {}",
                    reply.message()
                ),
                StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => bail!(
                    "cannot {what}: the controller behind {svc} is unreachable ({})",
                    reply.describe()
                ),
                _ => return Ok(reply),
            }
        }
    }
}

async fn send(client: &kube::Client, req: Request<Body>) -> Result<Reply, String> {
    let resp = client.send(req).await.map_err(|e| chain(&e))?;
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    if resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_RESPONSE_BYTES)
    {
        return Err(format!("the answer is larger than {} MiB", MAX_RESPONSE_BYTES >> 20));
    }
    let body = resp.into_body().collect_bytes().await.map_err(|e| chain(&e))?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(format!("the answer is larger than {} MiB", MAX_RESPONSE_BYTES >> 20));
    }
    Ok(Reply {
        status,
        body: body.to_vec(),
        retry_after,
    })
}

/// Why the Service lookup failed, naming the Service.
fn service_error(e: &kube::Error, ns: &str, name: &str, server: &str) -> anyhow::Error {
    let kube::Error::Api(status) = e else {
        return anyhow!(
            "cannot reach the API server at {server} (looking up service {ns}/{name}): {}",
            chain(e)
        );
    };
    let msg = status.message.lines().next().unwrap_or("").trim();
    match status.code {
        404 => anyhow!(
            "service {ns}/{name} not found: is the controller installed under that name and namespace? \
             (set --controller-name and --controller-namespace; Helm installs often name it \"sealed-secrets\")"
        ),
        401 => anyhow!("unauthorized: the API server at {server} rejected the kubeconfig's credentials: {msg}"),
        403 => anyhow!("forbidden: cannot get service {ns}/{name}: {msg}"),
        code => anyhow!("cannot get service {ns}/{name}: HTTP {code}: {msg}"),
    }
}

/// An error and its sources on one line, without the repetition kube's and
/// hyper's wrapping adds.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out = format!("{out}: {text}");
        }
        source = s.source();
    }
    out.replace('\n', " ")
}

/// Service and namespace names are DNS labels; anything else can't name one
/// (and must not reach the URL path).
fn check_name(flag: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(usage(format!(
            "{flag} {value:?}: not a valid name (lowercase letters, digits and '-', at most 63)"
        )))
    }
}

/// The kubeconfig as [`io::default_namespace`] finds it: `--kubeconfig` (must be
/// readable), else the files in `$KUBECONFIG` (missing ones skipped, broken ones
/// skipped with a warning), else `~/.kube/config`.
fn load_kubeconfig(kube: Kube<'_>) -> Result<Option<Kubeconfig>> {
    if let Some(flag) = kube.kubeconfig {
        return Kubeconfig::read_from(flag)
            .map(Some)
            .map_err(|e| usage(format!("{flag}: cannot read kubeconfig: {}", kubeconfig_reason(&e))));
    }
    let files: Vec<std::path::PathBuf> = match std::env::var_os("KUBECONFIG") {
        Some(list) if !list.is_empty() => std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        _ => std::env::home_dir()
            .map(|h| h.join(".kube").join("config"))
            .into_iter()
            .collect(),
    };
    let mut merged: Option<Kubeconfig> = None;
    for f in files.iter().filter(|f| f.is_file()) {
        match Kubeconfig::read_from(f) {
            Ok(c) => {
                merged = Some(match merged {
                    None => c,
                    Some(m) => m
                        .merge(c)
                        .map_err(|e| usage(format!("{}: cannot merge kubeconfig: {e}", f.display())))?,
                });
            }
            Err(e) => io::warn_broken_kubeconfig(f, &kubeconfig_reason(&e)),
        }
    }
    Ok(merged)
}

fn kubeconfig_reason(e: &KubeconfigError) -> String {
    let text = match e {
        KubeconfigError::ReadConfig(io, _) => io.to_string(),
        other => chain(other),
    };
    text.lines().next().unwrap_or("").trim().to_string()
}

async fn client_config(kubeconfig: Option<Kubeconfig>, kube: Kube<'_>) -> Result<kube::Config> {
    let Some(kubeconfig) = kubeconfig else {
        // In a pod (a CI job, say) without a kubeconfig: its service account, as client-go does.
        if kube.context.is_none() && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
            return kube::Config::incluster()
                .map_err(|e| anyhow!("cannot use the pod's service account: {}", chain(&e)));
        }
        return Err(NoClusterConfig.into());
    };
    let opts = KubeConfigOptions {
        context: kube.context.map(str::to_string),
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &opts)
        .await
        .map_err(|e| match e {
            KubeconfigError::LoadContext(c) => usage(format!("context {c:?} not found in the kubeconfig")),
            KubeconfigError::CurrentContextNotSet => {
                usage("the kubeconfig sets no current-context: pass --context NAME")
            }
            KubeconfigError::LoadClusterOfContext(c) => {
                usage(format!("cluster {c:?} of the kubeconfig context not found"))
            }
            other => usage(format!("kubeconfig: {}", chain(&other))),
        })
}
