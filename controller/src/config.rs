//! Flags. Bitnami's set under upstream's names, each also readable from
//! `SEALED_SECRETS_<FLAG>` like upstream's `flagenv`, plus gitseal's own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser, ValueEnum};
use time::OffsetDateTime;

/// Which key counts as the newest: the one new Secrets are sealed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyOrderPriority {
    #[value(name = "CertNotBefore")]
    CertNotBefore,
    #[value(name = "SecretCreationTimestamp")]
    SecretCreationTimestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn go_duration(s: &str) -> Result<Duration, String> {
    let d = gitseal_core::duration::parse_go_duration(s)?;
    Ok(d.unsigned_abs())
}

fn rfc1123z(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc2822)
        .map_err(|e| format!("invalid time {s:?} ({e}): use RFC 1123 with a numeric zone, as `date -R` prints"))
}

fn key_size(s: &str) -> Result<usize, String> {
    match s.parse() {
        Ok(n @ (2048 | 3072 | 4096 | 8192)) => Ok(n),
        _ => Err(format!("invalid key size {s:?}: use 2048, 3072, 4096 or 8192")),
    }
}

fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    // Go's ":8080" means every interface.
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    full.parse().map_err(|e| format!("invalid listen address {s:?}: {e}"))
}

/// `k=v,k2=v2`, as upstream's `--privatekey-labels`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValues(pub Vec<(String, String)>);

fn key_values(s: &str) -> Result<KeyValues, String> {
    s.split(',')
        .filter(|kv| !kv.trim().is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
            _ => Err(format!("invalid {kv:?}: expected key=value pairs separated by commas")),
        })
        .collect::<Result<_, _>>()
        .map(KeyValues)
}

fn key_prefix(s: &str) -> Result<String, String> {
    if s.is_empty()
        || s.len() > 245
        || !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "invalid key prefix {s:?}: use 1 to 245 characters from [a-z0-9-]"
        ));
    }
    Ok(s.to_string())
}

