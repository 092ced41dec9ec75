//! The desired Kubernetes objects of one capsule environment with `runtime = "kubernetes"`
//! (DESIGN section 2, docs/kubernetes.md): manifests as server-side apply sends them, with
//! capsule's labels and addresses. Pure: built from configuration and the pinned images; the
//! cluster is `crate::k8s`'s.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::config::types::{CapsuleFile, EnvValue, Kubernetes, Service};
use crate::config::{Environment, schedule};

use super::{Address, Kind};

pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_NAME: &str = "capsule/name";
pub const LABEL_ENV: &str = "capsule/env";
pub const LABEL_COMPONENT: &str = "capsule/component";
/// On a release Job only: the service it releases.
pub const LABEL_RELEASE: &str = "capsule/release";
/// The key of a capsule Secret's value (`secretKeyRef.key`).
pub const SECRET_KEY: &str = "value";

/// One object as capsule wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub address: Address,
    pub name: String,
    /// The whole manifest (`apiVersion`, `kind`, `metadata`, spec): the server-side apply body.
    pub manifest: Value,
}

/// Everything one capsule environment wants on its cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub capsule: String,
    pub env: String,
    pub namespace: String,
    /// The kubeconfig context; `None` is the current one.
    pub context: Option<String>,
    /// In apply order (deletes go backwards).
    pub objects: Vec<Object>,
    /// Per service with `release`: the Job template run before its Deployment moves.
    pub releases: BTreeMap<String, Value>,
    /// Prebuilt images as written in the file, by service (pinned at plan time).
    pub images: BTreeMap<String, String>,
}

impl Desired {
    pub fn object(&self, kind: Kind, name: &str) -> Option<&Object> {
        self.objects.iter().find(|o| o.address.kind == kind && o.address.name == name)
    }
}

/// Kinds in the order they are applied; deletes walk it backwards.
pub const KINDS: &[Kind] = &[
    Kind::K8sNamespace,
    Kind::K8sSecret,
    Kind::K8sDeployment,
    Kind::K8sService,
    Kind::K8sIngress,
    Kind::K8sHpa,
    Kind::K8sCronjob,
];

/// `apiVersion`, `kind` and the plural of the API path of a capsule kind.
pub fn api_of(kind: Kind) -> (&'static str, &'static str, &'static str) {
    match kind {
        Kind::K8sNamespace => ("v1", "Namespace", "namespaces"),
        Kind::K8sSecret => ("v1", "Secret", "secrets"),
        Kind::K8sDeployment => ("apps/v1", "Deployment", "deployments"),
        Kind::K8sService => ("v1", "Service", "services"),
        Kind::K8sIngress => ("networking.k8s.io/v1", "Ingress", "ingresses"),
        Kind::K8sHpa => ("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        _ => ("batch/v1", "CronJob", "cronjobs"),
    }
}

/// The namespace of a capsule environment: `[kubernetes] namespace`, or `<capsule>-<env>`.
pub fn namespace_of(cfg: &CapsuleFile, env: &str) -> String {
    cfg.kubernetes.as_ref().and_then(|k| k.namespace.clone()).unwrap_or_else(|| format!("{}-{env}", cfg.capsule.name))
}

/// The four labels of every capsule object.
pub fn labels(capsule: &str, env: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), "capsule".to_string()),
        (LABEL_NAME.to_string(), capsule.to_string()),
        (LABEL_ENV.to_string(), env.to_string()),
        (LABEL_COMPONENT.to_string(), component.to_string()),
    ])
}

/// The label selector of everything a capsule environment owns.
pub fn owned_selector(capsule: &str, env: &str) -> String {
    format!("{LABEL_MANAGED_BY}=capsule,{LABEL_NAME}={capsule},{LABEL_ENV}={env}")
}

/// How `pinned` names the image a service builds (`build`): `build:<service>`.
pub fn built_image_key(service: &str) -> String {
    format!("build:{service}")
}

/// `secret-<name>`.
pub fn secret_name(secret: &str) -> String {
    format!("secret-{secret}")
}

/// Fargate CPU units (1024 = one vCPU) as a canonical Kubernetes quantity.
pub fn cpu_quantity(units: i64) -> String {
    let millis = units * 1000 / 1024;
    if millis % 1000 == 0 { (millis / 1000).to_string() } else { format!("{millis}m") }
}

