//! The apply lock: no two applies of one capsule environment at once, whoever starts them
//! (two workflow runs, a laptop and CI). One S3 object per capsule environment, written with
//! a conditional `PutObject` (`If-None-Match: *`): S3 lets exactly one writer create it. The
//! object says who holds the lock, since when, and from which run; `capsule unlock` breaks a
//! lock whose holder is gone (docs/github.md).

use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration, Tag};
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, AwsError, AwsResultExt, ErrorKind, FoundExt};
use crate::config::Project;
use crate::engine;

/// The bucket holding the locks of one account and region. It holds nothing else and is
/// never deleted by capsule.
pub fn bucket_name(account: &str, region: &str) -> String {
    format!("capsule-locks-{account}-{region}")
}

fn key(capsule: &str, env: &str) -> String {
    format!("locks/{capsule}/{env}.json")
}

/// What the lock object says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Who: the GitHub actor and workflow, or user@host.
    pub owner: String,
    /// The workflow run, when the holder runs in GitHub Actions.
    #[serde(default)]
    pub run_url: Option<String>,
    /// RFC 3339, UTC.
    pub acquired_at: String,
    /// Unique per acquisition.
    pub token: String,
    /// Where the holder runs (user@host runs): with `pid`, lets a later apply on the same
    /// machine see that the holder died.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub pid: Option<u32>,
    /// The GitHub Actions run and attempt: a re-run of a cancelled job takes over the lock
    /// its earlier attempt left.
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub run_attempt: Option<u32>,
}

impl Holder {
    /// This process, as a lock holder.
    pub fn this_process() -> Holder {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let host = var("HOSTNAME")
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
            .filter(|h| !h.is_empty());
        let pid = std::process::id();
        let owner = match (var("GITHUB_ACTOR"), var("GITHUB_WORKFLOW")) {
            (Some(actor), Some(workflow)) => format!("{actor} (workflow \"{workflow}\")"),
            _ => format!(
                "{}@{} (pid {pid})",
                var("USER").unwrap_or_else(|| "someone".into()),
                host.as_deref().unwrap_or("localhost")
            ),
        };
        let run_url = match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID")) {
            (Some(server), Some(repo), Some(run)) => Some(format!("{server}/{repo}/actions/runs/{run}")),
            _ => None,
        };
        Holder {
            owner,
            run_url,
            acquired_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            token: format!("{:032x}", rand::random::<u128>()),
            host,
            pid: Some(pid),
            run_id: var("GITHUB_RUN_ID"),
            run_attempt: var("GITHUB_RUN_ATTEMPT").and_then(|a| a.parse().ok()),
        }
    }

    /// Why `self` (about to take the lock) may take over the lock `other` holds: `other` is
    /// certainly gone. Only two cases are certain: a process on this same machine that no
    /// longer exists, and an earlier attempt of this same workflow run (GitHub never runs
    /// two attempts of one run at once). Anything else waits for `capsule unlock`.
    pub fn supersedes(&self, other: &Holder) -> Option<String> {
        if let (Some(run), Some(theirs), Some(mine)) = (&other.run_id, other.run_attempt, self.run_attempt)
            && Some(run) == self.run_id.as_ref()
            && theirs < mine
        {
            return Some(format!("it was left by attempt {theirs} of this workflow run"));
        }
        if let (Some(host), Some(pid)) = (&other.host, other.pid)
            && other.run_id.is_none()
            && Some(host) == self.host.as_ref()
            && pid != std::process::id()
            && cfg!(target_os = "linux")
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            return Some(format!("its holder (pid {pid} on {host}) no longer runs"));
        }
        None
    }

    /// A holder whose record could not be read.
    pub fn unknown(owner: &str) -> Holder {
        Holder {
            owner: owner.into(),
            run_url: None,
            acquired_at: "unknown".into(),
            token: String::new(),
            host: None,
            pid: None,
            run_id: None,
            run_attempt: None,
        }
    }

    /// How long ago the lock was taken, when its timestamp parses.
    pub fn age(&self) -> Option<Duration> {
        let at = humantime::parse_rfc3339(&self.acquired_at).ok()?;
        SystemTime::now().duration_since(at).ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{capsule}/{env} is locked: another apply is running.\n  held by {owner} since {since}{run}\n\
         Wait for it to finish. If that run is gone (cancelled or crashed), break the lock with\n  \
         capsule unlock {capsule} {env}",
        owner = holder.owner,
        since = since(holder),
        run = holder.run_url.as_ref().map(|u| format!("\n  run: {u}")).unwrap_or_default()
    )]
    Held { capsule: String, env: String, holder: Holder },
    #[error("the apply lock of {capsule}/{env}: {source}")]
    Aws { capsule: String, env: String, source: AwsError },
}

