//! Command-line definition (clap derive). Completions and man pages are generated
//! from this same definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use gitseal_core::Scope;
use gitseal_core::manifest::Format;

#[derive(Debug, Parser)]
#[command(
    name = "gitseal",
    version,
    about = "Seal Kubernetes Secrets into SealedSecrets you can commit to Git",
    long_about = "gitseal encrypts Kubernetes Secrets into bitnami.com/v1alpha1 SealedSecrets with a \
                  cluster's public certificate. Its output is byte-compatible with kubeseal: the Sealed \
                  Secrets controller and gitseal-controller both unseal it.",
    propagate_version = true
)]
pub struct Cli {
    /// Path to the kubeconfig file (default: the files in $KUBECONFIG, else ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<String>,

    /// The kubeconfig context: its namespace is the default one, and its cluster is where
    /// the online commands reach the controller (default: current-context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seal Secret manifests into SealedSecrets.
    #[command(after_help = "Examples:\n  \
        gitseal seal --cert cert.pem -f secret.yaml -w sealed.yaml\n  \
        kubectl create secret generic db --from-literal=password=s3cret --dry-run=client -o yaml | gitseal seal --cert cert.pem\n  \
        printf %s s3cret | gitseal seal --raw --cert cert.pem --namespace team-a --name db\n  \
        gitseal seal --cert cert.pem --merge-into sealed.yaml -f extra-item.yaml")]
    Seal(SealArgs),
    /// Decrypt SealedSecrets offline with private keys (disaster recovery).
    Unseal(UnsealArgs),
    /// Check SealedSecrets: offline (fully with --key, structurally with --cert) or with the controller (--online).
    Validate(ValidateArgs),
    /// Print the controller's certificate, fetched through the API server (kubeseal --fetch-cert).
    #[command(after_help = "Examples:\n  \
        gitseal cert -o cert.pem\n  \
        gitseal cert --controller-name sealed-secrets --controller-namespace sealed-secrets")]
    Cert(CertArgs),
    /// Print the controller's age recipients, for sealing v2 items offline (--recipients-file).
    #[command(after_help = "Examples:\n  \
        gitseal recipients -o cluster.txt\n  \
        gitseal seal --recipients-file cluster.txt --recipients-file recovery.txt -f secret.yaml")]
    Recipients(CertArgs),
    /// Back up, restore and list the controller's keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Re-seal SealedSecrets to the controller's newest key, rewriting the files in place (kubeseal --re-encrypt).
    #[command(
        visible_alias = "re-encrypt",
        after_help = "Every SealedSecret of every file goes through the controller's /v1/rotate; the files \
                      are rewritten only if all of them succeed. Other documents are left as they are.\n\n\
                      Examples:\n  \
                      gitseal reencrypt deploy/*.sealed.yaml\n  \
                      gitseal reencrypt < old.yaml > new.yaml\n  \
                      gitseal reencrypt --all .\n  \
                      gitseal reencrypt --all clusters/ --key keys.yaml --identity recovery.txt"
    )]
    Reencrypt(ReencryptArgs),
    /// Find plaintext Secrets, PEM private keys and age secret keys before they are committed.
    #[command(after_help = "Reports each finding as FILE:LINE and exits 1 if there is any, so it \
                      works as a pre-commit hook (see .pre-commit-hooks.yaml). SealedSecrets are not \
                      reported. Directories are walked with .gitignore and .gitsealignore rules \
                      (gitignore syntax); a line containing `gitseal:ignore` is not reported.\n\n\
                      Examples:\n  \
                      gitseal scan\n  \
                      gitseal scan deploy/ charts/values-prod.yaml")]
    Scan(ScanArgs),
    /// Generate a controller key pair (bring-your-own-key setups).
    Keygen(KeygenArgs),
    /// Print the SealedSecret CustomResourceDefinition.
    Crd,
    /// Seal the bundled testdata Secrets with the demo certificate and unseal them back.
    Demo,
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages for gitseal and its subcommands.
    #[command(name = "man")]
    Man {
        /// Directory to write the pages into.
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Yaml,
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Yaml => Format::Yaml,
            FormatArg::Json => Format::Json,
        }
    }
}