// Boolean flags take Go's forms: `--flag`, `--flag=true`, `--flag=false`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "gitseal-controller",
    version,
    about = "Unseals SealedSecrets into Secrets, owns and renews the sealing keys, serves the certificate.",
    long_about = "Unseals SealedSecrets (bitnami.com/v1alpha1) into Secrets, owns and renews the sealing keys, \
and serves the certificate and the verify/rotate API. A drop-in replacement for the Bitnami Sealed Secrets \
controller: every flag can also be set as SEALED_SECRETS_<FLAG> (for example SEALED_SECRETS_KEY_RENEW_PERIOD)."
)]
pub struct Flags {
    // ---- keys -------------------------------------------------------------
    /// Prefix of the key Secrets' generateName, and the name of the legacy single key Secret.
    #[arg(long, env = "SEALED_SECRETS_KEY_PREFIX", default_value = "sealed-secrets-key", value_parser = key_prefix)]
    pub key_prefix: String,
    /// RSA key size in bits for generated keys.
    #[arg(long, env = "SEALED_SECRETS_KEY_SIZE", default_value_t = 4096, value_parser = key_size)]
    pub key_size: usize,
    /// Validity of generated certificates (Go duration).
    #[arg(long, env = "SEALED_SECRETS_KEY_TTL", default_value = "87600h", value_parser = go_duration)]
    pub key_ttl: Duration,
    /// Common name of generated certificates (empty gives an empty subject, as upstream).
    #[arg(long, env = "SEALED_SECRETS_MY_CN", default_value = "")]
    pub my_cn: String,
    /// Generate a new key this often (Go duration); 0 turns automatic renewal off. Only the leader renews.
    #[arg(long, visible_alias = "rotate-period", env = "SEALED_SECRETS_KEY_RENEW_PERIOD", default_value = "720h", value_parser = go_duration)]
    pub key_renew_period: Duration,
    /// Which key is the newest, used for sealing and rotation.
    #[arg(
        long,
        env = "SEALED_SECRETS_KEY_ORDER_PRIORITY",
        value_enum,
        default_value = "CertNotBefore"
    )]
    pub key_order_priority: KeyOrderPriority,
    /// Generate a key at start-up if the newest is older than this time (RFC 1123Z, as `date -R` prints).
    #[arg(long, env = "SEALED_SECRETS_KEY_CUTOFF_TIME", value_parser = rfc1123z)]
    pub key_cutoff_time: Option<OffsetDateTime>,
    /// Labels for generated key Secrets (k=v,k2=v2); cannot override the key label.
    #[arg(long, env = "SEALED_SECRETS_PRIVATEKEY_LABELS", default_value = "", value_parser = key_values)]
    pub privatekey_labels: KeyValues,
    /// Annotations for generated key Secrets (k=v,k2=v2).
    #[arg(long, env = "SEALED_SECRETS_PRIVATEKEY_ANNOTATIONS", default_value = "", value_parser = key_values)]
    pub privatekey_annotations: KeyValues,
    /// Accepted for compatibility: key Secrets are always watched (added, changed and deleted keys apply at once).
    #[arg(long, env = "SEALED_SECRETS_WATCH_FOR_SECRETS", action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub watch_for_secrets: bool,

    // ---- what to watch ----------------------------------------------------
    /// Watch SealedSecrets in every namespace; false watches only the controller's own.
    #[arg(long, env = "SEALED_SECRETS_ALL_NAMESPACES", action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub all_namespaces: bool,
    /// Watch the controller's own namespace plus these (comma-separated).
    #[arg(long, env = "SEALED_SECRETS_ADDITIONAL_NAMESPACES", value_delimiter = ',')]
    pub additional_namespaces: Vec<String>,
    /// Watch exactly these namespaces (comma-separated). Overrides --all-namespaces and --additional-namespaces.
    #[arg(long, env = "SEALED_SECRETS_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Only handle SealedSecrets (and watch Secrets) matching this label selector.
    #[arg(long, env = "SEALED_SECRETS_LABEL_SELECTOR")]
    pub label_selector: Option<String>,

    // ---- reconcile --------------------------------------------------------
    /// Write the Synced condition and observedGeneration to SealedSecret status.
    #[arg(long, env = "SEALED_SECRETS_UPDATE_STATUS", action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub update_status: bool,
    /// Don't watch Secrets: deleted or edited Secrets are not restored (needs fewer permissions).
    #[arg(long, env = "SEALED_SECRETS_SKIP_RECREATE", action = ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub skip_recreate: bool,
    /// Accept the deprecated v1 `spec.data` field.
    #[arg(long, env = "SEALED_SECRETS_ACCEPT_DEPRECATED_V1_DATA", action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub accept_deprecated_v1_data: bool,
    /// Delete the Secret explicitly when its SealedSecret is deleted (instead of relying on garbage collection).
    #[arg(long, env = "SEALED_SECRETS_OLD_GC_BEHAVIOR", action = ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub old_gc_behavior: bool,
    /// Accepted for compatibility and ignored: gitseal retries forever with exponential backoff.
    #[arg(long, env = "SEALED_SECRETS_MAX_UNSEAL_RETRIES", default_value_t = 5)]
    pub max_unseal_retries: u32,
    /// Decryptions run at once (default: the number of CPUs). Four times as
    /// many SealedSecrets are reconciled at once, so API calls overlap decryption.
    #[arg(long, env = "SEALED_SECRETS_CONCURRENCY")]
    pub concurrency: Option<u16>,
    /// Kubernetes client queries per second.
    #[arg(long, env = "SEALED_SECRETS_KUBECLIENT_QPS", default_value_t = 50.0)]
    pub kubeclient_qps: f64,
    /// Kubernetes client burst.
    #[arg(long, env = "SEALED_SECRETS_KUBECLIENT_BURST", default_value_t = 100)]
    pub kubeclient_burst: u32,

    // ---- HTTP -------------------------------------------------------------
    /// Address of the API (/v1/cert.pem, /v1/verify, /v1/rotate, /healthz, /readyz).
    #[arg(long, env = "SEALED_SECRETS_LISTEN_ADDR", default_value = ":8080", value_parser = listen_addr)]
    pub listen_addr: SocketAddr,
    /// Address of /metrics.
    #[arg(long, env = "SEALED_SECRETS_LISTEN_METRICS_ADDR", default_value = ":8081", value_parser = listen_addr)]
    pub listen_metrics_addr: SocketAddr,
    /// Requests per second allowed to /v1/verify and /v1/rotate, per client.
    #[arg(long, env = "SEALED_SECRETS_RATE_LIMIT", default_value_t = 2.0)]
    pub rate_limit: f64,
    /// Burst allowed to /v1/verify and /v1/rotate, per client.
    #[arg(long, env = "SEALED_SECRETS_RATE_LIMIT_BURST", default_value_t = 2)]
    pub rate_limit_burst: u32,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "SEALED_SECRETS_MAX_REQUEST_BYTES", default_value_t = 2 << 20)]
    pub max_request_bytes: usize,
    /// Time allowed to read a request (Go duration).
    #[arg(long, env = "SEALED_SECRETS_READ_TIMEOUT", default_value = "2m", value_parser = go_duration)]
    pub read_timeout: Duration,
    /// Time allowed to handle a request and write the response (Go duration).
    #[arg(long, env = "SEALED_SECRETS_WRITE_TIMEOUT", default_value = "2m", value_parser = go_duration)]
    pub write_timeout: Duration,

    // ---- high availability ------------------------------------------------
    /// Elect a leader through a coordination.k8s.io Lease; only the leader reconciles and renews keys.
    #[arg(long, env = "SEALED_SECRETS_LEADER_ELECT", action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub leader_elect: bool,
    /// Name of the Lease, in the controller's namespace.
    #[arg(
        long,
        env = "SEALED_SECRETS_LEADER_ELECT_LEASE_NAME",
        default_value = "gitseal-controller"
    )]
    pub leader_elect_lease_name: String,
    /// How long a leader's lease lasts without renewal; another replica takes over after it.
    #[arg(long, env = "SEALED_SECRETS_LEADER_ELECT_LEASE_DURATION", default_value = "15s", value_parser = go_duration)]
    pub leader_elect_lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down.
    #[arg(long, env = "SEALED_SECRETS_LEADER_ELECT_RENEW_DEADLINE", default_value = "10s", value_parser = go_duration)]
    pub leader_elect_renew_deadline: Duration,
    /// How often to try to acquire or renew the lease.
    #[arg(long, env = "SEALED_SECRETS_LEADER_ELECT_RETRY_PERIOD", default_value = "2s", value_parser = go_duration)]
    pub leader_elect_retry_period: Duration,

    // ---- logs -------------------------------------------------------------
    /// Log level: DEBUG, INFO, WARN or ERROR (or a tracing filter such as gitseal_controller=debug).
    #[arg(long, env = "SEALED_SECRETS_LOG_LEVEL", default_value = "INFO")]
    pub log_level: String,
    /// Log format.
    #[arg(
        long,
        env = "SEALED_SECRETS_LOG_FORMAT",
        value_enum,
        default_value = "text",
        ignore_case = true
    )]
    pub log_format: LogFormat,
    /// INFO and DEBUG to stdout, WARN and ERROR to stderr; false sends everything to stderr.
    #[arg(long, env = "SEALED_SECRETS_LOG_INFO_STDOUT", action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub log_info_stdout: bool,

    // ---- cluster access ---------------------------------------------------
    /// Kubeconfig to use out of cluster (default: in-cluster config, else $KUBECONFIG or ~/.kube/config).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The controller's namespace (default: $POD_NAMESPACE, else the service-account namespace file, else the kubeconfig's).
    #[arg(long = "namespace", env = "POD_NAMESPACE")]
    pub own_namespace: Option<String>,
    /// This replica's identity in the Lease (default: $POD_NAME, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
}

