//! Container images (DESIGN section 5): the tag is a content hash of the build context, the
//! registry is asked once whether it has the tag (Docker Registry v2 `HEAD` on the
//! manifest), and only a missing tag is built (buildah or docker buildx) and pushed. Task
//! definitions pin the pushed digest.
//!
//! Registry credentials never reach a command line or a log: ECR's token goes into a
//! private auth file that the builder reads.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest, Sha256};

use crate::aws::{Aws, AwsResultExt};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("build context {path}: {message}")]
    Context { path: PathBuf, message: String },
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    #[error("{0}")]
    Aws(#[from] crate::aws::AwsError),
    #[error("no image builder found: install buildah or docker (with buildx), or set CAPSULE_BUILDER=buildah|docker")]
    NoBuilder,
    #[error("{builder} {step} failed for {image} (exit {code}):\n{output}")]
    Build { builder: &'static str, step: &'static str, image: String, code: i32, output: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How the tag was derived, for the plan's reason line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The context is committed and clean: its git tree id.
    GitTree(String),
    /// Uncommitted changes or no repository: the hashes of the files docker would send.
    Files(usize),
}

/// The content-addressed tag of a build context: `ctx-` and 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextTag {
    pub tag: String,
    pub source: Source,
}

/// Tags a build context by content: the git tree id where the context (and an outside
/// Dockerfile) is committed and clean, else the hashes of the files `.dockerignore` lets
/// through. The Dockerfile's path inside the context is part of the hash (two Dockerfiles
/// in one context are two images).
pub fn context_tag(context: &Path, dockerfile: &str) -> Result<ContextTag, ImageError> {
    let err = |message: String| ImageError::Context { path: context.to_path_buf(), message };
    if !context.is_dir() {
        return Err(err("is not a directory".into()));
    }
    let dockerfile_path = context.join(dockerfile);
    if !dockerfile_path.is_file() {
        return Err(err(format!("has no {dockerfile}")));
    }
    let mut h = Sha256::new();
    h.update(b"capsule-image-v1\0");
    h.update(dockerfile.as_bytes());
    h.update(b"\0");
    let source = match git_tree(context, &dockerfile_path) {
        Some(tree) => {
            h.update(tree.as_bytes());
            Source::GitTree(tree)
        }
        None => {
            let files = context_files(context).map_err(|e| err(e.to_string()))?;
            for (rel, (exec, digest)) in &files {
                h.update(rel.as_bytes());
                h.update(if *exec { b"\x01" } else { b"\x00" });
                h.update(digest);
            }
            // A Dockerfile excluded by .dockerignore is still what builds the image.
            h.update(file_sha256(&dockerfile_path)?);
            Source::Files(files.len())
        }
    };
    Ok(ContextTag { tag: format!("ctx-{}", &hex::encode(h.finalize())[..16]), source })
}

/// The tree id of `context` at HEAD when it and the Dockerfile have no uncommitted or
/// untracked (not ignored) changes.
fn git_tree(context: &Path, dockerfile: &Path) -> Option<String> {
    let repo = git2::Repository::discover(context).ok()?;
    let workdir = repo.workdir()?.canonicalize().ok()?;
    let rel = context.canonicalize().ok()?.strip_prefix(&workdir).ok()?.to_path_buf();
    let rel_df = dockerfile.canonicalize().ok()?.strip_prefix(&workdir).ok()?.to_path_buf();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
    let spec = |p: &Path| {
        let s = p.to_string_lossy().replace('\\', "/");
        if s.is_empty() { "*".to_string() } else { s }
    };
    opts.pathspec(spec(&rel));
    opts.pathspec(spec(&rel_df));
    let statuses = repo.statuses(Some(&mut opts)).ok()?;
    if statuses.iter().any(|s| s.status() != git2::Status::CURRENT) {
        return None;
    }
    let tree = repo.head().ok()?.peel_to_tree().ok()?;
    let id = if rel.as_os_str().is_empty() { tree.id() } else { tree.get_path(&rel).ok()?.id() };
    Some(id.to_string())
}

