//! Site sync: a folder of built files to an S3 bucket, deciding by content, never by
//! modification time. A file is uploaded when its MD5 differs from the object's ETag
//! (multipart objects: the multipart ETag capsule computes the same way, checked against
//! a sha256 kept in the object's metadata and the manifest), or when its content type or
//! Cache-Control changed. Headers of objects are remembered in a manifest object, so a
//! redeploy reads one listing and one small object instead of a HEAD per file.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use globset::{GlobBuilder, GlobMatcher};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::content_type;
use super::progress::Progress;
use crate::aws::{AwsError, AwsResultExt, ErrorKind, FoundExt};
use crate::config::types::HeaderRule;

/// Objects from this size on are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// Where capsule keeps what it uploaded (headers and hashes), inside the bucket.
pub const MANIFEST_KEY: &str = ".capsule/manifest.json";
const UPLOAD_CONCURRENCY: usize = 32;
/// Uploads between two manifest writes.
const MANIFEST_EVERY: usize = 500;

/// One local file and what its object must look like.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalFile {
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    /// The ETag S3 will give the object (unquoted): MD5, or `md5-of-part-md5s-N`.
    pub etag: String,
    pub md5_base64: Option<String>,
    /// sha256 of the whole file, kept in metadata for multipart objects.
    pub sha256: Option<String>,
    pub content_type: String,
    pub cache_control: Option<String>,
}

/// What the manifest remembers of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub etag: String,
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub objects: BTreeMap<String, ManifestEntry>,
    /// Paths a sync changed but has not invalidated yet: a sync killed between its uploads
    /// and its invalidation leaves them here, and the next one invalidates them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_invalidation: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    New,
    Content,
    Headers,
}

/// What a sync will do.
#[derive(Debug, Clone, Default)]
pub struct SyncPlan {
    /// Uploads in order: everything else first, `index.html` files last.
    pub upload: Vec<(LocalFile, Why)>,
    pub delete: Vec<String>,
    pub unchanged: u64,
    /// The whole local state, written as the manifest after a sync.
    pub manifest: Manifest,
}

/// Header rules compiled once.
pub struct Rules(Vec<(GlobMatcher, HeaderRule)>);

impl Rules {
    pub fn new(rules: &[HeaderRule]) -> Result<Rules, globset::Error> {
        let compiled = rules
            .iter()
            .map(|r| Ok((GlobBuilder::new(&r.glob).literal_separator(true).build()?.compile_matcher(), r.clone())))
            .collect::<Result<Vec<_>, globset::Error>>()?;
        Ok(Rules(compiled))
    }

    /// (content type, cache control) of `key`: the built-in table, then rules in order.
    pub fn headers(&self, key: &str) -> (String, Option<String>) {
        let mut ct = content_type::for_key(key);
        let mut cc = None;
        for (m, rule) in &self.0 {
            if m.is_match(key) {
                if let Some(t) = &rule.content_type {
                    ct = t.clone();
                }
                if let Some(c) = &rule.cache_control {
                    cc = Some(c.clone());
                }
            }
        }
        (ct, cc)
    }
}

/// Hashes one file in a single streamed pass (memory does not grow with its size). `size` is
/// what the scan saw; a file that grew since is still hashed whole.
pub fn hash_file(path: &Path, size: u64) -> std::io::Result<(String, Option<String>, Option<String>)> {
    let mut f = std::fs::File::open(path)?;
    // Sized to the file: a site is mostly small files, and a fresh 256 KiB buffer for each
    // cost more than hashing them (zeroed memory, and an mmap/munmap per file).
    let mut buf = vec![0u8; (size as usize).clamp(8 * 1024, 256 * 1024)];
    let multipart = size >= MULTIPART_THRESHOLD;
    let mut whole = Md5::new();
    let mut sha = Sha256::new();
    let mut part = Md5::new();
    let mut part_len = 0u64;
    let mut part_digests: Vec<u8> = Vec::new();
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if !multipart {
            whole.update(chunk);
            continue;
        }
        sha.update(chunk);
        while !chunk.is_empty() {
            let take = ((PART_SIZE - part_len) as usize).min(chunk.len());
            part.update(&chunk[..take]);
            part_len += take as u64;
            chunk = &chunk[take..];
            if part_len == PART_SIZE {
                part_digests.extend_from_slice(&std::mem::take(&mut part).finalize());
                part_len = 0;
            }
        }
    }
    if !multipart {
        let digest = whole.finalize();
        return Ok((hex::encode(digest), Some(base64::engine::general_purpose::STANDARD.encode(digest)), None));
    }
    if part_len > 0 {
        part_digests.extend_from_slice(&part.finalize());
    }
    let parts = part_digests.len() / 16;
    let etag = format!("{}-{parts}", hex::encode(Md5::digest(&part_digests)));
    Ok((etag, None, Some(hex::encode(sha.finalize()))))
}

