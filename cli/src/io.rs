//! Everything the CLI does with files, stdin, the network and the kubeconfig.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use gitseal_core::Certificate;
use gitseal_core::keys::{PrivateKey, parse_private_keys};
use gitseal_core::manifest::MAX_INPUT_BYTES;

/// An error in how gitseal was called (exit status 2), as opposed to bad data (1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// Where input came from, for error messages.
#[derive(Clone)]
pub struct Source {
    pub name: String,
    /// Plaintext manifests pass through here: wiped on drop.
    pub bytes: zeroize::Zeroizing<Vec<u8>>,
}

fn read_limited(mut r: impl Read, name: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("{name}: cannot read"))?;
    if buf.len() > MAX_INPUT_BYTES {
        bail!("{name}: input is larger than {} MiB", MAX_INPUT_BYTES >> 20);
    }
    Ok(buf)
}

pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?;
    read_limited(f, &name)
}

/// Reads the named files, or stdin when there are none.
pub fn read_inputs(paths: &[PathBuf]) -> Result<Vec<Source>> {
    if paths.is_empty() {
        return Ok(vec![read_stdin()?]);
    }
    if paths.iter().filter(|p| *p == Path::new("-")).count() > 1 {
        return Err(usage("stdin ('-') can be given only once"));
    }
    paths
        .iter()
        .map(|p| {
            if p == Path::new("-") {
                return read_stdin();
            }
            Ok(Source {
                name: p.display().to_string(),
                bytes: read_file(p)?.into(),
            })
        })
        .collect()
}

fn read_stdin() -> Result<Source> {
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        eprintln!("(tty detected: expecting json/yaml k8s resource in stdin)");
    }
    Ok(Source {
        name: "<stdin>".into(),
        bytes: read_limited(stdin.lock(), "<stdin>")?.into(),
    })
}

/// The one input `--raw` reads: a single file, or stdin.
pub fn read_single_input(paths: &[PathBuf]) -> Result<Source> {
    if paths.len() > 1 {
        return Err(usage("--raw takes one value; pass a single file or stdin"));
    }
    Ok(read_inputs(paths)?.remove(0))
}

/// Shows the name and size, never the (plaintext) bytes.
impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Writes `contents` to `path` atomically: a temporary file in the same
/// directory, renamed over the target only once everything is written.
pub fn write_atomic(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<()> {
    stage(path, contents, mode)?
        .persist(path)
        .map_err(|e| anyhow!("{}: cannot write: {}", path.display(), e.error))?;
    Ok(())
}

/// A fully written temporary file beside `path`, ready to be renamed over it.
/// Without `mode`, an existing file's permissions are kept (0644 for a new one).
fn stage(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<tempfile::NamedTempFile> {
    let name = path.display();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("{name}: cannot create a file in {}", dir.display()))?;
    tmp.write_all(contents)
        .with_context(|| format!("{name}: cannot write"))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("{name}: cannot write"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = match mode {
            Some(m) => m,
            None => std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or(0o644),
        };
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("{name}: cannot set permissions"))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(tmp)
}

/// Writes several files all-or-nothing as far as the filesystem allows: every
/// temporary file is written first, and if a rename fails the files already
/// renamed into place are removed again.
pub fn write_all_atomic(files: &[(&Path, &[u8], u32)], overwrite: bool) -> Result<()> {
    for (n, (a, ..)) in files.iter().enumerate() {
        if files[..n].iter().any(|(b, ..)| b == a) {
            return Err(usage(format!("{}: given for two outputs", a.display())));
        }
    }
    let mut staged = Vec::new();
    for (path, contents, mode) in files {
        staged.push((*path, path.exists(), stage(path, contents, Some(*mode))?));
    }
    let mut created: Vec<&Path> = Vec::new();
    for (path, existed, tmp) in staged {
        let persisted = if overwrite {
            tmp.persist(path).map(drop)
        } else {
            tmp.persist_noclobber(path).map(drop)
        };
        if let Err(e) = persisted {
            // Undo only what this call created; files it replaced (with --force) are gone.
            for p in created {
                let _ = std::fs::remove_file(p);
            }
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                return Err(usage(format!(
                    "{}: already exists; pass --force to overwrite it",
                    path.display()
                )));
            }
            bail!("{}: cannot write: {}", path.display(), e.error);
        }
        if !existed {
            created.push(path);
        }
    }
    Ok(())
}

/// Writes command output to `-w FILE` (atomically) or stdout.
pub fn emit(output: Option<&Path>, contents: &[u8], mode: Option<u32>) -> Result<()> {
    match output {
        Some(path) => write_atomic(path, contents, mode),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(contents).context("<stdout>")?;
            out.flush().context("<stdout>")?;
            Ok(())
        }
    }
}

/// Loads a certificate from a path, a `file://` URL or an `http(s)://` URL.
pub fn load_cert(spec: &str) -> Result<Certificate> {
    let bytes = if let Some(rest) = spec.strip_prefix("file://") {
        read_file(Path::new(rest))?
    } else if spec.starts_with("http://") || spec.starts_with("https://") {
        fetch(spec)?
    } else {
        read_file(Path::new(spec))?
    };
    let shown = if spec.contains("://") {
        redact(spec)
    } else {
        spec.to_string()
    };
    Certificate::from_pem(&bytes).with_context(|| format!("{shown}: not a usable certificate"))
}