/// Every file of the context that `.dockerignore` lets through: relative path ->
/// (executable, sha256). Streamed hashing; sorted by path.
fn context_files(context: &Path) -> Result<BTreeMap<String, (bool, [u8; 32])>, ImageError> {
    let mut out = BTreeMap::new();
    let walk = ignore::WalkBuilder::new(context)
        .standard_filters(false)
        .hidden(false)
        .add_custom_ignore_filename(".dockerignore")
        .build();
    for entry in walk {
        let entry = entry.map_err(|e| ImageError::Context { path: context.to_path_buf(), message: e.to_string() })?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let rel = entry.path().strip_prefix(context).unwrap_or(entry.path()).to_string_lossy().replace('\\', "/");
        #[cfg(unix)]
        let exec = {
            use std::os::unix::fs::PermissionsExt;
            entry.metadata().map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false)
        };
        #[cfg(not(unix))]
        let exec = false;
        out.insert(rel, (exec, file_sha256(entry.path())?));
    }
    Ok(out)
}

fn file_sha256(path: &Path) -> Result<[u8; 32], ImageError> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// A Docker Registry v2 endpoint: ECR (HTTPS, token from the ECR API) or, for local test
/// beds, `CAPSULE_REGISTRY=host:port` (plain HTTP, no auth).
#[derive(Clone)]
pub struct Registry {
    /// `host[:port]`, as image references name it.
    pub host: String,
    base: String,
    /// `user:password`, base64 (ECR's token is exactly that).
    auth: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("host", &self.host).field("auth", &self.auth.as_ref().map(|_| "…")).finish()
    }
}

impl Registry {
    /// The registry of the account and region: `CAPSULE_REGISTRY` when set, else ECR.
    pub async fn connect(aws: &Aws, region: &str) -> Result<Registry, ImageError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("capsule/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| ImageError::Registry { registry: "(client)".into(), message: e.to_string() })?;
        if let Some(host) = std::env::var("CAPSULE_REGISTRY").ok().filter(|h| !h.is_empty()) {
            return Ok(Registry { base: format!("http://{host}"), host, auth: None, http });
        }
        let out = aws.ecr(region).get_authorization_token().send().await.aws("ecr:GetAuthorizationToken")?;
        let data = out.authorization_data().first().ok_or_else(|| ImageError::Registry {
            registry: "ECR".into(),
            message: "GetAuthorizationToken returned no authorization data".into(),
        })?;
        let endpoint = data.proxy_endpoint().unwrap_or_default().trim_end_matches('/').to_string();
        let host = endpoint.trim_start_matches("https://").trim_start_matches("http://").to_string();
        Ok(Registry { base: endpoint, host, auth: data.authorization_token().map(str::to_string), http })
    }

    /// A registry named by its host, read anonymously (the Kubernetes runtime's
    /// `[kubernetes] registry`): plain HTTP for the test bed's `CAPSULE_REGISTRY` and loopback
    /// hosts, HTTPS otherwise. The builder pushes with the user's own registry login.
    pub fn anonymous(host: &str) -> Result<Registry, ImageError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("capsule/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| ImageError::Registry { registry: host.into(), message: e.to_string() })?;
        let local = std::env::var("CAPSULE_REGISTRY").ok().as_deref() == Some(host)
            || host.starts_with("127.0.0.1")
            || host.starts_with("localhost");
        let base = if local { format!("http://{host}") } else { format!("https://{host}") };
        Ok(Registry { base, host: host.to_string(), auth: None, http })
    }

    /// `host/repository`, as image references name a repository.
    pub fn repository_ref(&self, repository: &str) -> String {
        format!("{}/{repository}", self.host)
    }

    /// The digest of `repository:tag`, or `None` when the registry does not have it. One
    /// `HEAD` request.
    pub async fn digest(&self, repository: &str, tag: &str) -> Result<Option<String>, ImageError> {
        let url = format!("{}/v2/{repository}/manifests/{tag}", self.base);
        let mut req = self.http.head(&url).header(
            "Accept",
            "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
             application/vnd.docker.distribution.manifest.list.v2+json, \
             application/vnd.docker.distribution.manifest.v2+json",
        );
        if let Some(a) = &self.auth {
            req = req.header("Authorization", format!("Basic {a}"));
        }
        let err = |message: String| ImageError::Registry { registry: self.host.clone(), message };
        let resp = req.send().await.map_err(|e| err(format!("HEAD {repository}:{tag}: {e}")))?;
        match resp.status().as_u16() {
            200 => {
                let digest = resp
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
                    .filter(|d| d.starts_with("sha256:"));
                digest.map(Some).ok_or_else(|| err(format!("HEAD {repository}:{tag}: no Docker-Content-Digest header")))
            }
            404 => Ok(None),
            401 | 403 => Err(err(format!(
                "HEAD {repository}:{tag}: HTTP {} (the credentials may not read this repository)",
                resp.status().as_u16()
            ))),
            s => Err(err(format!("HEAD {repository}:{tag}: HTTP {s}"))),
        }
    }

