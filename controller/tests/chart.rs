//! The Helm chart, rendered and linted with the real Helm library (PyPI
//! `helm-python-sdk`, Helm v4) through `charts/gitseal/ci/render.py`.
//!
//! Every rendered object must deserialize into its Kubernetes type with no field
//! lost (an unknown or misspelt field fails), and the tests assert the security
//! settings, the RBAC rules and the names `gitseal cert` relies on. The RBAC is
//! checked against every API call the controller makes
//! (`gitseal_controller::rbac::CALLS`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Probe, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Whether the Helm library is importable. CI installs it (`.ci/run`), so
/// there its absence is a failure; elsewhere the tests say so and skip.
fn helm_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import helm_python"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with helm-python-sdk is required in CI"
        );
        eprintln!("skipping: python3 -m pip install helm-python-sdk to run the chart tests");
    }
    ok
}

struct Rendered {
    /// Template path → rendered text, NOTES.txt excluded.
    manifests: BTreeMap<String, String>,
    lint: Value,
    schema_error: Option<String>,
    /// Every object, in template order.
    objects: Vec<Value>,
    notes: String,
}

fn render(values: Value, name: &str, namespace: &str) -> Rendered {
    let request = json!({
        "chart": repo("charts/gitseal"),
        "values": values,
        "name": name,
        "namespace": namespace,
    });
    let mut child = Command::new("python3")
        .arg(repo("charts/gitseal/ci/render.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    serde_json::to_writer(child.stdin.take().unwrap(), &request).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "render.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut objects = Vec::new();
    let mut notes = String::new();
    let mut manifests: BTreeMap<String, String> = serde_json::from_value(reply["manifests"].clone()).unwrap();
    if let Some(text) = manifests.remove("gitseal/templates/NOTES.txt") {
        notes = text;
    }
    for (path, text) in &manifests {
        for doc in gitseal_core::manifest::parse_documents(text).unwrap_or_else(|e| panic!("{path}: {e}")) {
            objects.push(doc.value);
        }
    }
    Rendered {
        manifests,
        lint: reply["lint"].clone(),
        schema_error: reply["schema_error"].as_str().map(str::to_string),
        objects,
        notes,
    }
}

/// Deserializes `v` into `T` and back: anything `T` doesn't know is lost, and fails.
fn strict<T: DeserializeOwned + serde::Serialize>(v: &Value) -> T {
    let typed: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
    let back = serde_json::to_value(&typed).unwrap();
    if let Some(path) = first_difference(v, &back, String::new()) {
        panic!(
            "{} {}: {path} is not a field of the type",
            v["kind"], v["metadata"]["name"]
        );
    }
    typed
}

/// The JSON path of the first value in `a` that `b` lacks or holds differently.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.iter().find_map(|(k, v)| match y.get(k) {
            Some(w) => first_difference(v, w, format!("{at}.{k}")),
            None => Some(format!("{at}.{k}")),
        }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, format!("{at}[{i}]"))),
        _ => (a != b).then_some(at),
    }
}

impl Rendered {
    fn assert_clean(&self) {
        assert_eq!(self.lint["errors"], json!([]), "helm lint --strict: {}", self.lint);
        assert!(self.schema_error.is_none(), "{:?}", self.schema_error);
        assert!(!self.objects.is_empty());
        for o in &self.objects {
            match o["kind"].as_str().unwrap_or_default() {
                "ServiceAccount" => drop(strict::<ServiceAccount>(o)),
                "ClusterRole" => drop(strict::<ClusterRole>(o)),
                "ClusterRoleBinding" => drop(strict::<ClusterRoleBinding>(o)),
                "Role" => drop(strict::<Role>(o)),
                "RoleBinding" => drop(strict::<RoleBinding>(o)),
                "Deployment" => drop(strict::<Deployment>(o)),
                "Service" => drop(strict::<Service>(o)),
                "NetworkPolicy" => drop(strict::<NetworkPolicy>(o)),
                "PodDisruptionBudget" => drop(strict::<PodDisruptionBudget>(o)),
                "ServiceMonitor" => assert_eq!(o["apiVersion"], "monitoring.coreos.com/v1"),
                other => panic!("unexpected kind {other}: {o}"),
            }
        }
    }