impl Flags {
    /// Which namespaces to watch: `None` means all.
    pub fn watched_namespaces(&self, own: &str) -> Option<Vec<String>> {
        let clean = |v: &[String]| -> Vec<String> {
            let mut out: Vec<String> = v
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            out.sort();
            out.dedup();
            out
        };
        let exact = clean(&self.namespaces);
        if !exact.is_empty() {
            return Some(exact);
        }
        let extra = clean(&self.additional_namespaces);
        if !extra.is_empty() {
            let mut all = extra;
            all.push(own.to_string());
            return Some(clean(&all));
        }
        if self.all_namespaces {
            None
        } else {
            Some(vec![own.to_string()])
        }
    }

    pub fn concurrency(&self) -> usize {
        match self.concurrency {
            Some(n) if n > 0 => n as usize,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Flags {
        let mut all = vec!["gitseal-controller"];
        all.extend_from_slice(args);
        Flags::try_parse_from(all).unwrap()
    }

    #[test]
    fn defaults_match_upstream() {
        let f = parse(&[]);
        assert_eq!(f.key_prefix, "sealed-secrets-key");
        assert_eq!(f.key_size, 4096);
        assert_eq!(f.key_ttl, Duration::from_secs(87600 * 3600));
        assert_eq!(f.key_renew_period, Duration::from_secs(720 * 3600));
        assert_eq!(f.listen_addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(f.listen_metrics_addr, "0.0.0.0:8081".parse().unwrap());
        assert!(f.update_status && f.all_namespaces && f.accept_deprecated_v1_data);
        assert_eq!((f.rate_limit, f.rate_limit_burst), (2.0, 2));
        assert_eq!(f.watched_namespaces("kube-system"), None);
    }

    #[test]
    fn go_style_flags() {
        let f = parse(&[
            "--rotate-period=0",
            "--all-namespaces=false",
            "--update-status",
            "false",
            "--key-cutoff-time",
            "Mon, 02 Jan 2006 15:04:05 -0700",
            "--privatekey-labels=team=a,env=prod",
        ]);
        assert_eq!(f.key_renew_period, Duration::ZERO);
        assert!(!f.all_namespaces && !f.update_status);
        assert_eq!(f.key_cutoff_time.unwrap().year(), 2006);
        assert_eq!(
            f.privatekey_labels.0,
            vec![("team".into(), "a".into()), ("env".into(), "prod".into())]
        );
        assert_eq!(f.watched_namespaces("gs"), Some(vec!["gs".to_string()]));
    }

    #[test]
    fn namespace_selection() {
        let f = parse(&["--additional-namespaces", "b,a,,a"]);
        assert_eq!(
            f.watched_namespaces("kube-system"),
            Some(vec!["a".into(), "b".into(), "kube-system".into()])
        );
        let f = parse(&["--namespaces", "x,y", "--additional-namespaces", "z"]);
        assert_eq!(f.watched_namespaces("kube-system"), Some(vec!["x".into(), "y".into()]));
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = |args: &[&str]| {
            let mut all = vec!["gitseal-controller"];
            all.extend_from_slice(args);
            Flags::try_parse_from(all).is_err()
        };
        assert!(bad(&["--key-prefix", "Bad_Prefix"]));
        assert!(bad(&["--key-size", "1024"]));
        assert!(bad(&["--key-renew-period", "30d"]));
        assert!(bad(&["--key-cutoff-time", "yesterday"]));
        assert!(bad(&["--privatekey-labels", "novalue"]));
    }

    #[test]
    fn help_documents_every_flag() {
        use clap::CommandFactory;
        let cmd = Flags::command();
        for arg in cmd.get_arguments() {
            if arg.get_id() == "help" || arg.get_id() == "version" {
                continue;
            }
            assert!(arg.get_help().is_some(), "--{} has no help text", arg.get_id());
        }
    }
}