    /// An auth file (the containers-auth.json / docker config.json format) in a private
    /// temporary folder, for the builder's push. For docker the folder stands in for the
    /// user's docker configuration (`DOCKER_CONFIG` points at it): it links everything of
    /// theirs (CLI plugins such as buildx, contexts, builders) and keeps their config.json
    /// settings, with this registry's credentials added.
    fn auth_dir(&self, builder: Builder) -> Result<Option<PrivateDir>, ImageError> {
        let Some(auth) = &self.auth else { return Ok(None) };
        let dir = PrivateDir::new("capsule-auth")?;
        let user = match builder {
            Builder::Docker => user_docker_config(),
            Builder::Buildah => None,
        };
        let mut theirs = None;
        if let Some(user) = &user
            && let Ok(entries) = std::fs::read_dir(user)
        {
            for entry in entries.flatten() {
                if entry.file_name() == "config.json" {
                    theirs = std::fs::read(entry.path()).ok().and_then(|b| serde_json::from_slice(&b).ok());
                    continue;
                }
                #[cfg(unix)]
                std::os::unix::fs::symlink(entry.path(), dir.path().join(entry.file_name()))?;
            }
        }
        let body = docker_config(theirs, &self.host, auth);
        let path = dir.path().join("config.json");
        std::fs::write(&path, body.to_string())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(Some(dir))
    }

    fn insecure(&self) -> bool {
        self.base.starts_with("http://")
    }
}

/// The program that builds and pushes images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    Buildah,
    Docker,
}

impl Builder {
    /// `CAPSULE_BUILDER` when set; else buildah if installed, else docker.
    pub fn detect() -> Result<Builder, ImageError> {
        match std::env::var("CAPSULE_BUILDER").ok().as_deref().map(str::trim) {
            Some("buildah") => return Ok(Builder::Buildah),
            Some("docker") => return Ok(Builder::Docker),
            Some("") | None => {}
            Some(other) => {
                return Err(ImageError::Context {
                    path: PathBuf::from("CAPSULE_BUILDER"),
                    message: format!("`{other}` is not a builder: use buildah or docker"),
                });
            }
        }
        if on_path("buildah") {
            Ok(Builder::Buildah)
        } else if on_path("docker") {
            Ok(Builder::Docker)
        } else {
            Err(ImageError::NoBuilder)
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Builder::Buildah => "buildah",
            Builder::Docker => "docker",
        }
    }

    /// Builds the context once as `local` (buildah; docker builds at push time, from its
    /// build cache).
    pub async fn build(self, context: &Path, dockerfile: &str, local: &str) -> Result<(), ImageError> {
        if self == Builder::Docker {
            return Ok(());
        }
        let mut build = tokio::process::Command::new("buildah");
        build.args(["bud", "--layers", "--quiet", "-f"]).arg(context.join(dockerfile)).args(["-t", local]).arg(context);
        run(self, "build", local, build).await
    }