/// Every file below `dir` with its key, hashes and headers. Hashing runs on all cores.
pub async fn scan(dir: &Path, rules: &Rules) -> anyhow::Result<Vec<LocalFile>> {
    if !dir.is_dir() {
        anyhow::bail!("site folder {} does not exist: build the site before planning or applying", dir.display());
    }
    let mut entries = Vec::new();
    for e in ignore::WalkBuilder::new(dir).standard_filters(false).hidden(false).build() {
        let e = e?;
        if !e.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let rel = e.path().strip_prefix(dir)?;
        let key = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        if key == ".git" || key.starts_with(".git/") || key == MANIFEST_KEY {
            continue;
        }
        let size = e.metadata()?.len();
        entries.push((key, e.into_path(), size));
    }
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2);
    let hashed = futures::stream::iter(entries)
        .map(|(key, path, size)| {
            tokio::task::spawn_blocking(move || hash_file(&path, size).map(|h| (key, path, size, h)))
        })
        .buffer_unordered(workers)
        .collect::<Vec<_>>()
        .await;
    let mut files = Vec::with_capacity(hashed.len());
    for h in hashed {
        let (key, path, size, (etag, md5_base64, sha256)) = h??;
        let (content_type, cache_control) = rules.headers(&key);
        files.push(LocalFile { key, path, size, etag, md5_base64, sha256, content_type, cache_control });
    }
    files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(files)
}

/// Decides uploads and deletes from the local files, the bucket listing (key -> ETag) and
/// the manifest of the previous sync. Pure.
pub fn diff(local: &[LocalFile], remote: &BTreeMap<String, String>, previous: Option<&Manifest>) -> SyncPlan {
    let mut plan = SyncPlan { manifest: Manifest { version: 1, ..Default::default() }, ..Default::default() };
    for f in local {
        plan.manifest.objects.insert(
            f.key.clone(),
            ManifestEntry {
                etag: f.etag.clone(),
                content_type: f.content_type.clone(),
                cache_control: f.cache_control.clone(),
                sha256: f.sha256.clone(),
            },
        );
        let why = match remote.get(&f.key) {
            None => Some(Why::New),
            Some(etag) => {
                let known = previous.and_then(|m| m.objects.get(&f.key)).filter(|e| e.etag == *etag);
                let same_content = if f.sha256.is_some() {
                    // Multipart: equal computed ETag, or the sha256 capsule recorded for it.
                    *etag == f.etag || known.is_some_and(|e| e.sha256 == f.sha256)
                } else {
                    *etag == f.etag
                };
                if !same_content {
                    Some(Why::Content)
                } else {
                    match known {
                        Some(e) if e.content_type == f.content_type && e.cache_control == f.cache_control => None,
                        // Headers unknown (no manifest) or different: upload again.
                        _ => Some(Why::Headers),
                    }
                }
            }
        };
        match why {
            Some(why) => plan.upload.push((f.clone(), why)),
            None => plan.unchanged += 1,
        }
    }
    let keep: std::collections::BTreeSet<&str> = local.iter().map(|f| f.key.as_str()).collect();
    plan.delete = remote.keys().filter(|k| !keep.contains(k.as_str()) && k.as_str() != MANIFEST_KEY).cloned().collect();
    // index.html files last: a page never links to assets that are not there yet.
    plan.upload.sort_by_key(|(f, _)| (is_index(&f.key), f.key.clone()));
    plan
}