    fn all(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn one<T: DeserializeOwned + serde::Serialize>(&self, kind: &str, name: &str) -> T {
        let found: Vec<&Value> = self
            .all(kind)
            .into_iter()
            .filter(|o| o["metadata"]["name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "{kind} {name}: {found:?}");
        strict(found[0])
    }

    /// Asserts the default-named controller container gets each of `expected`.
    fn assert_args(&self, expected: &[&str]) {
        let args = self.container("sealed-secrets-controller").args.unwrap();
        for e in expected {
            assert!(args.iter().any(|a| a == e), "{e} in {args:?}");
        }
    }

    fn container(&self, deployment: &str) -> Container {
        let d: Deployment = self.one("Deployment", deployment);
        d.spec.unwrap().template.spec.unwrap().containers.remove(0)
    }
}

fn grants(rules: &[PolicyRule], group: &str, resource: &str, verb: &str) -> bool {
    rules.iter().any(|r| {
        r.api_groups.iter().flatten().any(|g| g == group || g == "*")
            && r.resources.iter().flatten().any(|x| x == resource || x == "*")
            && r.verbs.iter().any(|v| v == verb || v == "*")
    })
}

impl Rendered {
    /// The rules of the rendered `kind` (Role or ClusterRole) named `name`.
    fn rules_of(&self, kind: &str, name: &str, namespace: Option<&str>) -> Vec<PolicyRule> {
        let found = self
            .all(kind)
            .into_iter()
            .find(|o| o["metadata"]["name"] == name && namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns));
        found
            .and_then(|o| o["rules"].as_array().cloned())
            .map_or_else(Vec::new, |rules| {
                rules
                    .iter()
                    .map(|r| serde_json::from_value(r.clone()).unwrap())
                    .collect()
            })
    }

    /// RBAC as the API server decides it: whether a binding of ServiceAccount
    /// `sa_namespace/sa` grants `verb` on `group`/`resource` in `namespace`
    /// (`None`: across all namespaces, which only a ClusterRoleBinding grants).
    /// Rules limited to resourceNames don't count: the controller's calls are not
    /// limited to named objects.
    fn allows(
        &self,
        (sa_namespace, sa): (&str, &str),
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> bool {
        let bound = |b: &Value| {
            b["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["kind"] == "ServiceAccount" && s["name"] == sa && s["namespace"] == sa_namespace)
        };
        let grant = |rules: Vec<PolicyRule>| {
            let unnamed: Vec<PolicyRule> = rules
                .into_iter()
                .filter(|r| r.resource_names.as_ref().is_none_or(Vec::is_empty))
                .collect();
            grants(&unnamed, group, resource, verb)
        };
        let cluster_wide = self.all("ClusterRoleBinding").into_iter().any(|b| {
            bound(b)
                && b["roleRef"]["kind"] == "ClusterRole"
                && grant(self.rules_of("ClusterRole", b["roleRef"]["name"].as_str().unwrap(), None))
        });
        let in_namespace = namespace.is_some_and(|ns| {
            self.all("RoleBinding").into_iter().any(|b| {
                let role = b["roleRef"]["name"].as_str().unwrap();
                let rules = match b["roleRef"]["kind"].as_str() {
                    Some("ClusterRole") => self.rules_of("ClusterRole", role, None),
                    _ => self.rules_of("Role", role, Some(ns)),
                };
                b["metadata"]["namespace"] == ns && bound(b) && grant(rules)
            })
        });
        cluster_wide || in_namespace
    }

    /// Asserts the chart grants every call in `gitseal_controller::rbac::CALLS`
    /// to its ServiceAccount: in the controller's namespace, and in each of
    /// `watched` (`None`: all namespaces).
    fn assert_grants_every_controller_call(&self, sa: (&str, &str), watched: Option<&[&str]>) {
        use gitseal_controller::rbac::{CALLS, Scope};
        for call in CALLS {
            let namespaces: Vec<Option<&str>> = match (call.scope, watched) {
                (Scope::Own, _) => vec![Some(sa.0)],
                (Scope::Watched, None) => vec![None],
                (Scope::Watched, Some(list)) => list.iter().copied().map(Some).collect(),
            };
            for ns in namespaces {
                for verb in call.verbs {
                    assert!(
                        self.allows(sa, verb, call.group, call.resource, ns),
                        "the chart doesn't let {}/{} {verb} {}/{} in {} ({})",
                        sa.0,
                        sa.1,
                        call.group,
                        call.resource,
                        ns.unwrap_or("all namespaces"),
                        call.why
                    );
                }
            }
        }
    }
}

fn assert_unseal_rules(rules: &[PolicyRule]) {
    for verb in ["get", "list", "watch"] {
        assert!(
            grants(rules, "bitnami.com", "sealedsecrets", verb),
            "{verb} sealedsecrets"
        );
    }
    for verb in ["update", "patch"] {
        assert!(grants(rules, "bitnami.com", "sealedsecrets/status", verb));
    }
    for verb in ["get", "list", "watch", "create", "update", "patch", "delete"] {
        assert!(grants(rules, "", "secrets", verb), "{verb} secrets");
    }
    for verb in ["create", "patch"] {
        assert!(grants(rules, "events.k8s.io", "events", verb));
        assert!(grants(rules, "", "events", verb));
    }
    // Least privilege: nothing beyond those resources.
    let resources: BTreeSet<&str> = rules
        .iter()
        .flat_map(|r| r.resources.iter().flatten().map(String::as_str))
        .collect();
    assert_eq!(
        resources,
        BTreeSet::from(["events", "sealedsecrets", "sealedsecrets/status", "secrets"])
    );
}

#[test]
fn defaults_are_restricted_and_findable_by_gitseal_cert() {
    if !helm_available() {
        return;
    }
    let r = render(json!({}), "gitseal", "kube-system");
    r.assert_clean();

    // `gitseal cert` with default flags looks for service sealed-secrets-controller,
    // port named http, in kube-system.
    let svc: Service = r.one("Service", "sealed-secrets-controller");
    assert_eq!(svc.metadata.namespace.as_deref(), Some("kube-system"));
    let port = &svc.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("http"), 8080));
    let metrics: Service = r.one("Service", "sealed-secrets-controller-metrics");
    assert_eq!(metrics.spec.unwrap().ports.unwrap()[0].name.as_deref(), Some("metrics"));
    assert!(r.notes.contains("gitseal cert > cert.pem"), "{}", r.notes);

    // Pod Security "restricted".
    let d: Deployment = r.one("Deployment", "sealed-secrets-controller");
    let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..])
    );
    assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    let probe_path = |p: &Option<Probe>| p.as_ref()?.http_get.as_ref()?.path.clone();
    assert_eq!(probe_path(&c.liveness_probe).as_deref(), Some("/healthz"));
    assert_eq!(probe_path(&c.readiness_probe).as_deref(), Some("/readyz"));
    assert!(c.resources.as_ref().unwrap().requests.is_some());

    // One replica: no leader election, and never two controllers at once.
    let args = c.args.clone().unwrap();
    assert!(args.contains(&"--leader-elect=false".to_string()), "{args:?}");
    assert_eq!(d.spec.unwrap().strategy.unwrap().type_.as_deref(), Some("Recreate"));

    // RBAC: cluster-wide unsealing, keys and leases in the own namespace.
    let cr: ClusterRole = r.one("ClusterRole", "sealed-secrets-controller-unsealer");
    assert_unseal_rules(&cr.rules.unwrap());
    let keys: Role = r.one("Role", "sealed-secrets-controller-key-admin");
    let rules = keys.rules.unwrap();
    for verb in ["get", "list", "watch", "create"] {
        assert!(grants(&rules, "", "secrets", verb));
    }
    for verb in ["get", "create", "update"] {
        assert!(grants(&rules, "coordination.k8s.io", "leases", verb));
    }
    assert!(!grants(&rules, "", "secrets", "delete"), "keys are never deleted");
    // The service proxier is bound as upstream binds it.
    let proxier: Role = r.one("Role", "sealed-secrets-controller-service-proxier");
    let rules = proxier.rules.unwrap();
    assert!(grants(&rules, "", "services/proxy", "get") && grants(&rules, "", "services/proxy", "create"));
    assert!(
        rules.iter().all(|r| r.resource_names.is_some()),
        "limited to the controller's Service"
    );
    let binding: RoleBinding = r.one("RoleBinding", "sealed-secrets-controller-service-proxier");
    assert_eq!(binding.subjects.unwrap()[0].name, "system:authenticated");
}