    /// Pushes the image built as `local` to `target` (`host/repo:tag`); returns the pushed
    /// manifest digest.
    pub async fn push(
        self,
        context: &Path,
        dockerfile: &str,
        local: &str,
        target: &str,
        registry: &Registry,
    ) -> Result<String, ImageError> {
        let auth = registry.auth_dir(self)?;
        let scratch = PrivateDir::new("capsule-push")?;
        let no_digest = |what: &str| ImageError::Registry { registry: registry.host.clone(), message: what.into() };
        match self {
            Builder::Buildah => {
                let file = scratch.path().join("digest");
                let mut push = tokio::process::Command::new("buildah");
                push.arg("push").arg("--digestfile").arg(&file);
                if registry.insecure() {
                    push.arg("--tls-verify=false");
                }
                if let Some(dir) = &auth {
                    push.arg("--authfile").arg(dir.path().join("config.json"));
                }
                push.arg(local).arg(format!("docker://{target}"));
                run(self, "push", target, push).await?;
                let digest = std::fs::read_to_string(&file)?.trim().to_string();
                if digest.starts_with("sha256:") { Ok(digest) } else { Err(no_digest("buildah reported no digest")) }
            }
            Builder::Docker => {
                // buildx builds (from its cache after the first time) and pushes in one
                // step, and reports the digest in its metadata file.
                let meta = scratch.path().join("metadata.json");
                let mut cmd = tokio::process::Command::new("docker");
                if let Some(dir) = &auth {
                    cmd.env("DOCKER_CONFIG", dir.path());
                }
                cmd.args(["buildx", "build", "--push", "--quiet", "--metadata-file"]).arg(&meta);
                cmd.arg("-f").arg(context.join(dockerfile)).args(["-t", target]).arg(context);
                run(self, "build", target, cmd).await?;
                let meta: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&meta)?).map_err(|e| no_digest(&e.to_string()))?;
                meta.get("containerimage.digest")
                    .and_then(|d| d.as_str())
                    .map(str::to_string)
                    .ok_or_else(|| no_digest("docker buildx reported no digest"))
            }
        }
    }
}

/// The user's docker configuration folder: `DOCKER_CONFIG`, else `~/.docker`.
fn user_docker_config() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
        .filter(|p| p.is_dir())
}

