//! Where each image of a capsule environment stands before apply: tagged by its context's
//! content and looked up in the registry (one request per image), prebuilt images pinned
//! to a digest. Builds and pushes nothing; that is `image::Shipper`'s, at apply.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::artifacts::image::{self, ImagePlan, Registry, Shipper};
use crate::aws::{Cx, Live};
use crate::model::{Artifact, Desired, Kind};
use crate::plan::{ArtifactPlan, CapsulePlan, PlanError};

/// Tags every image's context by content and asks the registry (one request per image)
/// whether it has the tag. An image already there is pinned into its repository's
/// outputs, so task definitions plan against the digest they would get.
pub async fn plan_images(
    cx: &Cx,
    desired: &mut Desired,
    observed: &mut BTreeMap<String, Live>,
) -> (Shipper, Vec<(usize, ArtifactPlan)>, Vec<PlanError>) {
    let mut plans = Vec::new();
    let mut artifacts = Vec::new();
    let mut errors = Vec::new();
    let has_images = desired.artifacts.iter().any(|a| matches!(a, Artifact::Image { .. }));
    let registry = if has_images {
        match Registry::connect(&cx.aws, &cx.region).await {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(PlanError {
                    address: format!("{}.{}.images", desired.capsule, desired.env),
                    message: e.to_string(),
                    hint: Some("for a local registry, set CAPSULE_REGISTRY=host:port".into()),
                });
                None
            }
        }
    } else {
        None
    };
    let declared = desired.artifacts.clone();
    for (i, a) in declared.iter().enumerate() {
        if let Artifact::Prebuilt { name, image } = a {
            let (digest, reason) = match image::resolve_prebuilt(image).await {
                Ok(Some(d)) => (Some(d.clone()), format!("pinned to {d}")),
                Ok(None) => (None, "already pinned by digest".to_string()),
                Err(e) => (None, format!("used as written: its digest could not be read ({e})")),
            };
            if let Some(d) = &digest {
                pin_prebuilt(desired, image, &format!("{image}@{d}"));
            }
            artifacts.push((
                i,
                ArtifactPlan::Image {
                    name: name.clone(),
                    action: "prebuilt".into(),
                    tag: Some(image.clone()),
                    reason: Some(reason),
                    pushed: None,
                    digest,
                },
            ));
            continue;
        }
        let Artifact::Image { name, context, dockerfile, repository } = a else { continue };
        let Some(repo) = desired.get(repository) else { continue };
        let address = format!("{}.{}.image.{name}", desired.capsule, desired.env);
        let tag = match image::context_tag(context, dockerfile) {
            Ok(t) => t,
            Err(e) => {
                errors.push(PlanError { address, message: e.to_string(), hint: None });
                continue;
            }
        };
        let exists = observed.contains_key(&repository.to_string());
        let mut plan = ImagePlan {
            name: name.clone(),
            context: context.clone(),
            dockerfile: dockerfile.clone(),
            repository: repository.to_string(),
            repository_name: repo.aws_name.clone(),
            tag,
            digest: None,
        };
        if let (true, Some(registry)) = (exists, &registry) {
            match registry.digest(&plan.repository_name, &plan.tag.tag).await {
                Ok(d) => plan.digest = d,
                Err(e) => errors.push(PlanError { address, message: e.to_string(), hint: None }),
            }
        }
        if let (Some(d), Some(registry), Some(live)) = (&plan.digest, &registry, observed.get_mut(&plan.repository)) {
            let pinned = image::pinned(&registry.repository_ref(&plan.repository_name), d);
            live.outputs.insert("image".into(), Value::String(pinned));
        }
        artifacts.push((
            i,
            ArtifactPlan::Image {
                name: name.clone(),
                action: if plan.digest.is_some() { "up-to-date" } else { "build" }.into(),
                tag: Some(plan.tag.tag.clone()),
                reason: plan.reason(exists),
                pushed: None,
                digest: None,
            },
        ));
        plans.push(plan);
    }
    (Shipper::new(registry, plans), artifacts, errors)
}

/// Replaces `image` by `pinned` in every task definition's container.
fn pin_prebuilt(desired: &mut Desired, image: &str, pinned: &str) {
    for r in desired.resources.iter_mut().filter(|r| r.address.kind == Kind::EcsTaskDefinition) {
        if let Some(Value::Object(c)) = r.attributes.get_mut("container")
            && c.get("image").and_then(Value::as_str) == Some(image)
        {
            c.insert("image".into(), Value::String(pinned.to_string()));
        }
    }
}

/// Copies what shipping did into the plan's image artifacts (apply documents).
pub fn record_images(plan: &mut CapsulePlan, images: &Shipper) {
    for a in plan.artifacts.iter_mut() {
        let ArtifactPlan::Image { name, pushed, digest, .. } = a else { continue };
        // Shipped in this run, or already in the registry at plan time.
        let done = images.shipped(name).or_else(|| {
            let p = images.plans().iter().find(|p| p.name == *name)?;
            Some(image::Shipped { pushed: false, digest: p.digest.clone()? })
        });
        if let Some(s) = done {
            *pushed = Some(s.pushed);
            *digest = Some(s.digest);
        }
    }
}