fn since(h: &Holder) -> String {
    match h.age() {
        Some(age) => {
            format!("{} ({} ago)", h.acquired_at, humantime::format_duration(Duration::from_secs(age.as_secs())))
        }
        None => h.acquired_at.clone(),
    }
}

/// A held lock. Release it with [`Lock::release`]; dropped without release (a crash), it
/// stays until `capsule unlock`.
#[derive(Debug)]
pub struct Lock {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    pub holder: Holder,
    /// The lock object's ETag as written: release deletes only that object.
    etag: String,
}

/// Takes the lock of one capsule environment, or says who holds it.
pub async fn acquire(aws: &Aws, account: &str, region: &str, capsule: &str, env: &str) -> Result<Lock, LockError> {
    let wrap = |source| LockError::Aws { capsule: capsule.into(), env: env.into(), source };
    let s3 = aws.s3(region);
    let bucket = bucket_name(account, region);
    ensure_bucket(&s3, &bucket, region).await.map_err(wrap)?;
    let key = key(capsule, env);
    let holder = Holder::this_process();
    let body = serde_json::to_vec_pretty(&holder).expect("a holder serialises");
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .if_none_match("*")
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await
        .aws("s3:PutObject");
    match put {
        Ok(out) => Ok(Lock { s3, bucket, key, holder, etag: out.e_tag.unwrap_or_default() }),
        Err(e) if e.kind == ErrorKind::Conflict => {
            // Someone else created it first; read who. If it vanished in between, the
            // caller simply retries later: report the conflict as held by an unknown owner.
            let (theirs, etag) = match read(&s3, &bucket, &key).await.map_err(wrap)? {
                Some(found) => found,
                None => (Holder::unknown("(released while checking)"), String::new()),
            };
            if let Some(why) = holder.supersedes(&theirs) {
                // Compare-and-swap on the stale object's ETag: of several takers, one wins.
                let body = serde_json::to_vec_pretty(&holder).expect("a holder serialises");
                let swapped = s3
                    .put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .if_match(&etag)
                    .content_type("application/json")
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .aws("s3:PutObject");
                match swapped {
                    Ok(out) => {
                        eprintln!("Took over the apply lock of {capsule}/{env} from {} ({why}).", theirs.owner);
                        let etag = out.e_tag.unwrap_or_default();
                        return Ok(Lock { s3, bucket, key, holder, etag });
                    }
                    Err(e) if e.kind != ErrorKind::Conflict && !e.is_not_found() => return Err(wrap(e)),
                    Err(_) => {
                        let now = read(&s3, &bucket, &key).await.map_err(wrap)?;
                        let holder =
                            now.map(|(h, _)| h).unwrap_or_else(|| Holder::unknown("(released while checking)"));
                        return Err(LockError::Held { capsule: capsule.into(), env: env.into(), holder });
                    }
                }
            }
            Err(LockError::Held { capsule: capsule.into(), env: env.into(), holder: theirs })
        }
        Err(e) => Err(wrap(e)),
    }
}