fn is_index(key: &str) -> bool {
    key == "index.html" || key.ends_with("/index.html")
}

/// At most this many paths are invalidated one by one; more collapse to wildcards.
pub const MAX_PATHS: usize = 15;

/// Paths to invalidate after a sync: changed (not new) and deleted objects whose
/// Cache-Control is not immutable; an `index.html` also invalidates its directory path.
/// Many paths collapse to directory wildcards, then to `/*`.
pub fn invalidation_paths(plan: &SyncPlan, previous: Option<&Manifest>) -> Vec<String> {
    let immutable = |cc: Option<&String>| cc.is_some_and(|c| c.contains("immutable"));
    let mut keys: Vec<&str> = Vec::new();
    for (f, why) in &plan.upload {
        let was_immutable =
            previous.and_then(|m| m.objects.get(&f.key)).is_some_and(|e| immutable(e.cache_control.as_ref()));
        if *why != Why::New && !(immutable(f.cache_control.as_ref()) && was_immutable) {
            keys.push(&f.key);
        }
    }
    for k in &plan.delete {
        if !previous.and_then(|m| m.objects.get(k)).is_some_and(|e| immutable(e.cache_control.as_ref())) {
            keys.push(k);
        }
    }
    let mut paths: Vec<String> = previous.map(|m| m.pending_invalidation.clone()).unwrap_or_default();
    for k in keys {
        paths.push(invalidation_path(k));
        if is_index(k) {
            paths.push(invalidation_path(k.trim_end_matches("index.html")));
        }
    }
    paths.sort();
    paths.dedup();
    collapse(paths)
}

/// Characters CloudFront wants URL-encoded in an invalidation path: RFC 1738's unsafe ones,
/// `%` itself, and `*`, which would otherwise be a wildcard; non-ASCII is encoded as UTF-8
/// (docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation_Requests.html).
const INVALIDATION_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']')
    .add(b'~')
    .add(b'*');

/// The invalidation path of an object key: `/` and each segment URL-encoded.
fn invalidation_path(key: &str) -> String {
    format!("/{}", percent_encoding::utf8_percent_encode(key, INVALIDATION_UNSAFE))
}

fn collapse(paths: Vec<String>) -> Vec<String> {
    if paths.len() <= MAX_PATHS {
        return paths;
    }
    // One wildcard per top-level directory; files at the root stay as they are.
    let mut out: Vec<String> = paths
        .iter()
        .map(|p| match p[1..].split_once('/') {
            Some((dir, _)) => format!("/{dir}/*"),
            None => p.clone(),
        })
        .collect();
    out.sort();
    out.dedup();
    if out.len() <= MAX_PATHS { out } else { vec!["/*".to_string()] }
}

/// The bucket's objects: key -> ETag (unquoted).
pub async fn list_remote(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        for o in page.aws("s3:ListObjectsV2")?.contents() {
            if let (Some(k), Some(e)) = (o.key(), o.e_tag()) {
                out.insert(k.to_string(), e.trim_matches('"').to_string());
            }
        }
    }
    Ok(out)
}

