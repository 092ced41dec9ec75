//! The images of a Kubernetes capsule environment: prebuilt ones pinned by digest, built ones
//! (`build`) tagged by their context's content, looked up in `[kubernetes] registry` and, at
//! apply only, built with buildah (or docker) and pushed there (`artifacts::image`, as on ECS).
//! Says what each Deployment runs; creates no Kubernetes object.

use std::collections::BTreeMap;

use crate::artifacts::image::{self, ImagePlan, Registry, Shipper};
use crate::config::Capsule;
use crate::config::Environment;
use crate::model::k8s::built_image_key;
use crate::plan::{ArtifactPlan, PlanError};

/// Where each image of an environment stands.
#[derive(Debug, Default)]
pub struct Images {
    /// Image as the model names it (written, or [`built_image_key`]) → the reference to run.
    pub pinned: BTreeMap<String, String>,
    pub artifacts: Vec<ArtifactPlan>,
    pub errors: Vec<PlanError>,
}

/// `host` and the repository path prefix of `[kubernetes] registry` (`ghcr.io/acme`).
fn split_registry(registry: &str) -> (&str, &str) {
    registry.trim_end_matches('/').split_once('/').unwrap_or((registry.trim_end_matches('/'), ""))
}

/// The repository of a built service's image: `<prefix>/<capsule>/<service>`.
pub fn repository_name(registry: &str, capsule: &str, service: &str) -> String {
    match split_registry(registry).1 {
        "" => format!("{capsule}/{service}"),
        prefix => format!("{prefix}/{capsule}/{service}"),
    }
}

/// `capsule plan --offline`: built images named by their registry repository and context
/// hash (read from the files; no registry is asked), prebuilt ones as written.
pub fn offline(capsule: &Capsule, env: &Environment) -> Images {
    let mut out = Images::default();
    let registry = env.config.kubernetes.as_ref().and_then(|k| k.registry.clone()).unwrap_or_default();
    for (sname, s) in &env.config.services {
        if let Some(written) = &s.image {
            out.artifacts.push(ArtifactPlan::Image {
                name: sname.clone(),
                action: "prebuilt".into(),
                tag: Some(written.clone()),
                reason: Some("offline: pinned by digest when planned against the cluster".into()),
                pushed: None,
                digest: None,
            });
            continue;
        }
        let Some(build) = &s.build else { continue };
        let repo = format!("{}/{}", split_registry(&registry).0, repository_name(&registry, &capsule.name, sname));
        let tag = image::context_tag(&capsule.dir.join(build), &s.dockerfile).map(|t| t.tag);
        let reference = format!("{repo}:{}", tag.as_deref().unwrap_or("<context hash>"));
        out.pinned.insert(built_image_key(sname), reference);
        out.artifacts.push(ArtifactPlan::Image {
            name: sname.clone(),
            action: "build".into(),
            tag: tag.as_ref().ok().cloned(),
            reason: Some(match tag {
                Ok(_) => "offline: built and pushed at apply when the registry lacks the tag".into(),
                Err(e) => e.to_string(),
            }),
            pushed: None,
            digest: None,
        });
    }
    out
}

/// Pins prebuilt images; tags and looks up built ones; with `ship`, builds and pushes what the
/// registry lacks (an apply), so that every built image is pinned by its pushed digest.
pub async fn images(capsule: &Capsule, env: &Environment, ship: bool) -> Images {
    let mut out = Images::default();
    let (pinned, artifacts) = super::pin_images(env).await;
    out.pinned = pinned;
    out.artifacts = artifacts;
    let registry_name = env.config.kubernetes.as_ref().and_then(|k| k.registry.clone()).unwrap_or_default();
    let address = |sname: &str| format!("{}.{}.image.{sname}", capsule.name, env.name);
    let built: Vec<_> = env.config.services.iter().filter(|(_, s)| s.build.is_some()).collect();
    if built.is_empty() {
        return out;
    }
    let registry = match Registry::anonymous(split_registry(&registry_name).0) {
        Ok(r) => r,
        Err(e) => {
            out.errors.push(PlanError { address: address("*"), message: e.to_string(), hint: None });
            return out;
        }
    };
    let mut plans = Vec::new();
    for (sname, s) in built {
        let context = capsule.dir.join(s.build.as_deref().unwrap_or_default());
        let tag = match image::context_tag(&context, &s.dockerfile) {
            Ok(t) => t,
            Err(e) => {
                out.errors.push(PlanError { address: address(sname), message: e.to_string(), hint: None });
                continue;
            }
        };
        let repository_name = repository_name(&registry_name, &capsule.name, sname);
        let digest = match registry.digest(&repository_name, &tag.tag).await {
            Ok(d) => d,
            Err(e) => {
                let hint = Some(format!("capsule reads `{registry_name}` anonymously; check that it is reachable"));
                out.errors.push(PlanError { address: address(sname), message: e.to_string(), hint });
                continue;
            }
        };
        plans.push(ImagePlan {
            name: sname.clone(),
            context,
            dockerfile: s.dockerfile.clone(),
            repository: address(sname),
            repository_name,
            tag,
            digest,
        });
    }
    let shipper = Shipper::new(Some(registry.clone()), plans.clone());
    for p in &plans {
        let repo_ref = registry.repository_ref(&p.repository_name);
        let (reference, pushed, digest) = match (&p.digest, ship) {
            (Some(d), _) => (image::pinned(&repo_ref, d), Some(false), Some(d.clone())),
            (None, false) => (format!("{repo_ref}:{}", p.tag.tag), None, None),
            (None, true) => match shipper.ship(&p.repository).await {
                Ok(Some(r)) => {
                    let d = shipper.shipped(&p.name).map(|s| s.digest);
                    (r, Some(true), d)
                }
                Ok(None) => continue,
                Err(message) => {
                    out.errors.push(PlanError { address: p.repository.clone(), message, hint: None });
                    continue;
                }
            },
        };
        out.pinned.insert(built_image_key(&p.name), reference);
        out.artifacts.push(ArtifactPlan::Image {
            name: p.name.clone(),
            action: if p.digest.is_some() { "up-to-date" } else { "build" }.into(),
            tag: Some(p.tag.tag.clone()),
            reason: p.reason(true),
            pushed,
            digest,
        });
    }
    out
}