/// The config.json of a push: the user's settings (plugin folders, current context, ...)
/// with `auth` for `host` in `auths`. A credential store would take precedence over
/// `auths` for every registry, so it is left out (other registries' helpers stay).
fn docker_config(user: Option<serde_json::Value>, host: &str, auth: &str) -> serde_json::Value {
    let mut config = match user {
        Some(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    config.remove("credsStore");
    if let Some(serde_json::Value::Object(helpers)) = config.get_mut("credHelpers") {
        helpers.remove(host);
    }
    let auths = config.entry("auths").or_insert_with(|| serde_json::json!({}));
    if !auths.is_object() {
        *auths = serde_json::json!({});
    }
    if let Some(auths) = auths.as_object_mut() {
        auths.insert(host.to_string(), serde_json::json!({ "auth": auth }));
    }
    serde_json::Value::Object(config)
}

/// A temporary folder only this user can read, removed when dropped.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new(prefix: &str) -> std::io::Result<PrivateDir> {
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{:016x}", std::process::id(), rand::random::<u64>()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path)?;
        Ok(PrivateDir(path))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Runs a builder step; its output is kept for the error only (never printed otherwise).
async fn run(
    builder: Builder,
    step: &'static str,
    image: &str,
    mut cmd: tokio::process::Command,
) -> Result<(), ImageError> {
    let out = cmd.stdin(Stdio::null()).output().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound { ImageError::NoBuilder } else { ImageError::Io(e) }
    })?;
    if out.status.success() {
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stdout));
    let tail: Vec<&str> = output.lines().rev().take(30).collect();
    Err(ImageError::Build {
        builder: builder.name(),
        step,
        image: image.to_string(),
        code: out.status.code().unwrap_or(-1),
        output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

/// `ref@digest`: how task definitions name an image.
pub fn pinned(repository_ref: &str, digest: &str) -> String {
    format!("{repository_ref}@{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker Desktop keeps buildx under ~/.docker/cli-plugins and its context in
    /// config.json: a push keeps both, with the registry's credentials added, and drops the
    /// credential store that would hide them.
    #[test]
    fn the_docker_config_of_a_push_keeps_the_users_settings() {
        let user = serde_json::json!({
            "currentContext": "desktop-linux",
            "cliPluginsExtraDirs": ["/Applications/Docker.app/Contents/Resources/cli-plugins"],
            "credsStore": "desktop",
            "credHelpers": { "reg.example:5000": "ecr-login", "gcr.io": "gcloud" },
            "auths": { "ghcr.io": { "auth": "b3RoZXI=" } },
        });
        let config = docker_config(Some(user), "reg.example:5000", "dXNlcjpwYXNz");
        assert_eq!(config["currentContext"], "desktop-linux");
        assert_eq!(config["cliPluginsExtraDirs"][0], "/Applications/Docker.app/Contents/Resources/cli-plugins");
        assert_eq!(config["auths"]["reg.example:5000"]["auth"], "dXNlcjpwYXNz");
        assert_eq!(config["auths"]["ghcr.io"]["auth"], "b3RoZXI=");
        assert!(config.get("credsStore").is_none());
        assert_eq!(config["credHelpers"], serde_json::json!({ "gcr.io": "gcloud" }));
        let bare = docker_config(None, "reg.example:5000", "dXNlcjpwYXNz");
        assert_eq!(bare, serde_json::json!({ "auths": { "reg.example:5000": { "auth": "dXNlcjpwYXNz" } } }));
    }

    fn write(root: &Path, rel: &str, body: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    #[test]
    fn file_tags_follow_content_and_dockerignore() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path();
        write(ctx, "Dockerfile", "FROM scratch\nCOPY app /app\n");
        write(ctx, "app/main.txt", "v1");
        write(ctx, ".dockerignore", "notes/\n");
        let a = context_tag(ctx, "Dockerfile").unwrap();
        assert!(a.tag.starts_with("ctx-") && a.tag.len() == 20, "{a:?}");
        assert_eq!(a.source, Source::Files(3));
        // Ignored files change nothing; same-size edits change the tag.
        write(ctx, "notes/todo.md", "later");
        assert_eq!(context_tag(ctx, "Dockerfile").unwrap(), a);
        write(ctx, "app/main.txt", "v2");
        let b = context_tag(ctx, "Dockerfile").unwrap();
        assert_ne!(a.tag, b.tag);
        // Another Dockerfile in the same context is another image.
        write(ctx, "Dockerfile.prod", "FROM scratch\nCOPY app /app\n");
        assert_ne!(context_tag(ctx, "Dockerfile.prod").unwrap().tag, context_tag(ctx, "Dockerfile").unwrap().tag);
        assert!(context_tag(ctx, "Missing").is_err());
    }

    #[test]
    fn committed_clean_contexts_use_the_git_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let repo = git2::Repository::init(root).unwrap();
        write(root, "svc/Dockerfile", "FROM scratch\n");
        write(root, "svc/a.txt", "a");
        write(root, "other.txt", "outside the context");
        let commit = |msg: &str| {
            let mut index = repo.index().unwrap();
            index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
            index.write().unwrap();
            let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
            let sig = git2::Signature::now("t", "t@example.com").unwrap();
            let parents: Vec<git2::Commit> =
                repo.head().ok().and_then(|h| h.peel_to_commit().ok()).into_iter().collect();
            let parents: Vec<&git2::Commit> = parents.iter().collect();
            repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents).unwrap();
        };
        commit("one");
        let ctx = root.join("svc");
        let clean = context_tag(&ctx, "Dockerfile").unwrap();
        let tree = repo.head().unwrap().peel_to_tree().unwrap().get_path(Path::new("svc")).unwrap().id();
        assert_eq!(clean.source, Source::GitTree(tree.to_string()));
        // A change outside the context does not change the tag, even uncommitted.
        write(root, "other.txt", "edited");
        assert_eq!(context_tag(&ctx, "Dockerfile").unwrap(), clean);
        // An uncommitted change inside falls back to file hashes; committing it gives a
        // new tree id.
        write(&ctx, "a.txt", "b");
        assert!(matches!(context_tag(&ctx, "Dockerfile").unwrap().source, Source::Files(2)));
        commit("two");
        let next = context_tag(&ctx, "Dockerfile").unwrap();
        assert!(matches!(next.source, Source::GitTree(_)));
        assert_ne!(next.tag, clean.tag);
    }
}

/// One image artifact, planned against the registry.
#[derive(Debug, Clone)]
pub struct ImagePlan {
    pub name: String,
    pub context: PathBuf,
    pub dockerfile: String,
    /// The address of the image's repository resource.
    pub repository: String,
    /// The repository's name in the registry.
    pub repository_name: String,
    pub tag: ContextTag,
    /// The registry already has the tag: its digest (nothing to build).
    pub digest: Option<String>,
}

impl ImagePlan {
    /// Why the image is built, for the plan.
    pub fn reason(&self, repository_exists: bool) -> Option<String> {
        if self.digest.is_some() {
            return None;
        }
        let source = match &self.tag.source {
            Source::GitTree(id) => format!("git tree {}", &id[..id.len().min(12)]),
            Source::Files(n) => format!("{n} files with uncommitted changes"),
        };
        Some(if repository_exists {
            format!("new context hash ({source})")
        } else {
            format!("first build ({source}); the repository is created by this apply")
        })
    }
}

/// What shipping one image did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipped {
    pub pushed: bool,
    pub digest: String,
}