/// The item format `gitseal seal` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemeArg {
    /// RSA-OAEP + AES-GCM to the controller's certificate: what kubeseal writes,
    /// opened by every Sealed Secrets controller.
    Bitnami,
    /// age, to any number of recipients (gitseal-controller only; docs/format.md).
    V2,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    Strict,
    NamespaceWide,
    ClusterWide,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Self {
        match s {
            ScopeArg::Strict => Scope::Strict,
            ScopeArg::NamespaceWide => Scope::NamespaceWide,
            ScopeArg::ClusterWide => Scope::ClusterWide,
        }
    }
}

/// Where the controller is: the Service the API server proxies to (as kubeseal).
#[derive(Debug, Clone, Args)]
pub struct ControllerArgs {
    /// Name of the controller's Service (Helm installs often name it "sealed-secrets").
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAME",
        default_value = "sealed-secrets-controller",
        value_name = "NAME"
    )]
    pub controller_name: String,

    /// Namespace of the controller's Service.
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAMESPACE",
        default_value = "kube-system",
        value_name = "NAMESPACE"
    )]
    pub controller_namespace: String,
}

/// Input and output shared by the commands that read manifests.
#[derive(Debug, Args)]
pub struct Io {
    /// Input files (YAML, multi-document YAML, or JSON). Default: standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Input file, as kubeseal's -f (may be repeated).
    #[arg(short = 'f', long = "secret-file", value_name = "FILE")]
    pub secret_file: Vec<PathBuf>,

    /// Output format.
    #[arg(short = 'o', long = "format", value_enum, value_name = "FORMAT", ignore_case = true)]
    pub format: Option<FormatArg>,

    /// Write the output to FILE, atomically and only on success.
    #[arg(short = 'w', long = "output", alias = "sealed-secret-file", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl Io {
    pub fn inputs(&self) -> Vec<PathBuf> {
        self.files.iter().chain(&self.secret_file).cloned().collect()
    }

    /// `-o`, else the output file's extension, else YAML.
    pub fn format(&self) -> Format {
        match (self.format, &self.output) {
            (Some(f), _) => f.into(),
            (None, Some(p)) if p.extension().is_some_and(|e| e == "json") => Format::Json,
            _ => Format::Yaml,
        }
    }
}

#[derive(Debug, Args)]
pub struct SealArgs {
    #[command(flatten)]
    pub io: Io,

    /// Certificate to seal to: a path, an http(s):// URL or a file:// URL. Without it,
    /// the controller's certificate is fetched through the API server. Repeat it for
    /// several clusters: that seals v2 items to the age recipient each certificate
    /// carries (gitseal-controller's do).
    #[arg(long, env = "GITSEAL_CERT", value_name = "CERT", hide_env_values = true)]
    pub cert: Vec<String>,

    #[command(flatten)]
    pub controller: ControllerArgs,

    /// Item format: bitnami (the default, what kubeseal writes) or v2 (age, to
    /// several recipients; needs gitseal-controller). --recipient implies v2.
    #[arg(long, value_enum)]
    pub scheme: Option<SchemeArg>,

    /// age recipient (age1…) to seal v2 items to; repeat for several, e.g. each
    /// cluster's and a recovery key. Without any, the controller's recipients are
    /// fetched through the API server.
    #[arg(long = "recipient", value_name = "AGE1…")]
    pub recipients: Vec<String>,

    /// File of age recipients, one per line (`#` comments allowed); repeatable.
    #[arg(long = "recipients-file", value_name = "FILE")]
    pub recipients_files: Vec<PathBuf>,

    /// Scope. Without it, the Secret's own scope annotations apply (strict if none).
    #[arg(long, value_enum)]
    pub scope: Option<ScopeArg>,

    /// Name of the Secret: overrides metadata.name; required for --raw with strict scope.
    #[arg(long)]
    pub name: Option<String>,

    /// Namespace (default: the kubeconfig context's, else "default").
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    /// Seal a Secret that has no data or stringData.
    #[arg(long)]
    pub allow_empty_data: bool,

    /// Seal to a certificate that has expired.
    #[arg(long)]
    pub allow_expired_cert: bool,

    /// Add or replace the input's items in this SealedSecret file, in place. Its
    /// format, name, namespace, scope and other items are kept.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["raw", "output", "name", "namespace", "scope", "format"])]
    pub merge_into: Option<PathBuf>,

    /// Seal a single value and print bare base64 (no trailing newline).
    #[arg(long)]
    pub raw: bool,