#[test]
fn ha_turns_leader_election_on_and_rolls() {
    if !helm_available() {
        return;
    }
    let r = render(
        json!({"replicas": 3, "podDisruptionBudget": {"enabled": true}, "networkPolicy": {"enabled": true},
               "metrics": {"serviceMonitor": {"enabled": true}}}),
        "gitseal",
        "kube-system",
    );
    r.assert_clean();
    let d: Deployment = r.one("Deployment", "sealed-secrets-controller");
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3));
    assert_ne!(
        d.spec.unwrap().strategy.and_then(|s| s.type_).as_deref(),
        Some("Recreate")
    );
    assert!(
        r.container("sealed-secrets-controller")
            .args
            .unwrap()
            .contains(&"--leader-elect=true".to_string())
    );
    let _: PodDisruptionBudget = r.one("PodDisruptionBudget", "sealed-secrets-controller");
    let _: NetworkPolicy = r.one("NetworkPolicy", "sealed-secrets-controller");
    assert_eq!(r.all("ServiceMonitor").len(), 1);
}

#[test]
fn restricted_rbac_grants_only_the_watched_namespaces() {
    if !helm_available() {
        return;
    }
    let r = render(
        json!({"rbac": {"clusterWide": false, "serviceProxier": {"subjects": []}},
               "config": {"allNamespaces": false, "namespaces": ["team-a"], "additionalNamespaces": ["team-b"]}}),
        "gitseal",
        "gitseal",
    );
    r.assert_clean();
    assert!(r.all("ClusterRole").is_empty() && r.all("ClusterRoleBinding").is_empty());
    let namespaces: BTreeSet<String> = r
        .all("Role")
        .into_iter()
        .filter(|o| o["metadata"]["name"] == "sealed-secrets-controller-unsealer")
        .map(|o| {
            let role: Role = strict(o);
            assert_unseal_rules(role.rules.as_ref().unwrap());
            role.metadata.namespace.unwrap()
        })
        .collect();
    assert_eq!(
        namespaces,
        BTreeSet::from(["gitseal", "team-a", "team-b"].map(String::from))
    );
    // Nobody is bound to the service proxier unless subjects are given.
    assert!(
        !r.all("RoleBinding")
            .iter()
            .any(|o| o["metadata"]["name"] == "sealed-secrets-controller-service-proxier")
    );
    r.assert_args(&[
        "--all-namespaces=false",
        "--namespaces=team-a",
        "--additional-namespaces=team-b",
    ]);
}