/// Builds and pushes the images of one apply: each context is built once however many
/// repositories take it, each missing tag pushed once.
#[derive(Default)]
pub struct Shipper {
    registry: Option<Registry>,
    plans: Vec<ImagePlan>,
    /// Built contexts by tag: the local image name, or the build error.
    built: tokio::sync::Mutex<BTreeMap<String, Result<String, String>>>,
    shipped: std::sync::Mutex<BTreeMap<String, Shipped>>,
}

impl Shipper {
    pub fn new(registry: Option<Registry>, plans: Vec<ImagePlan>) -> Shipper {
        Shipper { registry, plans, built: Default::default(), shipped: Default::default() }
    }

    pub fn plans(&self) -> &[ImagePlan] {
        &self.plans
    }

    /// Makes sure the image of the repository at `repository` (an address) is in the
    /// registry; returns the pinned reference (`host/repo@sha256:…`), or `None` when the
    /// repository holds no image of this capsule.
    pub async fn ship(&self, repository: &str) -> Result<Option<String>, String> {
        let Some(plan) = self.plans.iter().find(|p| p.repository == repository) else { return Ok(None) };
        let registry = self.registry.as_ref().ok_or("no registry connection")?;
        let repo_ref = registry.repository_ref(&plan.repository_name);
        let target = format!("{repo_ref}:{}", plan.tag.tag);
        let (pushed, digest) = match &plan.digest {
            Some(d) => (false, d.clone()),
            // Another apply may have pushed it since the plan: ask again (one request).
            None => match registry.digest(&plan.repository_name, &plan.tag.tag).await.map_err(|e| e.to_string())? {
                Some(d) => (false, d),
                None => {
                    let builder = Builder::detect().map_err(|e| e.to_string())?;
                    let local = self.build_once(builder, plan).await?;
                    let started = std::time::Instant::now();
                    let digest = builder
                        .push(&plan.context, &plan.dockerfile, &local, &target, registry)
                        .await
                        .map_err(|e| format!("image {}: {e}", plan.name))?;
                    eprintln!(
                        "image {}: pushed {target} ({digest}) in {:.1}s",
                        plan.name,
                        started.elapsed().as_secs_f64()
                    );
                    (true, digest)
                }
            },
        };
        self.shipped
            .lock()
            .expect("not poisoned")
            .insert(plan.name.clone(), Shipped { pushed, digest: digest.clone() });
        Ok(Some(pinned(&repo_ref, &digest)))
    }

    async fn build_once(&self, builder: Builder, plan: &ImagePlan) -> Result<String, String> {
        let mut built = self.built.lock().await;
        if let Some(done) = built.get(&plan.tag.tag) {
            return done.clone();
        }
        let local = format!("localhost/capsule-build:{}", plan.tag.tag);
        let started = std::time::Instant::now();
        eprintln!(
            "image {}: building {} with {} ({})",
            plan.name,
            plan.context.display(),
            builder.name(),
            plan.tag.tag
        );
        let result = builder
            .build(&plan.context, &plan.dockerfile, &local)
            .await
            .map(|()| local)
            .map_err(|e| format!("image {}: {e}", plan.name));
        if result.is_ok() {
            eprintln!("image {}: built in {:.1}s", plan.name, started.elapsed().as_secs_f64());
        }
        built.insert(plan.tag.tag.clone(), result.clone());
        result
    }

    /// What shipping did to the image named `name`, once shipped.
    pub fn shipped(&self, name: &str) -> Option<Shipped> {
        self.shipped.lock().expect("not poisoned").get(name).cloned()
    }

    /// How many contexts were built in this run.
    pub async fn builds(&self) -> usize {
        self.built.lock().await.values().filter(|r| r.is_ok()).count()
    }
}

