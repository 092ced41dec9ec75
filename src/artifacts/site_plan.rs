//! Where each static site of a capsule environment stands before apply (its local folder
//! against the bucket's listing and manifest), and shipping it after the resources applied:
//! sync, invalidation, manifest. The sync and hashing mechanics are `site`'s.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::artifacts::site;
use crate::aws::adapters::adapter;
use crate::aws::{Cx, Live};
use crate::model::{Address, Artifact, Desired, Kind};
use crate::plan::{ArtifactPlan, CapsulePlan, PlanError, SiteResult};

/// A site's sync, planned against its bucket.
pub struct SitePlan {
    pub name: String,
    pub bucket: String,
    pub region: String,
    pub distribution: Address,
    pub sync: site::SyncPlan,
    pub previous: Option<site::Manifest>,
}

/// How many paths a plan lists per site.
const FIRST_PATHS: usize = 5;

/// Plans every site sync: the local folder against the bucket's listing and manifest.
pub async fn plan_sites(
    cx: &Cx,
    desired: &Desired,
    observed: &BTreeMap<String, Live>,
    plan: &mut CapsulePlan,
) -> Vec<SitePlan> {
    let mut out = Vec::new();
    for (i, a) in desired.artifacts.iter().enumerate() {
        let Artifact::Site { name, dir, headers, bucket, distribution, .. } = a else { continue };
        let Some(bucket_resource) = desired.get(bucket) else { continue };
        let planned = async {
            let rules = site::Rules::new(headers)?;
            let local = site::scan(dir, &rules).await?;
            let s3 = cx.aws.s3(&bucket_resource.region);
            let exists = observed.contains_key(&bucket.to_string());
            let (remote, previous) = if exists {
                let remote = site::list_remote(&s3, &bucket_resource.aws_name).await?;
                let previous = site::read_manifest(&s3, &bucket_resource.aws_name).await?;
                let previous = site::recover_headers(&s3, &bucket_resource.aws_name, &local, &remote, previous).await?;
                (remote, previous)
            } else {
                (BTreeMap::new(), None)
            };
            anyhow::Ok((site::diff(&local, &remote, previous.as_ref()), previous))
        }
        .await;
        match planned {
            Ok((sync, previous)) => {
                let invalidate = if observed.contains_key(&distribution.to_string()) {
                    site::invalidation_paths(&sync, previous.as_ref())
                } else {
                    vec![]
                };
                plan.artifacts[i] = ArtifactPlan::Site {
                    name: name.clone(),
                    upload: Some(sync.upload.len() as u64),
                    delete: Some(sync.delete.len() as u64),
                    unchanged: Some(sync.unchanged),
                    invalidate,
                    upload_paths: sync.upload.iter().take(FIRST_PATHS).map(|(f, _)| f.key.clone()).collect(),
                    note: None,
                    result: None,
                };
                out.push(SitePlan {
                    name: name.clone(),
                    bucket: bucket_resource.aws_name.clone(),
                    region: bucket_resource.region.clone(),
                    distribution: distribution.clone(),
                    sync,
                    previous,
                });
            }
            Err(e) => plan.errors.push(PlanError {
                address: format!("{}.{}.site.{name}", desired.capsule, desired.env),
                message: e.to_string(),
                hint: None,
            }),
        }
    }
    out
}

/// Syncs every planned site and invalidates what changed; results go into the plan's
/// site artifacts. Runs after the resources applied.
pub async fn ship_sites(cx: &Cx, desired: &Desired, sites: &[SitePlan], plan: &mut CapsulePlan) -> anyhow::Result<()> {
    for sp in sites {
        let s3 = cx.aws.s3(&sp.region);
        let paths = site::invalidation_paths(&sp.sync, sp.previous.as_ref());
        let report = site::sync(&s3, &sp.bucket, &sp.sync, sp.previous.as_ref(), &paths, &format!("site {}", sp.name))
            .await
            .map_err(|e| anyhow::anyhow!("site {}: {e}", sp.name))?;
        let mut invalidation_id = None;
        if !paths.is_empty() {
            let dist =
                desired.get(&sp.distribution).ok_or_else(|| anyhow::anyhow!("site {} has no distribution", sp.name))?;
            let adapter =
                adapter(Kind::CloudfrontDistribution).ok_or_else(|| anyhow::anyhow!("no distribution adapter"))?;
            let live = adapter
                .observe(cx, dist)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("distribution of site {} not found", sp.name))?;
            let id = live.outputs.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            let reference = site::caller_reference(&id, &sp.sync, &paths);
            invalidation_id = site::invalidate(&cx.aws.cloudfront("us-east-1"), &id, &paths, &reference)
                .await
                .map_err(|e| anyhow::anyhow!("site {}: {e}", sp.name))?;
            // Invalidated: nothing is pending any more.
            site::write_manifest(&s3, &sp.bucket, &sp.sync.manifest)
                .await
                .map_err(|e| anyhow::anyhow!("site {}: {e}", sp.name))?;
        }
        for a in plan.artifacts.iter_mut() {
            if let ArtifactPlan::Site { name, result, .. } = a
                && *name == sp.name
            {
                *result = Some(SiteResult {
                    uploaded: report.uploaded,
                    deleted: report.deleted,
                    bytes_uploaded: report.bytes_uploaded,
                    invalidation_id: invalidation_id.clone(),
                    invalidated_paths: paths.clone(),
                });
            }
        }
    }
    Ok(())
}

pub(crate) fn count_files(dir: &Path) -> Option<u64> {
    if !dir.is_dir() {
        return None;
    }
    Some(
        ignore::WalkBuilder::new(dir)
            .standard_filters(false)
            .build()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .count() as u64,
    )
}