#[test]
fn rbac_grants_every_call_the_controller_makes() {
    if !helm_available() {
        return;
    }
    // Defaults and HA: all namespaces.
    for values in [json!({}), json!({"replicas": 2})] {
        let r = render(values, "gitseal", "kube-system");
        r.assert_grants_every_controller_call(("kube-system", "sealed-secrets-controller"), None);
    }
    // Custom names: the binding follows the ServiceAccount.
    let r = render(
        json!({"fullnameOverride": "", "serviceAccount": {"name": "sealer"}}),
        "prod",
        "security",
    );
    r.assert_grants_every_controller_call(("security", "sealer"), None);
    assert!(!r.allows(("security", "prod-gitseal"), "list", "", "secrets", None));

    // Restricted: the watched namespaces and its own, nothing across the cluster.
    let r = render(
        json!({"rbac": {"clusterWide": false},
               "config": {"allNamespaces": false, "namespaces": ["team-a"], "additionalNamespaces": ["team-b"]}}),
        "gitseal",
        "gitseal",
    );
    let sa = ("gitseal", "sealed-secrets-controller");
    r.assert_grants_every_controller_call(sa, Some(&["team-a", "team-b", "gitseal"]));
    assert!(!r.allows(sa, "list", "bitnami.com", "sealedsecrets", None));
    assert!(!r.allows(sa, "get", "", "secrets", Some("team-c")));
    // The Lease lives in its own namespace only.
    assert!(!r.allows(sa, "create", "coordination.k8s.io", "leases", Some("team-a")));
}

#[test]
fn custom_names_reach_every_object_and_the_notes() {
    if !helm_available() {
        return;
    }
    let r = render(
        json!({"fullnameOverride": "", "serviceAccount": {"name": "sealer"}}),
        "prod",
        "security",
    );
    r.assert_clean();
    let _: Service = r.one("Service", "prod-gitseal");
    let _: ServiceAccount = r.one("ServiceAccount", "sealer");
    let d: Deployment = r.one("Deployment", "prod-gitseal");
    assert_eq!(
        d.spec.unwrap().template.spec.unwrap().service_account_name.as_deref(),
        Some("sealer")
    );
    let binding: ClusterRoleBinding = r.one("ClusterRoleBinding", "prod-gitseal-unsealer");
    assert_eq!(binding.subjects.unwrap()[0].name, "sealer");
    let proxier: Role = r.one("Role", "prod-gitseal-service-proxier");
    let names: Vec<String> = proxier
        .rules
        .unwrap()
        .into_iter()
        .flat_map(|r| r.resource_names.unwrap_or_default())
        .collect();
    assert!(names.contains(&"prod-gitseal".to_string()) && names.contains(&"http:prod-gitseal:".to_string()));
    assert!(
        r.notes
            .contains("gitseal cert --controller-name prod-gitseal --controller-namespace security"),
        "{}",
        r.notes
    );
}

/// The controller's long flags, from its clap definition (what `--help` prints).
fn controller_flags() -> BTreeSet<String> {
    <gitseal_controller::config::Flags as clap::CommandFactory>::command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect()
}