pub async fn read_manifest(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<Manifest>, AwsError> {
    let Some(obj) = s3.get_object().bucket(bucket).key(MANIFEST_KEY).send().await.aws("s3:GetObject").found()? else {
        return Ok(None);
    };
    let bytes =
        obj.body.collect().await.map_err(|e| AwsError::new(ErrorKind::Transient, "s3:GetObject", e.to_string()))?;
    Ok(serde_json::from_slice(&bytes.into_bytes()).ok())
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub uploaded: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub bytes_uploaded: u64,
}

/// Uploads, then deletes, then records the manifest.
pub async fn sync(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    plan: &SyncPlan,
    previous: Option<&Manifest>,
    pending_invalidation: &[String],
    label: &str,
) -> Result<SyncReport, AwsError> {
    let total: u64 = plan.upload.iter().map(|(f, _)| f.size).sum();
    let progress = Progress::new(label, plan.upload.len() as u64, total);
    // The manifest is rewritten after every batch: it only ever describes objects as
    // capsule uploaded them, so a killed sync loses at most one batch of header knowledge.
    let mut recorded: Manifest = previous.cloned().unwrap_or_default();
    recorded.version = 1;
    recorded.pending_invalidation = pending_invalidation.to_vec();
    for f in plan.upload.iter().map(|(f, _)| f) {
        recorded.objects.remove(&f.key);
    }
    let split = plan.upload.iter().position(|(f, _)| is_index(&f.key)).unwrap_or(plan.upload.len());
    for phase in [&plan.upload[..split], &plan.upload[split..]] {
        for batch in phase.chunks(MANIFEST_EVERY) {
            let results = futures::stream::iter(batch)
                .map(|(f, _)| async {
                    let r = upload(s3, bucket, f).await;
                    progress.file_done(f.size);
                    r.map(|()| f.key.clone())
                })
                .buffer_unordered(UPLOAD_CONCURRENCY)
                .collect::<Vec<_>>()
                .await;
            let mut failed = None;
            for r in results {
                match r {
                    Ok(key) => {
                        if let Some(e) = plan.manifest.objects.get(&key) {
                            recorded.objects.insert(key, e.clone());
                        }
                    }
                    Err(e) => failed = Some(e),
                }
            }
            if let Some(e) = failed {
                progress.finish();
                let _ = write_manifest(s3, bucket, &recorded).await;
                return Err(e);
            }
            if batch.len() == MANIFEST_EVERY {
                write_manifest(s3, bucket, &recorded).await?;
            }
        }
    }
    progress.finish();
    for chunk in plan.delete.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| aws_sdk_s3::types::ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::new(ErrorKind::Invalid, "s3:DeleteObjects", e.to_string()))?;
        let delete = aws_sdk_s3::types::Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| AwsError::new(ErrorKind::Invalid, "s3:DeleteObjects", e.to_string()))?;
        let out = s3.delete_objects().bucket(bucket).delete(delete).send().await.aws("s3:DeleteObjects")?;
        if let Some(err) = out.errors().first() {
            return Err(AwsError::new(
                ErrorKind::Other,
                "s3:DeleteObjects",
                format!("{}: {}", err.key().unwrap_or_default(), err.message().unwrap_or_default()),
            ));
        }
    }
    let mut done = plan.manifest.clone();
    done.pending_invalidation = pending_invalidation.to_vec();
    write_manifest(s3, bucket, &done).await?;
    Ok(SyncReport {
        uploaded: plan.upload.len() as u64,
        deleted: plan.delete.len() as u64,
        unchanged: plan.unchanged,
        bytes_uploaded: total,
    })
}

pub async fn write_manifest(s3: &aws_sdk_s3::Client, bucket: &str, manifest: &Manifest) -> Result<(), AwsError> {
    let body = serde_json::to_vec(manifest).unwrap_or_default();
    s3.put_object()
        .bucket(bucket)
        .key(MANIFEST_KEY)
        .content_type("application/json")
        .cache_control("no-store")
        .body(body.into())
        .send()
        .await
        .aws("s3:PutObject")
        .map(|_| ())
}