/// The URL without userinfo or query, for messages.
pub fn redact(url: &str) -> String {
    if !url.contains("://") {
        return url.to_string();
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    format!("{scheme}://{host}/{path}")
}

fn fetch(url: &str) -> Result<Vec<u8>> {
    let shown = redact(url);
    if url.starts_with("http://") {
        eprintln!(
            "gitseal: warning: fetching the certificate over plain HTTP ({shown}); anyone on the path can swap it"
        );
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        // An https URL must not be downgraded by a redirect.
        .https_only(url.starts_with("https://"))
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .header("Accept", "application/x-pem-file, */*")
        .call()
        .map_err(|e| {
            anyhow!(
                "{shown}: cannot fetch certificate: {}",
                e.to_string().replace(url, &shown)
            )
        })?;
    resp.body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .map_err(|e| anyhow!("{shown}: cannot read certificate: {e}"))
}

/// Loads private keys from every file, in order.
pub fn load_keys(paths: &[PathBuf]) -> Result<Vec<PrivateKey>> {
    let mut keys = Vec::new();
    for p in paths {
        let bytes = zeroize::Zeroizing::new(read_file(p)?);
        keys.extend(parse_private_keys(&bytes).with_context(|| format!("{}", p.display()))?);
    }
    Ok(keys)
}

/// age identities for v2 items: identity files (`--identity`), and the `age.key`
/// of any key Secrets among `key_files`.
pub fn load_identities(identity_files: &[PathBuf], key_files: &[PathBuf]) -> Result<Vec<gitseal_core::v2::Identity>> {
    let mut ids = Vec::new();
    for p in identity_files {
        let bytes = zeroize::Zeroizing::new(read_file(p)?);
        ids.extend(gitseal_core::v2::Identity::parse_bytes(&bytes).with_context(|| format!("{}", p.display()))?);
    }
    for p in key_files {
        let bytes = zeroize::Zeroizing::new(read_file(p)?);
        ids.extend(gitseal_core::keys::parse_age_identities(&bytes).with_context(|| format!("{}", p.display()))?);
    }
    Ok(ids)
}

/// Where the default namespace comes from: `--kubeconfig`/`$KUBECONFIG` and `--context`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kube<'a> {
    pub kubeconfig: Option<&'a str>,
    pub context: Option<&'a str>,
}

/// The namespace of the chosen (else current) kubeconfig context, or `default`.
///
/// As kubectl: an explicit `--kubeconfig` must be readable and an explicit
/// `--context` must exist; files listed in `$KUBECONFIG` may be missing.
pub fn default_namespace(kube: Kube<'_>) -> Result<String> {
    Ok(kubeconfig_namespace(kube)?.unwrap_or_else(|| "default".to_string()))
}

fn kubeconfig_namespace(kube: Kube<'_>) -> Result<Option<String>> {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "kebab-case", default)]
    struct Config {
        current_context: Option<String>,
        contexts: Vec<NamedContext>,
    }
    #[derive(serde::Deserialize)]
    struct NamedContext {
        name: String,
        #[serde(default)]
        context: Context,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Context {
        namespace: Option<String>,
    }

    let mut configs: Vec<Config> = Vec::new();
    let mut read = |f: &Path, required: bool| -> Result<()> {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) if required => return Err(usage(format!("{}: cannot read kubeconfig: {e}", f.display()))),
            Err(_) => return Ok(()),
        };
        match serde_saphyr::from_str(&text) {
            Ok(c) => configs.push(c),
            Err(e) => {
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or("");
                if required {
                    return Err(usage(format!("{}: cannot read kubeconfig: {first}", f.display())));
                }
                warn_broken_kubeconfig(f, first);
            }
        }
        Ok(())
    };
    match (kube.kubeconfig, std::env::var_os("KUBECONFIG")) {
        (Some(flag), _) => read(Path::new(flag), true)?,
        (None, Some(list)) if !list.is_empty() => {
            for f in std::env::split_paths(&list) {
                read(&f, false)?;
            }
        }
        _ => {
            if let Some(home) = std::env::home_dir() {
                read(&home.join(".kube/config"), false)?;
            }
        }
    }
    // As kubectl merges them: the first file that sets a value wins.
    let current = match kube.context {
        Some(c) => c.to_string(),
        None => match configs.iter().find_map(|c| c.current_context.clone()) {
            Some(c) => c,
            None => return Ok(None),
        },
    };
    let Some(context) = configs.iter().flat_map(|c| &c.contexts).find(|c| c.name == current) else {
        if kube.context.is_some() {
            return Err(usage(format!("context {current:?} not found in the kubeconfig")));
        }
        return Ok(None);
    };
    Ok(context.context.namespace.clone().filter(|ns| !ns.is_empty()))
}

/// Warns, once per file and run, that a kubeconfig listed in `$KUBECONFIG` (or the
/// default one) is unreadable and skipped.
pub fn warn_broken_kubeconfig(file: &Path, reason: &str) {
    static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if !warned.iter().any(|w| w == file) {
        warned.push(file.to_path_buf());
        eprintln!(
            "gitseal: warning: {}: cannot read kubeconfig ({reason}); ignoring it",
            file.display()
        );
    }
}

/// The namespace `--raw` seals for or unseals with: the flag, else (when the scope
/// needs one) the kubeconfig default.
pub fn raw_namespace(flag: Option<&str>, scope: gitseal_core::Scope, kube: Kube<'_>) -> Result<String> {
    Ok(match flag {
        Some(ns) => ns.to_string(),
        None if scope.needs_namespace() => default_namespace(kube)?,
        None => String::new(),
    })
}

/// Parses a Go duration such as `87600h` (a usage error if it isn't one).
pub fn parse_go_duration(s: &str) -> Result<time::Duration> {
    gitseal_core::duration::parse_go_duration(s).map_err(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_in_messages() {
        assert_eq!(
            redact("https://user:tok@host:8443/v1/cert.pem?sig=abc"),
            "https://host:8443/v1/cert.pem"
        );
    }
}