fn camel(kebab: &str) -> String {
    let mut out = String::new();
    for (i, part) in kebab.split('-').enumerate() {
        let mut chars = part.chars();
        if i > 0
            && let Some(first) = chars.next()
        {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        } else {
            out.push_str(part);
        }
    }
    out
}

#[test]
fn every_controller_flag_is_a_value() {
    if !helm_available() {
        return;
    }
    // Set by the chart itself: the pod's namespace and name, the ports.
    let by_chart = [
        "kubeconfig",
        "namespace",
        "pod-name",
        "listen-addr",
        "listen-metrics-addr",
        "help",
        "version",
    ];
    let flags: BTreeSet<String> = controller_flags()
        .into_iter()
        .filter(|f| !by_chart.contains(&f.as_str()))
        .collect();
    let values: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(repo("charts/gitseal/values.yaml")).unwrap()).unwrap();
    let keys: BTreeSet<String> = values["config"].as_object().unwrap().keys().cloned().collect();
    let expected: BTreeSet<String> = flags.iter().map(|f| camel(f)).collect();
    assert_eq!(keys, expected, "values.yaml config must name every controller flag");

    // And each renders as that flag.
    let sample = json!({
        "keySize": 3072, "keyRenewPeriod": "360h", "myCn": "prod", "kubeclientQps": 20.5,
        "privatekeyLabels": {"team": "sec", "env": "prod"}, "updateStatus": false, "leaderElect": true,
    });
    let r = render(json!({"config": sample}), "gitseal", "kube-system");
    r.assert_clean();
    r.assert_args(&[
        "--key-size=3072",
        "--key-renew-period=360h",
        "--my-cn=prod",
        "--kubeclient-qps=20.5",
        "--privatekey-labels=env=prod,team=sec",
        "--update-status=false",
        "--leader-elect=true",
    ]);
}

#[test]
fn schema_rejects_typos_and_bad_values() {
    if !helm_available() {
        return;
    }
    for (values, fragment) in [
        (json!({"replica": 2}), "replica"),
        (json!({"config": {"keyRenewPerod": "720h"}}), "keyRenewPerod"),
        (json!({"config": {"keyRenewPeriod": "thirty days"}}), "keyRenewPeriod"),
        (json!({"config": {"logFormat": "xml"}}), "logFormat"),
    ] {
        let r = render(values.clone(), "gitseal", "kube-system");
        let error = r.schema_error.unwrap_or_else(|| panic!("{values} accepted"));
        assert!(error.contains(fragment), "{values}: {error}");
    }
}

#[test]
fn chart_crd_is_the_generated_one() {
    assert_eq!(
        std::fs::read_to_string(repo("charts/gitseal/crds/sealedsecrets.bitnami.com.yaml")).unwrap(),
        std::fs::read_to_string(repo("crates/gitseal-api/crd/sealedsecrets.bitnami.com.yaml")).unwrap(),
        "copy crates/gitseal-api/crd/sealedsecrets.bitnami.com.yaml into charts/gitseal/crds/"
    );
}

/// `deploy/gitseal.yaml`, the all-in-one manifest for `kubectl apply`: the CRD,
/// then the chart rendered with its defaults into kube-system. Run with
/// `GITSEAL_UPDATE_DEPLOY=1` to rewrite it after changing the chart.
#[test]
fn deploy_manifest_is_the_rendered_chart() {
    if !helm_available() {
        return;
    }
    let r = render(json!({}), "gitseal", "kube-system");
    let mut all = String::from(
        "# gitseal-controller, all in one: the chart rendered with its defaults into kube-system.\n\
         # Generated by controller/tests/chart.rs (GITSEAL_UPDATE_DEPLOY=1); do not edit by hand.\n",
    );
    all.push_str(&std::fs::read_to_string(repo("crates/gitseal-api/crd/sealedsecrets.bitnami.com.yaml")).unwrap());
    for (path, text) in &r.manifests {
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        all.push_str(&format!("---\n# Source: {path}\n"));
        all.push_str(text.trim_start_matches("---").trim_start());
        all.push('\n');
    }
    let path = repo("deploy/gitseal.yaml");
    if std::env::var_os("GITSEAL_UPDATE_DEPLOY").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &all).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == all,
        "deploy/gitseal.yaml is stale: run GITSEAL_UPDATE_DEPLOY=1 cargo test -p gitseal-controller --test chart"
    );
    // And it is what kubectl would read: every document an object.
    let docs = gitseal_core::manifest::parse_documents(&committed).unwrap();
    assert_eq!(docs.len(), r.objects.len() + 1, "the CRD and every object");
}