impl Lock {
    /// Releases the lock if this process still holds it (it may have been broken and taken
    /// by another): a conditional delete on the ETag it wrote.
    pub async fn release(self) -> Result<(), AwsError> {
        let deleted = self.s3.delete_object().bucket(&self.bucket).key(&self.key).if_match(&self.etag).send().await;
        match deleted.aws("s3:DeleteObject") {
            Err(e) if e.kind == ErrorKind::Conflict || e.is_not_found() => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

/// Who holds the lock of a capsule environment, if anyone.
pub async fn holder(
    aws: &Aws,
    account: &str,
    region: &str,
    capsule: &str,
    env: &str,
) -> Result<Option<Holder>, AwsError> {
    Ok(read(&aws.s3(region), &bucket_name(account, region), &key(capsule, env)).await?.map(|(h, _)| h))
}

/// Breaks the lock of a capsule environment whatever holds it; returns the holder it removed.
pub async fn break_lock(
    aws: &Aws,
    account: &str,
    region: &str,
    capsule: &str,
    env: &str,
) -> Result<Option<Holder>, AwsError> {
    let s3 = aws.s3(region);
    let (bucket, key) = (bucket_name(account, region), key(capsule, env));
    let held = read(&s3, &bucket, &key).await?;
    if held.is_some() {
        s3.delete_object().bucket(&bucket).key(&key).send().await.aws("s3:DeleteObject")?;
    }
    Ok(held.map(|(h, _)| h))
}

/// `capsule unlock`: breaks a stale apply lock of a declared capsule environment and says
/// whose it was.
pub async fn run_unlock(project: &Project, capsule: &str, env: &str) -> anyhow::Result<()> {
    let c = project.capsule(capsule).ok_or_else(|| anyhow::anyhow!("no capsule named `{capsule}`"))?;
    c.environment(env).ok_or_else(|| anyhow::anyhow!("capsule `{capsule}` has no environment `{env}`"))?;
    let session = engine::Session::connect().await?;
    let region = engine::region_of(&session, c, env);
    match break_lock(&session.aws, &session.account, &region, capsule, env).await? {
        Some(h) => println!(
            "Broke the apply lock of {capsule}/{env}, held by {} since {}{}.",
            h.owner,
            h.acquired_at,
            h.run_url.map(|u| format!(" ({u})")).unwrap_or_default()
        ),
        None => println!("{capsule}/{env} was not locked."),
    }
    Ok(())
}

/// An object of the lock bucket (a lock, a preview record): its bytes and ETag, if it exists.
pub(crate) async fn get_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(bytes::Bytes, String)>, AwsError> {
    let Some(out) = s3.get_object().bucket(bucket).key(key).send().await.aws("s3:GetObject").found()? else {
        return Ok(None);
    };
    let etag = out.e_tag.clone().unwrap_or_default();
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::new(ErrorKind::Transient, "s3:GetObject", e.to_string()))?
        .into_bytes();
    Ok(Some((bytes, etag)))
}

/// The lock object's holder and ETag, if the object exists.
async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Option<(Holder, String)>, AwsError> {
    let Some((bytes, etag)) = get_object(s3, bucket, key).await? else { return Ok(None) };
    let holder = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Holder::unknown(&format!("(unreadable lock object s3://{bucket}/{key})")));
    Ok(Some((holder, etag)))
}

/// Creates the lock bucket once per account and region: private, tagged, versioning off.
pub(crate) async fn ensure_bucket(s3: &aws_sdk_s3::Client, bucket: &str, region: &str) -> Result<(), AwsError> {
    if s3.head_bucket().bucket(bucket).send().await.aws("s3:HeadBucket").found()?.is_some() {
        return Ok(());
    }
    let tag = Tag::builder().key("managed-by").value("capsule").build().expect("key and value are set");
    let mut config = CreateBucketConfiguration::builder().tags(tag);
    if region != "us-east-1" {
        config = config.location_constraint(BucketLocationConstraint::from(region));
    }
    match s3
        .create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(config.build())
        .send()
        .await
        .aws("s3:CreateBucket")
    {
        // Another apply created it a moment ago: fine.
        Err(e) if e.kind != ErrorKind::Conflict => return Err(e),
        _ => {}
    }
    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(block)
        .send()
        .await
        .aws("s3:PutPublicAccessBlock")?;
    Ok(())
}
