//! Static sites end to end on the test bed: infrastructure read back through the S3 and
//! CloudFront APIs, sync by content (never by modification time), headers, deletions,
//! invalidations, multipart objects and convergence.

mod common;

use common::{hosted_zone, testbed, text, unique};
use std::path::Path;
use std::process::{Command, Output};

use capsule::aws::Aws;
use serde_json::Value;

fn capsule(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capsule")).args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap()
}

/// Applies and returns the site artifact of the apply document.
fn apply(dir: &Path) -> Value {
    let out = capsule(dir, &["apply", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    doc["capsules"][0]["artifacts"][0].clone()
}

fn plan(dir: &Path) -> Value {
    let out = capsule(dir, &["plan", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A re-plan shows no resource change and nothing to upload or delete.
fn assert_converged(dir: &Path) {
    let p = plan(dir);
    let changes: Vec<&Value> =
        p["capsules"][0]["changes"].as_array().unwrap().iter().filter(|c| c["action"] != "no-op").collect();
    assert!(changes.is_empty(), "{changes:#?}");
    let site = &p["capsules"][0]["artifacts"][0];
    assert_eq!((site["upload"].as_u64(), site["delete"].as_u64()), (Some(0), Some(0)), "{site}");
    let out = capsule(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

struct Site {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    name: String,
}

impl Site {
    fn new(spa: bool, extra: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let name = unique("web");
        let site = Site { _dir: dir, root, name };
        site.config(spa, extra);
        site.write("index.html", "<h1>home</h1>");
        site.write("about/index.html", "<h1>about</h1>");
        site.write("assets/app.js", "console.log(1)");
        site.write("assets/app.css", "body{}");
        site.write("data.json", "{\"a\":1}");
        site
    }
    fn config(&self, spa: bool, extra: &str) {
        let body = format!(
            "[capsule]\nname = \"{}\"\n[sites.web]\ndir = \"dist\"\nspa = {spa}\n[[sites.web.headers]]\nglob = \"assets/**\"\ncache_control = \"public, max-age=31536000, immutable\"\n{extra}",
            self.name
        );
        std::fs::write(self.root.join("capsule.toml"), body).unwrap();
    }
    fn write(&self, key: &str, body: &str) {
        let p = self.root.join("dist").join(key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    fn bucket(&self) -> String {
        format!("{}-production-web-123456789012", self.name)
    }
}

async fn s3() -> aws_sdk_s3::Client {
    Aws::from_env().await.s3("us-east-1")
}

#[tokio::test]
async fn first_deploy_builds_private_infrastructure_and_uploads_everything() {
    testbed();
    let site = Site::new(true, "");
    let result = apply(&site.root);
    assert_eq!((result["uploaded"].as_u64(), result["deleted"].as_u64()), (Some(5), Some(0)));
    assert_eq!(result["invalidation_id"], Value::Null, "a new distribution has nothing cached");
    assert_converged(&site.root);

    let s3 = s3().await;
    let bucket = site.bucket();
    let pab = s3.get_public_access_block().bucket(&bucket).send().await.unwrap();
    let c = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let own = s3.get_bucket_ownership_controls().bucket(&bucket).send().await.unwrap();
    assert_eq!(own.ownership_controls().unwrap().rules()[0].object_ownership().as_str(), "BucketOwnerEnforced");
    let enc = s3.get_bucket_encryption().bucket(&bucket).send().await.unwrap();
    assert_eq!(
        enc.server_side_encryption_configuration().unwrap().rules()[0]
            .apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );

    // Objects carry their content types and header rules.
    let js = s3.head_object().bucket(&bucket).key("assets/app.js").send().await.unwrap();
    assert_eq!(js.content_type(), Some("text/javascript; charset=utf-8"));
    assert_eq!(js.cache_control(), Some("public, max-age=31536000, immutable"));
    let html = s3.head_object().bucket(&bucket).key("index.html").send().await.unwrap();
    assert_eq!(html.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(html.cache_control(), None);

    // The distribution: OAC origin, HTTPS redirect, compression, HTTP/2+3, root object, SPA.
    let cf = Aws::from_env().await.cloudfront("us-east-1");
    let list = cf.list_distributions().send().await.unwrap();
    let summary = list
        .distribution_list()
        .unwrap()
        .items()
        .iter()
        .find(|d| d.comment() == format!("{}-production-web", site.name))
        .unwrap()
        .clone();
    let config = cf.get_distribution_config().id(summary.id()).send().await.unwrap();
    let config = config.distribution_config().unwrap();
    let origin = &config.origins().unwrap().items()[0];
    assert!(origin.origin_access_control_id().is_some_and(|id| !id.is_empty()));
    assert_eq!(origin.domain_name(), format!("{bucket}.s3.us-east-1.amazonaws.com"));
    let behavior = config.default_cache_behavior().unwrap();
    assert_eq!(behavior.viewer_protocol_policy().as_str(), "redirect-to-https");
    assert_eq!(behavior.compress(), Some(true));
    assert_eq!(config.http_version().unwrap().as_str(), "http2and3");
    let errors = config.custom_error_responses().unwrap().items();
    assert!(errors.iter().any(|e| e.error_code() == 404
        && e.response_page_path() == Some("/index.html")
        && e.response_code() == Some("200")));
    // The bucket admits exactly that distribution.
    let policy = s3.get_bucket_policy().bucket(&bucket).send().await.unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"], summary.arn());
    assert_eq!(policy["Statement"][0]["Principal"]["Service"], "cloudfront.amazonaws.com");
}

#[tokio::test]
async fn fresh_checkout_uploads_nothing_and_edits_are_found_by_content() {
    testbed();
    let site = Site::new(false, "");
    apply(&site.root);

    // A fresh CI checkout: every file rewritten with the same bytes, new mtimes.
    for key in ["index.html", "about/index.html", "assets/app.js", "assets/app.css", "data.json"] {
        let p = site.root.join("dist").join(key);
        let body = std::fs::read(&p).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::fs::write(&p, body).unwrap();
    }
    let result = apply(&site.root);
    assert_eq!((result["uploaded"].as_u64(), result["bytes_uploaded"].as_u64()), (Some(0), Some(0)));
    assert_eq!(result["invalidated_paths"], serde_json::json!([]));
    assert_eq!(result["invalidation_id"], Value::Null, "nothing changed, nothing invalidated");

    // A same-size edit is found; index.html invalidates its directory too.
    site.write("about/index.html", "<h1>ABOUT</h1>");
    let p = plan(&site.root);
    assert_eq!(p["capsules"][0]["artifacts"][0]["upload_paths"], serde_json::json!(["about/index.html"]));
    let result = apply(&site.root);
    assert_eq!(result["uploaded"], 1);
    assert_eq!(result["invalidated_paths"], serde_json::json!(["/about/", "/about/index.html"]));
    assert!(result["invalidation_id"].is_string());
    let body = s3().await.get_object().bucket(site.bucket()).key("about/index.html").send().await.unwrap();
    assert_eq!(body.body.collect().await.unwrap().into_bytes().as_ref(), b"<h1>ABOUT</h1>");
    assert_converged(&site.root);
}

#[tokio::test]
async fn a_header_change_alone_reuploads_and_deletions_follow() {
    testbed();
    let site = Site::new(false, "");
    apply(&site.root);

    site.config(false, "[[sites.web.headers]]\nglob = \"*.json\"\ncache_control = \"no-cache\"\ncontent_type = \"application/vnd.capsule+json\"\n");
    let result = apply(&site.root);
    assert_eq!(result["uploaded"], 1);
    assert_eq!(result["invalidated_paths"], serde_json::json!(["/data.json"]));
    let head = s3().await.head_object().bucket(site.bucket()).key("data.json").send().await.unwrap();
    assert_eq!((head.cache_control(), head.content_type()), (Some("no-cache"), Some("application/vnd.capsule+json")));
    assert_converged(&site.root);

    // Deleted files go from the bucket; immutable ones are not invalidated.
    std::fs::remove_file(site.root.join("dist/data.json")).unwrap();
    std::fs::remove_file(site.root.join("dist/assets/app.css")).unwrap();
    let result = apply(&site.root);
    assert_eq!(result["deleted"], 2);
    assert_eq!(result["invalidated_paths"], serde_json::json!(["/data.json"]));
    let listed = s3().await.list_objects_v2().bucket(site.bucket()).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [".capsule/manifest.json", "about/index.html", "assets/app.js", "index.html"]);
    assert_converged(&site.root);
}

#[tokio::test]
async fn large_files_go_multipart_and_are_recognised_afterwards() {
    testbed();
    let site = Site::new(false, "");
    let big: String = (0..(17 * 1024 * 1024 / 16)).map(|i| format!("{i:015}\n")).collect();
    site.write("video/big.txt", &big);
    let result = apply(&site.root);
    assert_eq!(result["uploaded"], 6);
    let head = s3().await.head_object().bucket(site.bucket()).key("video/big.txt").send().await.unwrap();
    assert!(head.e_tag().unwrap().ends_with("-3\""), "multipart ETag: {:?}", head.e_tag());
    assert!(head.metadata().and_then(|m| m.get("sha256")).is_some_and(|s| s.len() == 64));
    assert_converged(&site.root);
}

#[tokio::test]
async fn turning_spa_on_updates_the_distribution_in_place() {
    testbed();
    let site = Site::new(false, "");
    apply(&site.root);
    site.config(true, "");
    let p = plan(&site.root);
    let changes: Vec<(String, String)> = p["capsules"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .map(|c| (c["address"].as_str().unwrap().to_string(), c["action"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(changes, [(format!("{}.production.cloudfront_distribution.web", site.name), "update".to_string())]);
    apply(&site.root);
    assert_converged(&site.root);
}

#[tokio::test]
async fn a_killed_apply_converges_on_the_next_one() {
    testbed();
    let site = Site::new(false, "");
    for i in 0..2000 {
        site.write(&format!("pages/p{i}.html"), &format!("<p>page {i}</p>"));
    }
    // Kill the process while it uploads (resources take well under a second here).
    let mut child = Command::new(env!("CARGO_BIN_EXE_capsule"))
        .args(["apply"])
        .current_dir(&site.root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the sync is under way (some objects are in the bucket), then kill.
    let s3c = s3().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let n = match s3c.list_objects_v2().bucket(site.bucket()).max_keys(100).send().await {
            Ok(o) => o.key_count().unwrap_or(0),
            Err(_) => 0,
        };
        if n >= 50 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let p = plan(&site.root);
    let left = p["capsules"][0]["artifacts"][0]["upload"].as_u64().unwrap();
    assert!(left > 0 && left < 2005, "the apply was interrupted mid-sync ({left} files left)");

    let result = apply(&site.root);
    assert_eq!(result["uploaded"].as_u64(), Some(left), "only what was missing is uploaded");
    assert_converged(&site.root);
    // Nothing duplicated or orphaned: one bucket, one distribution, every file once.
    let listed = s3().await.list_objects_v2().bucket(site.bucket()).max_keys(5000).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(2006), "2005 files and the manifest");
    let cf = Aws::from_env().await.cloudfront("us-east-1");
    let list = cf.list_distributions().send().await.unwrap();
    let mine = list
        .distribution_list()
        .unwrap()
        .items()
        .iter()
        .filter(|d| d.comment() == format!("{}-production-web", site.name))
        .count();
    assert_eq!(mine, 1);
}

#[tokio::test]
async fn removing_a_site_deletes_its_infrastructure_only_with_allow_destroy() {
    testbed();
    let site = Site::new(false, "");
    apply(&site.root);
    std::fs::write(site.root.join("capsule.toml"), format!("[capsule]\nname = \"{}\"\n", site.name)).unwrap();
    let p = plan(&site.root);
    let mut deletes: Vec<String> = p["capsules"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "delete")
        .map(|c| c["type"].as_str().unwrap().to_string())
        .collect();
    deletes.sort();
    assert_eq!(deletes, ["cloudfront_distribution", "cloudfront_oac", "s3_bucket", "s3_bucket_policy"]);

    let out = capsule(&site.root, &["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--allow-destroy"));
    let s3 = s3().await;
    assert!(s3.head_bucket().bucket(site.bucket()).send().await.is_ok(), "refused: the bucket and its files stay");

    let out = capsule(&site.root, &["apply", "--allow-destroy"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s3.head_bucket().bucket(site.bucket()).send().await.is_err(), "the bucket is gone");
    let cf = Aws::from_env().await.cloudfront("us-east-1");
    let list = cf.list_distributions().send().await.unwrap();
    let left = list
        .distribution_list()
        .unwrap()
        .items()
        .iter()
        .filter(|d| d.comment() == format!("{}-production-web", site.name))
        .count();
    assert_eq!(left, 0, "the distribution was disabled, then deleted");
    let out = capsule(&site.root, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test]
async fn ci_progress_is_plain_lines_in_a_github_actions_group() {
    testbed();
    let site = Site::new(false, "");
    let out = Command::new(env!("CARGO_BIN_EXE_capsule"))
        .args(["apply"])
        .current_dir(&site.root)
        .env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let group = err.find("::group::site web: 5 files").expect("a group opens");
    let done = err.find("site web: 5/5 files").expect("a plain progress line");
    let end = err.find("::endgroup::").expect("the group closes");
    assert!(group < done && done < end, "{err}");
    assert!(!err.contains('\r') && !err.contains("\x1b["), "no terminal control in CI logs");
}

#[tokio::test]
async fn a_site_domain_gets_a_us_east_1_certificate_the_alias_and_its_records() {
    testbed();
    let aws = Aws::from_env().await;
    let zone = format!("{}.example.com", unique("z"));
    let r53 = aws.route53("us-east-1");
    let zone_id = hosted_zone(&zone).await;
    let name = unique("dom");
    let domain = format!("www.{zone}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("site")).unwrap();
    std::fs::write(dir.path().join("site/index.html"), "<h1>hi</h1>").unwrap();
    // The capsule lives in eu-west-1: CloudFront's certificate must still be in us-east-1.
    std::fs::write(
        dir.path().join("capsule.toml"),
        format!(
            "[capsule]\nname = \"{name}\"\nregion = \"eu-west-1\"\n[dns]\nzone = \"{zone}\"\n[sites.web]\ndir = \"site\"\ndomain = \"{domain}\"\n"
        ),
    )
    .unwrap();
    apply(dir.path());
    assert_converged(dir.path());

    let certs = aws.acm("us-east-1").list_certificates().send().await.unwrap();
    let cert = certs
        .certificate_summary_list()
        .iter()
        .find(|c| c.domain_name() == Some(domain.as_str()))
        .expect("a certificate in us-east-1");
    assert_eq!(cert.status().map(|s| s.as_str()), Some("ISSUED"));
    let in_region = aws.acm("eu-west-1").list_certificates().send().await.unwrap();
    assert!(!in_region.certificate_summary_list().iter().any(|c| c.domain_name() == Some(domain.as_str())));

    let cf = aws.cloudfront("us-east-1");
    let list = cf.list_distributions().send().await.unwrap();
    let d = list
        .distribution_list()
        .unwrap()
        .items()
        .iter()
        .find(|d| d.comment() == format!("{name}-production-web"))
        .expect("the distribution");
    assert_eq!(d.aliases().unwrap().items(), std::slice::from_ref(&domain));
    let viewer = d.viewer_certificate().unwrap();
    assert_eq!(viewer.acm_certificate_arn(), cert.certificate_arn());
    assert_eq!(viewer.ssl_support_method().map(|m| m.as_str()), Some("sni-only"));

    // A and AAAA aliases to the distribution, and the certificate's validation record.
    let records = r53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.unwrap();
    let sets = records.resource_record_sets();
    for kind in ["A", "AAAA"] {
        let set = sets
            .iter()
            .find(|s| s.name() == format!("{domain}.") && s.r#type().as_str() == kind)
            .unwrap_or_else(|| panic!("no {kind} record: {sets:#?}"));
        let target = set.alias_target().expect("an alias").dns_name().trim_end_matches('.');
        assert_eq!(target, d.domain_name());
    }
    assert!(sets.iter().any(|s| s.r#type().as_str() == "CNAME" && s.name().starts_with('_')), "validation record");
}
