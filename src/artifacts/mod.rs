//! Artifacts besides AWS resources: static sites synced to S3 and container images
//! built and pushed to the registry. Owns their plans (`image_plan`, `site_plan`), file
//! hashing, uploads, invalidations and their progress display; changes no AWS resource.

pub mod content_type;
pub mod image;
pub mod image_plan;
pub mod progress;
pub mod site;
pub mod site_plan;

use crate::config;
use crate::model::Artifact;
use crate::plan::ArtifactPlan;

/// An artifact's plan before anything is read (offline plans, and the placeholder the live
/// plan starts from): images are built, prebuilt images used as written, site files counted.
pub fn offline_plan(a: &Artifact) -> ArtifactPlan {
    match a {
        Artifact::Image { name, .. } => ArtifactPlan::Image {
            name: name.clone(),
            action: "build".into(),
            tag: None,
            reason: Some("offline: the registry was not read".into()),
            pushed: None,
            digest: None,
        },
        Artifact::Prebuilt { name, image } => ArtifactPlan::Image {
            name: name.clone(),
            action: "prebuilt".into(),
            tag: Some(image.clone()),
            reason: Some("offline: not resolved to a digest".into()),
            pushed: None,
            digest: None,
        },
        Artifact::Site { name, dir, .. } => {
            let files = site_plan::count_files(dir);
            ArtifactPlan::Site {
                name: name.clone(),
                upload: files,
                delete: Some(0),
                unchanged: Some(0),
                invalidate: vec![],
                upload_paths: vec![],
                note: files.is_none().then(|| format!("{} does not exist yet", config::display_path(dir).display())),
                result: None,
            }
        }
    }
}
