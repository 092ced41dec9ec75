//! The previews that exist (DESIGN sections 1 and 2): one small record per preview in the
//! account's lock bucket (`previews/<capsule>/pr-<N>.json`), written before the preview's first
//! resource and deleted after its last, so a killed deploy or teardown is still found; and
//! `capsule preview list|sweep`, which read AWS, not the files, to know what exists.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, AwsError, AwsResultExt, ErrorKind};
use crate::config::Project;
use crate::deploy::{self, Options};
use crate::engine::Goal;
use crate::engine::{self, Session};
use crate::lock;

/// One preview environment, as its record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub capsule: String,
    /// `pr-<N>`.
    pub environment: String,
    /// The template it was made from.
    pub template: String,
    pub pull_request: u64,
    /// `owner/repo`, when made by `github preview`.
    #[serde(default)]
    pub repository: Option<String>,
    /// The commit last deployed.
    #[serde(default)]
    pub head_sha: Option<String>,
    /// RFC 3339, UTC: when the preview was first deployed.
    pub created_at: String,
    /// The template's `ttl` when it was last deployed, in seconds.
    pub ttl_seconds: u64,
    pub region: String,
}

impl Record {
    /// How long the preview has existed (zero when the record's time cannot be read).
    pub fn age(&self) -> Duration {
        humantime::parse_rfc3339(&self.created_at)
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default()
    }

    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_seconds)
    }
}

const PREFIX: &str = "previews/";

fn key(capsule: &str, env: &str) -> String {
    format!("{PREFIX}{capsule}/{env}.json")
}

/// Writes `record`, keeping the creation time of an earlier record of the same preview.
pub async fn register(aws: &Aws, account: &str, mut record: Record) -> Result<Record, AwsError> {
    let s3 = aws.s3(&record.region);
    let bucket = lock::bucket_name(account, &record.region);
    lock::ensure_bucket(&s3, &bucket, &record.region).await?;
    if let Some(old) = read(&s3, &bucket, &key(&record.capsule, &record.environment)).await? {
        record.created_at = old.created_at;
    }
    let body = serde_json::to_vec_pretty(&record).expect("a record serialises");
    s3.put_object()
        .bucket(&bucket)
        .key(key(&record.capsule, &record.environment))
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await
        .aws("s3:PutObject")?;
    Ok(record)
}

/// Deletes the record of a preview that is gone.
pub async fn forget(aws: &Aws, account: &str, region: &str, capsule: &str, env: &str) -> Result<(), AwsError> {
    let bucket = lock::bucket_name(account, region);
    aws.s3(region).delete_object().bucket(bucket).key(key(capsule, env)).send().await.aws("s3:DeleteObject")?;
    Ok(())
}

async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Option<Record>, AwsError> {
    let Some((bytes, _)) = lock::get_object(s3, bucket, key).await? else { return Ok(None) };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        AwsError::new(ErrorKind::Invalid, "s3:GetObject", format!("s3://{bucket}/{key} is not a preview record: {e}"))
    })
}

/// Every preview of `capsule` recorded in `region`, oldest first.
pub async fn list(aws: &Aws, account: &str, region: &str, capsule: &str) -> Result<Vec<Record>, AwsError> {
    let s3 = aws.s3(region);
    let bucket = lock::bucket_name(account, region);
    let prefix = format!("{PREFIX}{capsule}/");
    let mut pages = s3.list_objects_v2().bucket(&bucket).prefix(&prefix).into_paginator().send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        match page.aws("s3:ListObjectsV2") {
            Ok(p) => keys.extend(p.contents().iter().filter_map(|o| o.key().map(str::to_string))),
            // No lock bucket in this region yet: no preview either.
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    }
    let mut out = Vec::new();
    for k in keys {
        if let Some(r) = read(&s3, &bucket, &k).await? {
            out.push(r);
        }
    }
    out.sort_by(|a, b| (&a.created_at, &a.capsule, &a.environment).cmp(&(&b.created_at, &b.capsule, &b.environment)));
    Ok(out)
}

/// The regions `capsule`'s environments deploy to, and the session's default one.
fn regions(session: &Session, capsule: &crate::config::Capsule) -> BTreeSet<String> {
    let mut out = BTreeSet::from([session.default_region.clone()]);
    out.extend(capsule.environments.iter().map(|e| engine::region_of(session, capsule, &e.name)));
    out
}

/// Every recorded preview of the project's capsules, in the regions they deploy to. Only
/// the project's: the deploy role may read its own capsules' records only (`capsule policy`),
/// and other repositories' capsules may share the account.
pub async fn list_all(session: &Session, project: &Project) -> Result<Vec<Record>, AwsError> {
    let mut out = Vec::new();
    for c in &project.capsules {
        for region in regions(session, c) {
            out.extend(list(&session.aws, &session.account, &region, &c.name).await?);
        }
    }
    out.sort_by(|a, b| (&a.created_at, &a.capsule, &a.environment).cmp(&(&b.created_at, &b.capsule, &b.environment)));
    Ok(out)
}

/// Destroys one preview (its record goes last, `untrack`); `Ok(true)` when there was nothing
/// to delete.
pub async fn destroy(session: &Session, project: &Project, i: usize, env: &str) -> Result<bool, String> {
    let opts = Options { allow_destroy: true, goal: Goal::Nothing, human: true, color: false, head: None };
    let run = deploy::apply_all(session, project, &[(i, env.to_string())], &opts).await;
    if !run.ok {
        return Err(run.refused.or(run.error).unwrap_or_else(|| "a delete failed (see the job's log)".into()));
    }
    Ok(run.doc.summary.delete == 0)
}

