//! `capsule policy` is enough, and needed: `examples/shop` (both environments) applied on a
//! test bed of its own with IAM enforcement on, by an IAM user that holds only the printed
//! policy, succeeds and re-plans to no changes; the same policy without one action it needs
//! makes apply fail with AccessDenied for that action. (moto enforces identity policies once
//! POST /moto-api/reset-auth has set its `INITIAL_NO_AUTH_ACTION_COUNT`; the test bed's
//! patches/iam_auth.py makes it check the permissions AWS checks.)

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Instant;

use common::{SERVICES_ENV, capsule_with, config, own_testbed, shop, testbed, text, zone};
use serde_json::Value;

/// Runs capsule as the IAM user whose access key is `key`.
fn capsule_as(dir: &Path, endpoint: &str, key: &(String, String), args: &[&str]) -> Output {
    let mut env: Vec<(&str, &str)> = SERVICES_ENV.to_vec();
    env.extend([
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", key.0.as_str()),
        ("AWS_SECRET_ACCESS_KEY", key.1.as_str()),
    ]);
    capsule_with(dir, args, &env)
}

/// An IAM user holding only `policy` (inline); its access key.
async fn user(iam: &aws_sdk_iam::Client, name: &str, policy: &Value) -> (String, String) {
    iam.create_user().user_name(name).send().await.unwrap();
    iam.put_user_policy()
        .user_name(name)
        .policy_name("capsule-deploy")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    let key = iam.create_access_key().user_name(name).send().await.unwrap().access_key.unwrap();
    (key.access_key_id, key.secret_access_key)
}

/// `policy` without `action` in any statement.
fn without(policy: &Value, action: &str) -> Value {
    let mut p = policy.clone();
    let statements = p["Statement"].as_array_mut().unwrap();
    for s in statements.iter_mut() {
        s["Action"].as_array_mut().unwrap().retain(|a| a != action);
    }
    statements.retain(|s| !s["Action"].as_array().unwrap().is_empty());
    assert_ne!(&p, policy, "the policy has no {action}");
    p
}

fn turn_on_iam(endpoint: &str) {
    let out = std::process::Command::new("curl")
        .args(["-sf", "-H", "Content-Type: text/plain", "--data", "0", &format!("{endpoint}/moto-api/reset-auth")])
        .output()
        .unwrap();
    assert!(out.status.success(), "reset-auth failed: {}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_policy_is_all_the_shop_needs_and_each_action_of_it_is_needed() {
    testbed();
    assert!(std::env::var("CAPSULE_REGISTRY").is_ok(), "the registry of the test bed is needed for the images");
    let started = Instant::now();
    let bed = own_testbed(&[]);
    let dir = shop();
    let out = capsule_with(dir.path(), &["policy"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let policy: Value = serde_json::from_slice(&out.stdout).unwrap();

    // As the account's owner, before IAM is enforced: the user's zone and the deploy users.
    zone(&bed.endpoint).await;
    let iam = aws_sdk_iam::Client::new(&config(&bed.endpoint, "us-east-1").await);
    let deployer = user(&iam, "deployer", &policy).await;
    let no_tagging = user(&iam, "deployer-no-s3-tagging", &without(&policy, "s3:TagResource")).await;
    let no_pass_role = user(&iam, "deployer-no-pass-role", &without(&policy, "iam:PassRole")).await;
    turn_on_iam(&bed.endpoint);

    // The lock bucket is created with tags: without s3:TagResource nothing can start.
    let out = capsule_as(dir.path(), &bed.endpoint, &no_tagging, &["apply"]);
    assert!(!out.status.success(), "apply succeeded without s3:TagResource:\n{}", text(&out));
    assert!(text(&out).contains("s3:CreateBucket access denied (AccessDenied)"), "{}", text(&out));
    // Task definitions hand their roles to ECS: without iam:PassRole no service starts.
    let out = capsule_as(dir.path(), &bed.endpoint, &no_pass_role, &["apply"]);
    assert!(!out.status.success(), "apply succeeded without iam:PassRole:\n{}", text(&out));
    assert!(text(&out).contains("not authorized to perform: iam:PassRole"), "{}", text(&out));
    eprintln!("the two refused applies took {:?}", started.elapsed());

    // The whole policy: apply finishes what the refused ones began, then nothing is left to do.
    let out = capsule_as(dir.path(), &bed.endpoint, &deployer, &["apply", "--format", "json"]);
    assert!(out.status.success(), "apply with the printed policy failed:\n{}", text(&out));
    let out = capsule_as(dir.path(), &bed.endpoint, &deployer, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "the re-plan is not clean:\n{}", text(&out));
    eprintln!("the test took {:?}", started.elapsed());
}

/// Without enforcement on, the test above proves nothing: the root key is no IAM user's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_iam_enforced_an_unknown_key_is_refused() {
    testbed();
    let bed = own_testbed(&[]);
    turn_on_iam(&bed.endpoint);
    let dir = shop();
    let out = capsule_as(dir.path(), &bed.endpoint, &("AKIAUNKNOWNKEY000000".into(), "secret".into()), &["plan"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("sts:GetCallerIdentity access denied (InvalidClientTokenId)"), "{}", text(&out));
}