    /// With --raw: read the value from this file ([key=]path) instead of stdin.
    #[arg(long, value_name = "[KEY=]PATH", requires = "raw")]
    pub from_file: Option<String>,
}

#[derive(Debug, Args)]
pub struct UnsealArgs {
    #[command(flatten)]
    pub io: Io,

    /// Private keys: PEM files (PKCS#1 or PKCS#8), key Secrets, or a v1.List of
    /// them (`kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`).
    /// Key Secrets that hold an age identity (age.key) open v2 items too.
    #[arg(
        long = "key",
        alias = "recovery-private-key",
        value_name = "FILE",
        required_unless_present = "identities",
        value_delimiter = ','
    )]
    pub keys: Vec<PathBuf>,

    /// age identity file (AGE-SECRET-KEY-1…, as age-keygen writes) for v2 items:
    /// the break-glass recovery key. Repeatable.
    #[arg(long = "identity", short = 'i', value_name = "FILE")]
    pub identities: Vec<PathBuf>,

    /// Decrypt a single --raw value (base64 from the input) and print the plaintext.
    #[arg(long)]
    pub raw: bool,

    /// With --raw: the scope the value was sealed with.
    #[arg(long, value_enum, default_value = "strict", requires = "raw")]
    pub scope: ScopeArg,

    /// With --raw: the namespace the value was sealed for (default: the kubeconfig context's).
    #[arg(short = 'n', long, requires = "raw")]
    pub namespace: Option<String>,

    /// With --raw: the name the value was sealed for.
    #[arg(long, requires = "raw", default_value = "")]
    pub name: String,

    /// Accept SealedSecrets that use the deprecated spec.data field.
    #[arg(long)]
    pub accept_deprecated_v1_data: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("material").required(true).multiple(true).args(["keys", "identities", "cert", "online"]))]
pub struct ValidateArgs {
    /// SealedSecret files. Default: standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Private keys: every item must decrypt (and every template render). Key
    /// Secrets with an age.key open v2 items too.
    #[arg(long = "key", value_name = "FILE", value_delimiter = ',')]
    pub keys: Vec<PathBuf>,

    /// age identity files for v2 items (with --key, or alone for v2-only files).
    #[arg(long = "identity", short = 'i', value_name = "FILE", conflicts_with = "online")]
    pub identities: Vec<PathBuf>,

    /// The controller's certificate: structure only (base64, key length, scope annotations, names).
    #[arg(long, env = "GITSEAL_CERT", value_name = "CERT", hide_env_values = true)]
    pub cert: Option<String>,

    /// Ask the controller (its /v1/verify, through the API server) whether each
    /// SealedSecret decrypts. --cert is not used then.
    #[arg(long, conflicts_with = "keys")]
    pub online: bool,

    #[command(flatten)]
    pub controller: ControllerArgs,

    /// Accept SealedSecrets that use the deprecated spec.data field.
    #[arg(long)]
    pub accept_deprecated_v1_data: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan. Default: the current directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CertArgs {
    /// Write to FILE (atomically) instead of standard output.
    #[arg(short = 'o', long = "output", short_alias = 'w', value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub controller: ControllerArgs,
}

#[derive(Debug, Args)]
pub struct ReencryptArgs {
    /// SealedSecret files to rewrite in place. `-` or none: standard input to standard output.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Every SealedSecret in the YAML and JSON files under DIR (.gitignore is
    /// honoured), item by item: items already sealed to their target stay
    /// byte-identical. Targets come from .gitseal.yaml or the flags below.
    #[arg(long, value_name = "DIR", conflicts_with = "files")]
    pub all: Option<PathBuf>,

    /// With --all, offline: private keys (key Secrets' age.key included) that
    /// open the items. Without --key, Bitnami items go through the controller.
    #[arg(long = "key", value_name = "FILE", value_delimiter = ',', requires = "all")]
    pub keys: Vec<PathBuf>,

    /// With --all: age identity files that open v2 items being moved.
    #[arg(long = "identity", short = 'i', value_name = "FILE", requires = "all")]
    pub identities: Vec<PathBuf>,

    /// With --all --key: the certificate Bitnami items move to (default: the
    /// .gitseal.yaml rule's cert).
    #[arg(long, value_name = "CERT", requires = "keys")]
    pub cert: Option<String>,

    /// With --all: the recipients v2 items move to (default: the rule's).
    #[arg(long = "recipient", value_name = "AGE1…", requires = "all")]
    pub recipients: Vec<String>,