/// MiB as a canonical Kubernetes quantity (the API server writes `1Gi`, not `1024Mi`).
pub fn memory_quantity(mib: i64) -> String {
    if mib % 1024 == 0 { format!("{}Gi", mib / 1024) } else { format!("{mib}Mi") }
}

/// The desired objects of `env`. `pinned` maps an image as written to the reference to run
/// (pinned by digest where its registry could say).
pub fn desired(env: &Environment, pinned: &BTreeMap<String, String>) -> Desired {
    let cfg = &env.config;
    let (name, envname) = (cfg.capsule.name.as_str(), env.name.as_str());
    let k8s = cfg.kubernetes.clone().unwrap_or_default();
    let namespace = namespace_of(cfg, envname);
    let address = |kind: Kind, component: &str| Address {
        capsule: name.to_string(),
        env: envname.to_string(),
        kind,
        name: component.to_string(),
    };
    let meta = |obj_name: &str, component: &str| json!({ "name": obj_name, "namespace": namespace, "labels": labels(name, envname, component) });
    let mut objects = vec![Object {
        address: address(Kind::K8sNamespace, &namespace),
        name: namespace.clone(),
        manifest: json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": { "name": namespace, "labels": labels(name, envname, "namespace") },
        }),
    }];
    for (secret, decl) in &cfg.secrets {
        let mut metadata = meta(&secret_name(secret), secret);
        if let Some(d) = &decl.description {
            metadata["annotations"] = json!({ "capsule/description": d });
        }
        // No `data`: values are set by `capsule secrets set` under a field manager of their own.
        objects.push(Object {
            address: address(Kind::K8sSecret, secret),
            name: secret_name(secret),
            manifest: json!({ "apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque" }),
        });
    }
    let mut releases = BTreeMap::new();
    let mut images = BTreeMap::new();
    let image_of = |sname: &str, s: &Service| {
        let written = s.image.clone().unwrap_or_else(|| built_image_key(sname));
        pinned.get(&written).cloned().unwrap_or(written)
    };
    let mut later = Vec::new();
    for (sname, s) in &cfg.services {
        if let Some(i) = &s.image {
            images.insert(sname.clone(), i.clone());
        }
        let selector = json!({ LABEL_NAME: name, LABEL_ENV: envname, LABEL_COMPONENT: sname });
        let mut c = container(sname, s, &image_of(sname, s), s.command.as_ref());
        if let Some(port) = s.port {
            c["ports"] = json!([{ "name": "http", "containerPort": port, "protocol": "TCP" }]);
            let grace = humantime::parse_duration(&s.health.grace).map(|d| d.as_secs()).unwrap_or(30);
            let probe = json!({ "httpGet": { "path": s.health.path, "port": "http" } });
            c["readinessProbe"] = probe.clone();
            let mut liveness = probe;
            liveness["initialDelaySeconds"] = json!(grace);
            c["livenessProbe"] = liveness;
        }
        let pod = json!({ "metadata": { "labels": labels(name, envname, sname) }, "spec": { "containers": [c] } });
        let mut spec =
            json!({ "selector": { "matchLabels": selector }, "template": pod, "progressDeadlineSeconds": 300 });
        if s.autoscale.is_none() {
            spec["replicas"] = json!(s.count.unwrap_or(1));
        }
        objects.push(Object {
            address: address(Kind::K8sDeployment, sname),
            name: sname.clone(),
            manifest: json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(sname, sname), "spec": spec }),
        });
        if let Some(release) = &s.release {
            let mut rc = container(sname, s, &image_of(sname, s), Some(release));
            rc["name"] = json!("release");
            let mut rlabels = labels(name, envname, sname);
            rlabels.insert(LABEL_RELEASE.to_string(), sname.clone());
            releases.insert(
                sname.clone(),
                json!({
                    "apiVersion": "batch/v1", "kind": "Job",
                    "metadata": { "namespace": namespace, "labels": rlabels },
                    "spec": { "backoffLimit": 0, "ttlSecondsAfterFinished": 3600, "template": {
                        "metadata": { "labels": rlabels },
                        "spec": { "restartPolicy": "Never", "containers": [rc] } } },
                }),
            );
        }
        if s.port.is_some() {
            later.push(Object {
                address: address(Kind::K8sService, sname),
                name: sname.clone(),
                manifest: json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": meta(sname, sname),
                    "spec": { "selector": selector, "ports": [{ "name": "http", "port": 80, "targetPort": "http", "protocol": "TCP" }] },
                }),
            });
        }
        if s.public {
            later.push(ingress(&k8s, meta(sname, sname), sname, s, address(Kind::K8sIngress, sname)));
        }
        if let Some(a) = &s.autoscale {
            later.push(Object {
                address: address(Kind::K8sHpa, sname),
                name: sname.clone(),
                manifest: json!({
                    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(sname, sname),
                    "spec": {
                        "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": sname },
                        "minReplicas": a.min.max(1), "maxReplicas": a.max,
                        "metrics": [{ "type": "Resource", "resource": { "name": "cpu",
                            "target": { "type": "Utilization", "averageUtilization": a.cpu } } }],
                    },
                }),
            });
        }
    }
    for (jname, j) in &cfg.jobs {
        let Some(s) = cfg.services.get(&j.service) else { continue };
        // Validation refuses schedules that do not convert; this is never empty then.
        let cron = schedule::to_kubernetes(&j.schedule).unwrap_or_default();
        let c = container(jname, s, &image_of(&j.service, s), j.command.as_ref().or(s.command.as_ref()));
        later.push(Object {
            address: address(Kind::K8sCronjob, jname),
            name: jname.clone(),
            manifest: json!({
                "apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta(jname, jname),
                "spec": {
                    "schedule": cron, "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
                    "jobTemplate": { "metadata": { "labels": labels(name, envname, jname) }, "spec": {
                        "backoffLimit": 0,
                        "template": { "metadata": { "labels": labels(name, envname, jname) },
                            "spec": { "restartPolicy": "Never", "containers": [c] } } } },
                },
            }),
        });
    }
    objects.extend(later);
    objects.sort_by_key(|o| KINDS.iter().position(|k| *k == o.address.kind));
    Desired {
        capsule: name.to_string(),
        env: envname.to_string(),
        namespace,
        context: k8s.context,
        objects,
        releases,
        images,
    }
}