/// An image reference split into registry host, repository and tag (`nginx:1.27` is
/// `registry-1.docker.io`, `library/nginx`, `1.27`). `None` when it already names a digest.
pub fn parse_reference(image: &str) -> Option<(String, String, String)> {
    if image.contains('@') {
        return None;
    }
    let (host, rest) = match image.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), image.to_string()),
    };
    // A tag follows the last `:` after the last `/`.
    let (repo, tag) = match rest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
        _ => (rest.clone(), "latest".to_string()),
    };
    let (host, repo) = if host == "docker.io" {
        ("registry-1.docker.io".to_string(), if repo.contains('/') { repo } else { format!("library/{repo}") })
    } else {
        (host, repo)
    };
    Some((host, repo, tag))
}

/// Resolves a prebuilt image's tag to its digest with the Registry v2 API: one `HEAD`, or
/// two when the registry asks for an anonymous bearer token first. Plain HTTP only for the
/// `CAPSULE_REGISTRY` host. Private registries that need credentials are not resolved.
pub async fn resolve_prebuilt(image: &str) -> Result<Option<String>, String> {
    let Some((host, repo, tag)) = parse_reference(image) else { return Ok(None) };
    let local = std::env::var("CAPSULE_REGISTRY").ok().filter(|h| *h == host).is_some();
    let base = if local { format!("http://{host}") } else { format!("https://{host}") };
    let http = reqwest::Client::builder()
        .user_agent(concat!("capsule/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{base}/v2/{repo}/manifests/{tag}");
    let accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
                  application/vnd.docker.distribution.manifest.list.v2+json, \
                  application/vnd.docker.distribution.manifest.v2+json";
    let head = |token: Option<String>| {
        let mut req = http.head(&url).header("Accept", accept);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let mut resp = head(None).await.map_err(|e| format!("{host}: {e}"))?;
    if resp.status() == reqwest::StatusCode::UNAUTHORIZED
        && let Some(challenge) = resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok())
        && let Some(token_url) = bearer_token_url(challenge)
    {
        let body: serde_json::Value = http
            .get(&token_url)
            .send()
            .await
            .map_err(|e| format!("{host} token: {e}"))?
            .json()
            .await
            .map_err(|e| format!("{host} token: {e}"))?;
        let token = body.get("token").or_else(|| body.get("access_token")).and_then(|t| t.as_str()).map(str::to_string);
        resp = head(token).await.map_err(|e| format!("{host}: {e}"))?;
    }
    match resp.status().as_u16() {
        200 => Ok(resp.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).map(str::to_string)),
        404 => Err(format!("{image} is not in its registry")),
        s => Err(format!("{host} answered HTTP {s}")),
    }
}

/// The token URL of a `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` challenge.
fn bearer_token_url(challenge: &str) -> Option<String> {
    let params = challenge.strip_prefix("Bearer ")?;
    let mut realm = None;
    let mut query = Vec::new();
    for part in params.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        let v = v.trim_matches('"');
        match k {
            "realm" => realm = Some(v.to_string()),
            "service" | "scope" => query
                .push(format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC))),
            _ => {}
        }
    }
    Some(format!("{}?{}", realm?, query.join("&")))
}

#[cfg(test)]
mod reference_tests {
    use super::*;

    #[test]
    fn references_split_like_docker_does() {
        let r = |s: &str| parse_reference(s).map(|(h, r, t)| format!("{h}|{r}|{t}"));
        assert_eq!(r("nginx:1.27").as_deref(), Some("registry-1.docker.io|library/nginx|1.27"));
        assert_eq!(r("grafana/grafana").as_deref(), Some("registry-1.docker.io|grafana/grafana|latest"));
        assert_eq!(r("ghcr.io/o/app:v2").as_deref(), Some("ghcr.io|o/app|v2"));
        assert_eq!(r("127.0.0.1:5056/prebuilt/app:1.0").as_deref(), Some("127.0.0.1:5056|prebuilt/app|1.0"));
        assert_eq!(r("localhost:5000/app").as_deref(), Some("localhost:5000|app|latest"));
        assert_eq!(r("nginx@sha256:abc"), None);
    }

    #[test]
    fn bearer_challenges_become_token_urls() {
        let c = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#;
        assert_eq!(
            bearer_token_url(c).as_deref(),
            Some(
                "https://auth.docker.io/token?service=registry%2Edocker%2Eio&scope=repository%3Alibrary%2Fnginx%3Apull"
            )
        );
        assert_eq!(bearer_token_url("Basic realm=\"x\""), None);
    }
}