    /// With --all: files of recipients v2 items move to.
    #[arg(long = "recipients-file", value_name = "FILE", requires = "all")]
    pub recipients_files: Vec<PathBuf>,

    /// With --all: `v2` also turns Bitnami items into v2 items (needs --key).
    /// Default: the rule's `scheme`.
    #[arg(long, value_enum, requires = "all")]
    pub scheme: Option<SchemeArg>,

    #[command(flatten)]
    pub controller: ControllerArgs,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Each key: fingerprint, age recipient, creation time, status, and how many SealedSecrets use it.
    List(KeysListArgs),
    /// Write every controller key into one file, age-encrypted to --to recipients.
    #[command(after_help = "Examples:\n  \
        gitseal keys backup --to age1… --to age1… -o keys-2026-11.age\n  \
        gitseal keys backup --to-file recovery.txt --key keys.yaml -o keys.age")]
    Backup(KeysBackupArgs),
    /// Decrypt a backup and create its key Secrets; existing ones are never overwritten.
    #[command(after_help = "Examples:\n  \
        gitseal keys restore keys-2026-11.age --identity recovery-key.txt\n  \
        gitseal keys restore keys.age -i key.txt --namespace sealed-secrets --dry-run")]
    Restore(KeysRestoreArgs),
}

#[derive(Debug, Args)]
pub struct KeySource {
    /// Read the keys from these files (key Secrets or a List of them, e.g. a
    /// decrypted backup) instead of the cluster.
    #[arg(long = "key", value_name = "FILE", value_delimiter = ',')]
    pub keys: Vec<PathBuf>,

    /// Namespace of the controller, where its key Secrets are.
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAMESPACE",
        default_value = "kube-system",
        value_name = "NAMESPACE"
    )]
    pub controller_namespace: String,

    /// The controller's --key-prefix: also the name of the legacy unlabelled key Secret.
    #[arg(long, default_value = "sealed-secrets-key", value_name = "PREFIX")]
    pub key_prefix: String,
}

#[derive(Debug, Args)]
pub struct KeysListArgs {
    #[command(flatten)]
    pub source: KeySource,
}

#[derive(Debug, Args)]
pub struct KeysBackupArgs {
    /// age recipient (age1…) the backup is encrypted to; repeat for several people.
    #[arg(long = "to", value_name = "AGE1…", required_unless_present = "to_files")]
    pub to: Vec<String>,

    /// File of age recipients, one per line; repeatable.
    #[arg(long = "to-file", value_name = "FILE")]
    pub to_files: Vec<PathBuf>,

    /// Write the backup to FILE (atomically, mode 0600) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub source: KeySource,
}

#[derive(Debug, Args)]
pub struct KeysRestoreArgs {
    /// The backup `gitseal keys backup` wrote.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// age identity file that opens the backup; repeatable.
    #[arg(long = "identity", short = 'i', value_name = "FILE", required = true)]
    pub identities: Vec<PathBuf>,

    /// Create the key Secrets in this namespace (default: the one each was backed up from).
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// Show what would be created, and check the backup opens, without writing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the PKCS#1 private key (PEM, mode 0600).
    #[arg(long, value_name = "FILE", default_value = "tls.key")]
    pub key_out: PathBuf,

    /// Where to write the self-signed certificate (PEM).
    #[arg(long, value_name = "FILE", default_value = "tls.crt")]
    pub cert_out: PathBuf,

    /// Also write the controller's key Secret (kubernetes.io/tls) as YAML.
    #[arg(long, value_name = "FILE")]
    pub secret_out: Option<PathBuf>,

    /// Namespace of the key Secret: the controller's namespace.
    #[arg(long, default_value = "kube-system")]
    pub secret_namespace: String,

    /// Name of the key Secret (default: sealed-secrets-key plus a random suffix).
    #[arg(long)]
    pub secret_name: Option<String>,

    /// RSA key size in bits.
    #[arg(long, default_value_t = 4096)]
    pub key_size: usize,

    /// Certificate CN (default: empty subject, like the controller).
    #[arg(long, default_value = "")]
    pub my_cn: String,

    /// Certificate validity, as a Go duration (e.g. 87600h).
    #[arg(long, default_value = "87600h")]
    pub key_ttl: String,

    /// Overwrite existing output files.
    #[arg(long)]
    pub force: bool,
}
