//! The S3 server of bench/site_sync's second run: objects on disk through s3s-fs (crates.io),
//! which answers from files and does not spend CPU per listed key the way the emulator does.
//! What this adds to s3s-fs is what capsule's site apply needs and s3s-fs lacks, kept in
//! memory: ListObjectsV2 with ETags (capsule compares them with its content hashes; s3s-fs
//! lists none, and walks the whole bucket for every page), from an index of the objects
//! written through this server, and the bucket settings (tags, policy, public access block,
//! ownership, encryption, versioning). So it starts on an empty ROOT. A benchmark peer, not
//! a test bed: it checks no request beyond what s3s itself checks.
//!
//!     capsule-bench-s3s-server ROOT PORT ACCESS_KEY SECRET_KEY

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Mutex;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;

#[derive(Default, Clone)]
struct BucketSettings {
    tags: Option<TagSet>,
    policy: Option<String>,
    public_access_block: Option<PublicAccessBlockConfiguration>,
    ownership: Option<OwnershipControls>,
    encryption: Option<ServerSideEncryptionConfiguration>,
    versioning: Option<BucketVersioningStatus>,
}

/// What a listing says of an object.
#[derive(Clone)]
struct Listed {
    etag: ETag,
    size: i64,
    modified: Timestamp,
}

struct Server {
    fs: FileSystem,
    root: PathBuf,
    /// bucket -> key -> what was written through this server, in key order.
    index: Mutex<HashMap<String, BTreeMap<String, Listed>>>,
    settings: Mutex<HashMap<String, BucketSettings>>,
}

impl Server {
    fn bucket_exists(&self, bucket: &str) -> S3Result<()> {
        if self.root.join(bucket).is_dir() { Ok(()) } else { Err(s3_error!(NoSuchBucket)) }
    }

    fn read<T>(&self, bucket: &str, f: impl FnOnce(&BucketSettings) -> Option<T>) -> S3Result<Option<T>> {
        self.bucket_exists(bucket)?;
        let settings = self.settings.lock().map_err(|_| s3_error!(InternalError))?;
        Ok(settings.get(bucket).and_then(f))
    }

    fn write(&self, bucket: &str, f: impl FnOnce(&mut BucketSettings)) -> S3Result<()> {
        self.bucket_exists(bucket)?;
        let mut settings = self.settings.lock().map_err(|_| s3_error!(InternalError))?;
        f(settings.entry(bucket.to_string()).or_default());
        Ok(())
    }

    fn remember(&self, bucket: &str, key: &str, etag: Option<&ETag>) {
        let Ok(mut index) = self.index.lock() else { return };
        let objects = index.entry(bucket.to_string()).or_default();
        let meta = etag.and_then(|e| Some((e, std::fs::metadata(self.root.join(bucket).join(key)).ok()?)));
        match meta {
            Some((etag, m)) => {
                let modified = Timestamp::from(m.modified().unwrap_or_else(|_| std::time::SystemTime::now()));
                objects.insert(key.to_string(), Listed { etag: etag.clone(), size: m.len() as i64, modified });
            }
            None => {
                objects.remove(key);
            }
        }
    }

    /// One page of a bucket's listing: (objects, common prefixes, next continuation token).
    fn page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> (Vec<Object>, Vec<CommonPrefix>, Option<String>) {
        let (mut objects, mut prefixes) = (Vec::new(), Vec::<String>::new());
        let Ok(index) = self.index.lock() else { return (objects, vec![], None) };
        let Some(keys) = index.get(bucket) else { return (objects, vec![], None) };
        let from = match after {
            Some(a) if a >= prefix => Bound::Excluded(a.to_string()),
            _ => Bound::Included(prefix.to_string()),
        };
        let mut last = None;
        for (key, o) in keys.range::<String, _>((from, Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break;
            }
            // A token that is a common prefix resumes after every key below it.
            if let (Some(a), Some(d)) = (after, delimiter)
                && a.ends_with(d)
                && key.starts_with(a)
            {
                continue;
            }
            let folder = delimiter
                .and_then(|d| key[prefix.len()..].find(d).map(|i| key[..prefix.len() + i + d.len()].to_string()));
            if let Some(f) = &folder
                && prefixes.last() == Some(f)
            {
                continue;
            }
            if objects.len() + prefixes.len() == max {
                return (objects, common(prefixes), last);
            }
            match folder {
                Some(f) => {
                    last = Some(f.clone());
                    prefixes.push(f);
                }
                None => {
                    last = Some(key.clone());
                    objects.push(Object {
                        key: Some(key.clone()),
                        e_tag: Some(o.etag.clone()),
                        size: Some(o.size),
                        last_modified: Some(o.modified.clone()),
                        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
                        ..Default::default()
                    });
                }
            }
        }
        (objects, common(prefixes), None)
    }
}

fn common(prefixes: Vec<String>) -> Vec<CommonPrefix> {
    prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect()
}

/// s3s has no code of its own for it.
fn no_public_access_block() -> s3s::S3Error {
    let code = s3s::S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into());
    let mut e = s3s::S3Error::with_message(code, "The public access block configuration was not found");
    e.set_status_code(hyper::StatusCode::NOT_FOUND);
    e
}

fn ok<T>(output: T) -> S3Result<S3Response<T>> {
    Ok(S3Response::new(output))
}