/// A service's container: image, arguments (ECS `command` overrides the image's CMD, as
/// `args` does), resources and env, secrets as `secretKeyRef`s, sorted by name.
fn container(cname: &str, s: &Service, image: &str, args: Option<&Vec<String>>) -> Value {
    let mut env: Vec<(&String, Value)> = s
        .env
        .iter()
        .map(|(k, v)| {
            let entry = match v {
                EnvValue::Text(t) => json!({ "name": k, "value": t }),
                EnvValue::Secret { secret } => json!({ "name": k, "valueFrom": { "secretKeyRef": {
                    "name": secret_name(secret), "key": SECRET_KEY } } }),
            };
            (k, entry)
        })
        .collect();
    env.sort_by(|a, b| a.0.cmp(b.0));
    let resources = json!({ "cpu": cpu_quantity(s.cpu), "memory": memory_quantity(s.memory) });
    let mut c = json!({
        "name": cname,
        "image": image,
        "resources": { "requests": resources, "limits": resources },
    });
    if !env.is_empty() {
        c["env"] = Value::Array(env.into_iter().map(|(_, v)| v).collect());
    }
    if let Some(args) = args {
        c["args"] = json!(args);
    }
    c
}

fn ingress(k8s: &Kubernetes, metadata: Value, sname: &str, s: &Service, address: Address) -> Object {
    let mut rule = json!({ "http": { "paths": [{ "path": "/", "pathType": "Prefix",
        "backend": { "service": { "name": sname, "port": { "name": "http" } } } }] } });
    let mut spec = json!({});
    if let Some(domain) = &s.domain {
        rule["host"] = json!(domain);
        if let Some(tls) = &k8s.tls_secret {
            spec["tls"] = json!([{ "hosts": [domain], "secretName": tls }]);
        }
    }
    spec["rules"] = json!([rule]);
    if let Some(class) = &k8s.ingress_class {
        spec["ingressClassName"] = json!(class);
    }
    Object {
        address,
        name: sname.to_string(),
        manifest: json!({ "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> Desired {
        let c = crate::config::load_str(std::path::Path::new("capsule.toml"), src).unwrap_or_else(|d| panic!("{d:?}"));
        let pinned = BTreeMap::from([("reg/api:1".to_string(), "reg/api:1@sha256:abc".to_string())]);
        desired(&c.environments[0], &pinned)
    }

    const SHOP: &str = r#"
[capsule]
name = "shop"
runtime = "kubernetes"
[kubernetes]
ingress_class = "nginx"
[secrets]
stripe = { description = "Stripe key" }
[services.api]
image = "reg/api:1"
port = 8080
public = true
domain = "api.example.com"
cpu = 512
memory = 1024
health = { path = "/healthz", grace = "20s" }
env = { MODE = "live", STRIPE = { secret = "stripe" } }
[services.api.autoscale]
min = 2
max = 5
[services.worker]
image = "reg/api:1"
count = 2
[jobs.nightly]
service = "worker"
schedule = "cron(0 3 * * ? *)"
"#;

    #[test]
    fn a_capsule_becomes_one_object_per_thing_with_capsule_labels_and_addresses() {
        let d = load(SHOP);
        assert_eq!(d.namespace, "shop-production");
        let addresses: Vec<String> = d.objects.iter().map(|o| o.address.to_string()).collect();
        assert_eq!(
            addresses,
            [
                "shop.production.k8s_namespace.shop-production",
                "shop.production.k8s_secret.stripe",
                "shop.production.k8s_deployment.api",
                "shop.production.k8s_deployment.worker",
                "shop.production.k8s_service.api",
                "shop.production.k8s_ingress.api",
                "shop.production.k8s_hpa.api",
                "shop.production.k8s_cronjob.nightly",
            ]
        );
        for o in &d.objects {
            let l = &o.manifest["metadata"]["labels"];
            assert_eq!(l[LABEL_MANAGED_BY], "capsule", "{}", o.address);
            assert_eq!(l[LABEL_NAME], "shop");
            assert_eq!(l[LABEL_ENV], "production");
            assert!(l[LABEL_COMPONENT].is_string());
        }
        assert_eq!(d.object(Kind::K8sSecret, "stripe").unwrap().name, "secret-stripe");
    }

    #[test]
    fn a_deployment_pins_the_image_sizes_probes_and_refers_to_secrets() {
        let d = load(SHOP);
        let api = &d.object(Kind::K8sDeployment, "api").unwrap().manifest;
        let c = &api["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "reg/api:1@sha256:abc");
        assert_eq!(c["resources"]["requests"], json!({ "cpu": "500m", "memory": "1Gi" }));
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(c["livenessProbe"]["initialDelaySeconds"], 20);
        assert_eq!(
            c["env"],
            json!([
                { "name": "MODE", "value": "live" },
                { "name": "STRIPE", "valueFrom": { "secretKeyRef": { "name": "secret-stripe", "key": "value" } } },
            ])
        );
        assert!(api["spec"].get("replicas").is_none(), "the HPA owns replicas");
        let worker = &d.object(Kind::K8sDeployment, "worker").unwrap().manifest;
        assert_eq!(worker["spec"]["replicas"], 2);
        assert!(worker["spec"]["template"]["spec"]["containers"][0].get("readinessProbe").is_none());
        assert!(d.object(Kind::K8sService, "worker").is_none(), "a worker has no Service");
    }

    #[test]
    fn ingress_hpa_and_cronjob_follow_the_file() {
        let d = load(SHOP);
        let ing = &d.object(Kind::K8sIngress, "api").unwrap().manifest["spec"];
        assert_eq!(ing["ingressClassName"], "nginx");
        assert_eq!(ing["rules"][0]["host"], "api.example.com");
        let hpa = &d.object(Kind::K8sHpa, "api").unwrap().manifest["spec"];
        assert_eq!((hpa["minReplicas"].clone(), hpa["maxReplicas"].clone()), (json!(2), json!(5)));
        assert_eq!(hpa["metrics"][0]["resource"]["target"]["averageUtilization"], 60);
        let cron = &d.object(Kind::K8sCronjob, "nightly").unwrap().manifest["spec"];
        assert_eq!(cron["schedule"], "0 3 * * *");
        assert_eq!(cron["timeZone"], "Etc/UTC");
    }

    #[test]
    fn quantities_are_canonical() {
        assert_eq!(cpu_quantity(256), "250m");
        assert_eq!(cpu_quantity(1024), "1");
        assert_eq!(cpu_quantity(2048), "2");
        assert_eq!(memory_quantity(512), "512Mi");
        assert_eq!(memory_quantity(2048), "2Gi");
    }
}