/// Manifest entries for objects whose content matches but whose headers capsule does not
/// know (no manifest yet, or a sync killed before it recorded them), read with HEAD.
pub async fn recover_headers(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    local: &[LocalFile],
    remote: &BTreeMap<String, String>,
    previous: Option<Manifest>,
) -> Result<Option<Manifest>, AwsError> {
    let unknown: Vec<&LocalFile> = local
        .iter()
        .filter(|f| remote.get(&f.key).is_some_and(|etag| *etag == f.etag))
        .filter(|f| {
            previous.as_ref().and_then(|m| m.objects.get(&f.key)).is_none_or(|e| remote.get(&f.key) != Some(&e.etag))
        })
        .collect();
    if unknown.is_empty() {
        return Ok(previous);
    }
    let heads = futures::stream::iter(unknown)
        .map(|f| async move {
            let h = s3.head_object().bucket(bucket).key(&f.key).send().await.aws("s3:HeadObject")?;
            Ok::<_, AwsError>((
                f.key.clone(),
                ManifestEntry {
                    etag: h.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                    content_type: h.content_type().unwrap_or_default().to_string(),
                    cache_control: h.cache_control().map(str::to_string),
                    sha256: h.metadata().and_then(|m| m.get("sha256")).cloned(),
                },
            ))
        })
        .buffer_unordered(UPLOAD_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut manifest = previous.unwrap_or(Manifest { version: 1, ..Default::default() });
    for h in heads {
        let (key, entry) = h?;
        manifest.objects.insert(key, entry);
    }
    Ok(Some(manifest))
}

async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, f: &LocalFile) -> Result<(), AwsError> {
    let body_err =
        |e: aws_smithy_types::byte_stream::error::Error| AwsError::new(ErrorKind::Other, "read file", e.to_string());
    if f.size < MULTIPART_THRESHOLD {
        let body = aws_sdk_s3::primitives::ByteStream::from_path(&f.path).await.map_err(body_err)?;
        s3.put_object()
            .bucket(bucket)
            .key(&f.key)
            .body(body)
            .content_type(&f.content_type)
            .set_cache_control(f.cache_control.clone())
            .set_content_md5(f.md5_base64.clone())
            .send()
            .await
            .aws("s3:PutObject")?;
        return Ok(());
    }
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(&f.key)
        .content_type(&f.content_type)
        .set_cache_control(f.cache_control.clone())
        .set_metadata(f.sha256.clone().map(|s| std::collections::HashMap::from([("sha256".to_string(), s)])))
        .send()
        .await
        .aws("s3:CreateMultipartUpload")?;
    let upload_id = created.upload_id().unwrap_or_default().to_string();
    let mut parts = Vec::new();
    let mut offset = 0u64;
    let mut number = 1;
    while offset < f.size {
        let length = PART_SIZE.min(f.size - offset);
        let body = aws_sdk_s3::primitives::ByteStream::read_from()
            .path(&f.path)
            .offset(offset)
            .length(aws_sdk_s3::primitives::Length::Exact(length))
            .build()
            .await
            .map_err(body_err)?;
        let done = s3
            .upload_part()
            .bucket(bucket)
            .key(&f.key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(body)
            .send()
            .await;
        let done = match done.aws("s3:UploadPart") {
            Ok(d) => d,
            Err(e) => {
                let _ = s3.abort_multipart_upload().bucket(bucket).key(&f.key).upload_id(&upload_id).send().await;
                return Err(e);
            }
        };
        parts.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(number)
                .set_e_tag(done.e_tag().map(str::to_string))
                .build(),
        );
        offset += length;
        number += 1;
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(&f.key)
        .upload_id(&upload_id)
        .multipart_upload(aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .aws("s3:CompleteMultipartUpload")?;
    Ok(())
}

/// Creates an invalidation, retrying while CloudFront has too many in progress. The caller
/// reference is derived from the deploy, so a retried apply does not invalidate twice.
pub async fn invalidate(
    cf: &aws_sdk_cloudfront::Client,
    distribution_id: &str,
    paths: &[String],
    caller_reference: &str,
) -> Result<Option<String>, AwsError> {
    if paths.is_empty() {
        return Ok(None);
    }
    let batch = aws_sdk_cloudfront::types::InvalidationBatch::builder()
        .caller_reference(caller_reference)
        .paths(
            aws_sdk_cloudfront::types::Paths::builder()
                .quantity(paths.len() as i32)
                .set_items(Some(paths.to_vec()))
                .build()
                .map_err(|e| AwsError::new(ErrorKind::Invalid, "cloudfront:CreateInvalidation", e.to_string()))?,
        )
        .build()
        .map_err(|e| AwsError::new(ErrorKind::Invalid, "cloudfront:CreateInvalidation", e.to_string()))?;
    let mut wait = Duration::from_secs(5);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        match cf
            .create_invalidation()
            .distribution_id(distribution_id)
            .invalidation_batch(batch.clone())
            .send()
            .await
            .aws("cloudfront:CreateInvalidation")
        {
            Ok(out) => return Ok(out.invalidation().map(|i| i.id().to_string())),
            Err(e) if e.kind == ErrorKind::Throttled && tokio::time::Instant::now() + wait < deadline => {
                eprintln!("CloudFront has too many invalidations in progress; retrying in {}s", wait.as_secs());
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A caller reference for an invalidation: the distribution and the manifest's content.
pub fn caller_reference(distribution_id: &str, plan: &SyncPlan, paths: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(distribution_id.as_bytes());
    h.update(serde_json::to_vec(&plan.manifest).unwrap_or_default());
    for p in paths {
        h.update(p.as_bytes());
    }
    format!("capsule-{}", &hex::encode(h.finalize())[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, etag: &str, cc: Option<&str>) -> LocalFile {
        LocalFile {
            key: key.into(),
            path: PathBuf::from(key),
            size: 1,
            etag: etag.into(),
            md5_base64: None,
            sha256: None,
            content_type: content_type::for_key(key),
            cache_control: cc.map(str::to_string),
        }
    }

    fn manifest_of(files: &[LocalFile]) -> Manifest {
        diff(files, &BTreeMap::new(), None).manifest
    }

    fn remote(files: &[LocalFile]) -> BTreeMap<String, String> {
        files.iter().map(|f| (f.key.clone(), f.etag.clone())).collect()
    }

    #[test]
    fn unchanged_content_and_headers_upload_nothing() {
        let files = vec![file("index.html", "a", None), file("app.js", "b", Some("max-age=60"))];
        let plan = diff(&files, &remote(&files), Some(&manifest_of(&files)));
        assert!(plan.upload.is_empty() && plan.delete.is_empty());
        assert_eq!(plan.unchanged, 2);
        assert!(invalidation_paths(&plan, Some(&manifest_of(&files))).is_empty());
    }

    #[test]
    fn content_header_new_and_deleted_files_are_told_apart() {
        let before = vec![file("index.html", "a", None), file("app.js", "b", None), file("old.css", "c", None)];
        let now =
            vec![file("index.html", "A", None), file("app.js", "b", Some("max-age=60")), file("new.png", "d", None)];
        let previous = manifest_of(&before);
        let plan = diff(&now, &remote(&before), Some(&previous));
        let ups: Vec<(&str, Why)> = plan.upload.iter().map(|(f, w)| (f.key.as_str(), *w)).collect();
        assert_eq!(
            ups,
            [("app.js", Why::Headers), ("new.png", Why::New), ("index.html", Why::Content)],
            "index.html last"
        );
        assert_eq!(plan.delete, ["old.css"]);
        assert_eq!(invalidation_paths(&plan, Some(&previous)), ["/", "/app.js", "/index.html", "/old.css"]);
    }

    #[test]
    fn without_a_manifest_headers_are_unknown_and_files_upload_again() {
        let files = vec![file("a.txt", "a", None)];
        let plan = diff(&files, &remote(&files), None);
        assert_eq!(plan.upload[0].1, Why::Headers);
    }

    #[test]
    fn invalidation_paths_are_url_encoded_and_a_star_in_a_key_is_no_wildcard() {
        assert_eq!(invalidation_path("docs/a b.html"), "/docs/a%20b.html");
        assert_eq!(invalidation_path("café/menü.html"), "/caf%C3%A9/men%C3%BC.html");
        assert_eq!(invalidation_path("sale*.html"), "/sale%2A.html");
        assert_eq!(invalidation_path("100%.txt"), "/100%25.txt");
        assert_eq!(invalidation_path("assets/app-1.js"), "/assets/app-1.js");
        assert_eq!(invalidation_path(""), "/");
    }

    #[test]
    fn paths_a_killed_sync_left_pending_are_invalidated_next_time() {
        let files = vec![file("index.html", "a", None)];
        let mut previous = manifest_of(&files);
        previous.pending_invalidation = vec!["/app.js".into()];
        let plan = diff(&files, &remote(&files), Some(&previous));
        assert!(plan.upload.is_empty());
        assert_eq!(invalidation_paths(&plan, Some(&previous)), ["/app.js"]);
    }

    #[test]
    fn immutable_objects_are_not_invalidated() {
        let before = vec![file("assets/x.js", "a", Some("public, max-age=31536000, immutable"))];
        let now: Vec<LocalFile> = vec![];
        let plan = diff(&now, &remote(&before), Some(&manifest_of(&before)));
        assert_eq!(plan.delete, ["assets/x.js"]);
        assert!(invalidation_paths(&plan, Some(&manifest_of(&before))).is_empty());
    }

    #[test]
    fn many_paths_collapse_to_wildcards() {
        let before: Vec<LocalFile> = (0..20)
            .map(|i| file(&format!("docs/p{i}.html"), "a", None))
            .chain([file("index.html", "a", None)])
            .collect();
        let now: Vec<LocalFile> = before.iter().map(|f| LocalFile { etag: "b".into(), ..f.clone() }).collect();
        let previous = manifest_of(&before);
        let plan = diff(&now, &remote(&before), Some(&previous));
        assert_eq!(invalidation_paths(&plan, Some(&previous)), ["/", "/docs/*", "/index.html"]);
        let spread: Vec<LocalFile> = (0..20).map(|i| file(&format!("d{i}/p.html"), "a", None)).collect();
        let changed: Vec<LocalFile> = spread.iter().map(|f| LocalFile { etag: "b".into(), ..f.clone() }).collect();
        let plan = diff(&changed, &remote(&spread), Some(&manifest_of(&spread)));
        assert_eq!(invalidation_paths(&plan, Some(&manifest_of(&spread))), ["/*"]);
    }

    #[test]
    fn header_rules_apply_in_order_over_the_builtin_table() {
        let rules = Rules::new(&[
            HeaderRule { glob: "assets/**".into(), cache_control: Some("immutable".into()), content_type: None },
            HeaderRule {
                glob: "**/*.js".into(),
                cache_control: Some("max-age=5".into()),
                content_type: Some("application/x-js".into()),
            },
        ])
        .unwrap();
        assert_eq!(
            rules.headers("assets/a.css"),
            ("text/css; charset=utf-8".to_string(), Some("immutable".to_string()))
        );
        assert_eq!(rules.headers("assets/a.js"), ("application/x-js".to_string(), Some("max-age=5".to_string())));
        assert_eq!(rules.headers("index.html"), ("text/html; charset=utf-8".to_string(), None));
        let top =
            Rules::new(&[HeaderRule { glob: "*.css".into(), cache_control: Some("x".into()), content_type: None }])
                .unwrap();
        assert_eq!(top.headers("style.css").1.as_deref(), Some("x"));
        assert_eq!(top.headers("a/style.css").1, None, "`*` does not cross `/`");
    }

    #[test]
    fn hashes_are_streamed_md5_or_multipart_etags() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("s");
        std::fs::write(&small, b"hello").unwrap();
        let (etag, b64, sha) = hash_file(&small, 5).unwrap();
        assert_eq!(etag, "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(b64.as_deref(), Some("XUFAKrxLKna5cZ2REBfFkg=="));
        assert!(sha.is_none());
        // 17 MiB: parts of 8 + 8 + 1 MiB.
        let big = dir.path().join("b");
        let data: Vec<u8> = (0..17 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&big, &data).unwrap();
        let (etag, _, sha) = hash_file(&big, data.len() as u64).unwrap();
        let mut parts = Vec::new();
        for chunk in data.chunks(PART_SIZE as usize) {
            parts.extend_from_slice(&Md5::digest(chunk));
        }
        assert_eq!(etag, format!("{}-3", hex::encode(Md5::digest(&parts))));
        assert_eq!(sha, Some(hex::encode(Sha256::digest(&data))));
    }

    #[test]
    fn a_file_larger_than_its_scanned_size_is_hashed_whole() {
        // The buffer is sized from the scan; a file that grew in between needs several reads.
        let dir = tempfile::tempdir().unwrap();
        let grown = dir.path().join("g");
        let data: Vec<u8> = (0..300 * 1024u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&grown, &data).unwrap();
        let (etag, _, _) = hash_file(&grown, 5).unwrap();
        assert_eq!(etag, hex::encode(Md5::digest(&data)));
    }
}