#[async_trait::async_trait]
impl S3 for Server {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = req.input.bucket.clone();
        let out = self.fs.delete_bucket(req).await?;
        if let Ok(mut s) = self.settings.lock() {
            s.remove(&bucket);
        }
        if let Ok(mut i) = self.index.lock() {
            i.remove(&bucket);
        }
        Ok(out)
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.fs.get_bucket_location(req).await
    }

    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let prefix = req.input.prefix.clone();
        let mut out = self.fs.list_buckets(req).await?;
        if let (Some(p), Some(buckets)) = (prefix, out.output.buckets.as_mut()) {
            buckets.retain(|b| b.name.as_deref().is_some_and(|n| n.starts_with(&p)));
        }
        Ok(out)
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        self.fs.list_objects(req).await
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        self.bucket_exists(&input.bucket)?;
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000);
        let after = match (input.continuation_token.as_deref(), input.start_after.as_deref()) {
            (Some(t), Some(s)) => Some(t.max(s)),
            (t, s) => t.or(s),
        };
        let prefix = input.prefix.as_deref().unwrap_or("");
        let (contents, prefixes, next) =
            self.page(&input.bucket, prefix, input.delimiter.as_deref(), after, max_keys as usize);
        ok(ListObjectsV2Output {
            key_count: Some((contents.len() + prefixes.len()) as i32),
            max_keys: Some(max_keys),
            is_truncated: Some(next.is_some()),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            next_continuation_token: next,
            continuation_token: input.continuation_token,
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        })
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        self.fs.get_object(req).await
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        self.fs.head_object(req).await
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let out = self.fs.put_object(req).await?;
        self.remember(&bucket, &key, out.output.e_tag.as_ref());
        Ok(out)
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let out = self.fs.copy_object(req).await?;
        self.remember(&bucket, &key, out.output.copy_object_result.as_ref().and_then(|r| r.e_tag.as_ref()));
        Ok(out)
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let out = self.fs.delete_object(req).await?;
        self.remember(&bucket, &key, None);
        Ok(out)
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket.clone();
        let out = self.fs.delete_objects(req).await?;
        for d in out.output.deleted.iter().flatten() {
            if let Some(k) = &d.key {
                self.remember(&bucket, k, None);
            }
        }
        Ok(out)
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.fs.create_multipart_upload(req).await
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        self.fs.upload_part(req).await
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        self.fs.list_parts(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let out = self.fs.complete_multipart_upload(req).await?;
        self.remember(&bucket, &key, out.output.e_tag.as_ref());
        Ok(out)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.fs.abort_multipart_upload(req).await
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let tag_set = self.read(&req.input.bucket, |s| s.tags.clone())?.ok_or_else(|| s3_error!(NoSuchTagSet))?;
        ok(GetBucketTaggingOutput { tag_set })
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let input = req.input;
        self.write(&input.bucket, |s| s.tags = Some(input.tagging.tag_set))?;
        ok(PutBucketTaggingOutput::default())
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        self.write(&req.input.bucket, |s| s.tags = None)?;
        ok(DeleteBucketTaggingOutput::default())
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let policy =
            self.read(&req.input.bucket, |s| s.policy.clone())?.ok_or_else(|| s3_error!(NoSuchBucketPolicy))?;
        ok(GetBucketPolicyOutput { policy: Some(policy) })
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let input = req.input;
        self.write(&input.bucket, |s| s.policy = Some(input.policy))?;
        ok(PutBucketPolicyOutput::default())
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        self.write(&req.input.bucket, |s| s.policy = None)?;
        ok(DeleteBucketPolicyOutput::default())
    }

    async fn get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        let c = self.read(&req.input.bucket, |s| s.public_access_block.clone())?.ok_or_else(no_public_access_block)?;
        ok(GetPublicAccessBlockOutput { public_access_block_configuration: Some(c) })
    }

    async fn put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        let input = req.input;
        self.write(&input.bucket, |s| s.public_access_block = Some(input.public_access_block_configuration))?;
        ok(PutPublicAccessBlockOutput::default())
    }

    async fn get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        let c = self
            .read(&req.input.bucket, |s| s.ownership.clone())?
            .ok_or_else(|| s3_error!(OwnershipControlsNotFoundError))?;
        ok(GetBucketOwnershipControlsOutput { ownership_controls: Some(c) })
    }

    async fn put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        let input = req.input;
        self.write(&input.bucket, |s| s.ownership = Some(input.ownership_controls))?;
        ok(PutBucketOwnershipControlsOutput::default())
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let c = self
            .read(&req.input.bucket, |s| s.encryption.clone())?
            .ok_or_else(|| s3_error!(ServerSideEncryptionConfigurationNotFoundError))?;
        ok(GetBucketEncryptionOutput { server_side_encryption_configuration: Some(c) })
    }

    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let input = req.input;
        self.write(&input.bucket, |s| s.encryption = Some(input.server_side_encryption_configuration))?;
        ok(PutBucketEncryptionOutput::default())
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let status = self.read(&req.input.bucket, |s| s.versioning.clone())?;
        ok(GetBucketVersioningOutput { status, ..Default::default() })
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let input = req.input;
        self.write(&input.bucket, |s| s.versioning = input.versioning_configuration.status)?;
        ok(PutBucketVersioningOutput::default())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, root, port, access_key, secret_key] = args.as_slice() else {
        return Err("usage: capsule-bench-s3s-server ROOT PORT ACCESS_KEY SECRET_KEY".into());
    };
    std::fs::create_dir_all(root)?;
    if std::fs::read_dir(root)?.next().is_some() {
        return Err(
            format!("{root} is not empty: listings come from memory, so the server starts on an empty root").into()
        );
    }
    let server = Server {
        fs: FileSystem::new(root).map_err(|e| format!("{root}: {e:?}"))?,
        root: std::fs::canonicalize(root)?,
        index: Mutex::default(),
        settings: Mutex::default(),
    };
    let mut builder = S3ServiceBuilder::new(server);
    builder.set_auth(SimpleAuth::from_single(access_key.clone(), secret_key.clone()));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>()?)).await?;
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let (socket, _) = listener.accept().await?;
        let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