/// A duration for people, to the minute (`2h 14m`, `3days`).
pub fn rounded(d: Duration) -> String {
    let secs = d.as_secs();
    humantime::format_duration(Duration::from_secs(secs - secs % 60)).to_string()
}

/// `capsule preview list`: every preview recorded in AWS, with its pull request, age and TTL.
pub async fn run_list(project: &Project, json: bool) -> anyhow::Result<()> {
    let session = Session::connect().await?;
    let records = list_all(&session, project).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&records)?);
        return Ok(());
    }
    if records.is_empty() {
        println!("No preview environment exists.");
        return Ok(());
    }
    println!("{:<24} {:<10} {:>6} {:<14} {:<10} {:<12} HEAD", "CAPSULE", "ENV", "PR", "AGE", "TTL", "REGION");
    for r in &records {
        let expired = if r.age() > r.ttl() { " (expired)" } else { "" };
        println!(
            "{:<24} {:<10} {:>6} {:<14} {:<10} {:<12} {}{expired}",
            r.capsule,
            r.environment,
            format!("#{}", r.pull_request),
            rounded(r.age()),
            rounded(r.ttl()),
            r.region,
            r.head_sha.as_deref().map(|h| &h[..h.len().min(7)]).unwrap_or("-"),
        );
    }
    Ok(())
}

/// Why a preview is swept, or `None` to keep it.
async fn sweep_reason(r: &Record, older_than: Option<Duration>) -> Option<String> {
    let limit = older_than.unwrap_or(r.ttl());
    if r.age() >= limit {
        return Some(format!("{} old, limit {}", rounded(r.age()), rounded(limit)));
    }
    let repo = r.repository.as_deref()?;
    match crate::github::pull_request_closed(repo, r.pull_request).await {
        Some(Ok(true)) => Some(format!("pull request #{} is closed", r.pull_request)),
        Some(Err(e)) => {
            eprintln!("warning: could not ask GitHub about pull request #{}: {e}", r.pull_request);
            None
        }
        _ => None,
    }
}

/// `capsule preview sweep`: destroys the previews older than their TTL (or `older_than`) and
/// those whose pull request is closed. `Ok(false)` when one could not be destroyed.
pub async fn run_sweep(project: &Project, older_than: Option<Duration>) -> anyhow::Result<bool> {
    let session = Session::connect().await?;
    let mut ok = true;
    let (mut swept, mut kept) = (0, 0);
    for r in list_all(&session, project).await? {
        // Other repositories' capsules may share the account: theirs to sweep, not ours.
        let Some(c) = project.capsule(&r.capsule).filter(|c| c.preview_template().is_some()) else {
            println!("Skipping {}/{}: its capsule has no preview template under this root.", r.capsule, r.environment);
            continue;
        };
        let Some(reason) = sweep_reason(&r, older_than).await else {
            kept += 1;
            continue;
        };
        println!("Sweeping {}/{} ({reason}).", r.capsule, r.environment);
        let outcome = match c.with_preview(&r.environment) {
            Err(e) => Err(e),
            Ok(with) => {
                let mut one = project.clone();
                let i = one.capsules.iter().position(|x| x.name == r.capsule).expect("found above");
                one.capsules[i] = with;
                destroy(&session, &one, i, &r.environment).await.map(|_| ())
            }
        };
        match outcome {
            Ok(()) => swept += 1,
            Err(e) => {
                eprintln!("Could not sweep {}/{}: {e}", r.capsule, r.environment);
                ok = false;
            }
        }
    }
    println!("Swept {swept} preview(s); {kept} kept.");
    Ok(ok)
}

/// Before an apply of a preview (`pr-<N>`) towards its declared state: records it, so that it
/// is listed and swept whoever made it (`github preview` or `capsule apply --env pr-7`).
pub async fn track(
    session: &Session,
    capsule: &crate::config::Capsule,
    env: &str,
    opts: &Options,
) -> anyhow::Result<()> {
    let (Some(number), Goal::Declared) = (crate::config::preview::number_of(env), opts.goal) else { return Ok(()) };
    let Some(settings) = capsule.environment(env).and_then(|e| e.preview.clone()) else { return Ok(()) };
    let record = Record {
        capsule: capsule.name.clone(),
        environment: env.to_string(),
        template: settings.template.unwrap_or_default(),
        pull_request: number,
        repository: std::env::var("GITHUB_REPOSITORY").ok().filter(|r| !r.is_empty()),
        head_sha: opts.head.clone(),
        created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        ttl_seconds: settings.ttl.as_secs(),
        region: engine::region_of(session, capsule, env),
    };
    register(&session.aws, &session.account, record).await?;
    Ok(())
}

/// After a preview was destroyed completely: forgets its record (last, so that a teardown
/// killed before this point is still found by the sweep).
pub async fn untrack(
    session: &Session,
    capsule: &crate::config::Capsule,
    env: &str,
    opts: &Options,
) -> anyhow::Result<()> {
    if crate::config::preview::number_of(env).is_none() || opts.goal != Goal::Nothing {
        return Ok(());
    }
    let region = engine::region_of(session, capsule, env);
    forget(&session.aws, &session.account, &region, &capsule.name, env).await?;
    Ok(())
}
