//! The apply lock (one S3 object per capsule environment, written with `If-None-Match: *`)
//! against the test bed: one winner among concurrent takers, a held lock refuses `apply`
//! with who holds it and how to break it, `capsule unlock` breaks it, release never removes
//! someone else's lock.

mod common;

use std::process::Command;

use capsule::aws::Aws;
use capsule::lock::{self, LockError};
use common::{testbed, text, unique, write};

async fn account() -> (Aws, String, String) {
    let aws = Aws::from_env().await;
    let region = aws.region().expect("AWS_REGION is set by the test bed");
    let account = aws.account_id(&region).await.unwrap();
    (aws, account, region)
}

#[tokio::test]
async fn of_concurrent_takers_exactly_one_wins() {
    testbed();
    let (aws, account, region) = account().await;
    let name = unique("race");
    let takers = (0..6).map(|_| lock::acquire(&aws, &account, &region, &name, "production"));
    let results = futures::future::join_all(takers).await;
    let won: Vec<&lock::Lock> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, LockError::Held { .. }), "{e}");
        }
    }
    let winner = results.into_iter().find_map(Result::ok).unwrap();
    let token = winner.holder.token.clone();
    assert_eq!(lock::holder(&aws, &account, &region, &name, "production").await.unwrap().unwrap().token, token);
    winner.release().await.unwrap();
    assert_eq!(lock::holder(&aws, &account, &region, &name, "production").await.unwrap(), None);
    // Free again: the next taker gets it.
    lock::acquire(&aws, &account, &region, &name, "production").await.unwrap().release().await.unwrap();
}

#[tokio::test]
async fn release_leaves_a_lock_taken_after_a_break_alone() {
    testbed();
    let (aws, account, region) = account().await;
    let name = unique("brk");
    let stale = lock::acquire(&aws, &account, &region, &name, "staging").await.unwrap();
    let broken = lock::break_lock(&aws, &account, &region, &name, "staging").await.unwrap();
    assert_eq!(broken.as_ref().map(|h| &h.token), Some(&stale.holder.token));
    let fresh = lock::acquire(&aws, &account, &region, &name, "staging").await.unwrap();
    // The stale holder wakes up and releases: the fresh lock must survive.
    stale.release().await.unwrap();
    let now = lock::holder(&aws, &account, &region, &name, "staging").await.unwrap().unwrap();
    assert_eq!(now.token, fresh.holder.token);
    fresh.release().await.unwrap();
}

#[tokio::test]
async fn a_held_lock_refuses_apply_until_unlocked() {
    testbed();
    let (aws, account, region) = account().await;
    let dir = tempfile::tempdir().unwrap();
    let name = unique("held");
    write(dir.path(), "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n[secrets]\nk = {{}}\n"));
    let capsule = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_capsule")).args(args).current_dir(dir.path()).output().unwrap()
    };

    let held = lock::acquire(&aws, &account, &region, &name, "production").await.unwrap();
    let out = capsule(&["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.contains(&format!("{name}/production is locked")), "{msg}");
    assert!(msg.contains(&format!("held by {}", held.holder.owner)) && msg.contains("ago)"), "{msg}");
    assert!(msg.contains(&format!("capsule unlock {name} production")), "{msg}");
    assert!(msg.contains("Nothing was changed"), "{msg}");
    // Nothing was applied: the secret would still be created.
    let plan = capsule(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));

    let out = capsule(&["unlock", &name, "production"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("Broke the apply lock of {name}/production, held by {}", held.holder.owner)));
    let out = capsule(&["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    // apply released its own lock.
    assert_eq!(lock::holder(&aws, &account, &region, &name, "production").await.unwrap(), None);
    let out = capsule(&["unlock", &name, "production"]);
    assert!(text(&out).contains("was not locked"), "{}", text(&out));
}

#[tokio::test]
async fn a_lock_left_by_a_dead_process_on_this_machine_is_taken_over() {
    testbed();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("dead");
    write(dir.path(), "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n[secrets]\nk = {{}}\n"));
    // A process that held the lock and died without releasing it (killed, OOM, power).
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let dead_pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let (aws, account, region) = account().await;
    let s3 = aws.s3(&region);
    let mut holder = lock::Holder::this_process();
    holder.pid = Some(dead_pid);
    holder.owner = format!("ci@{} (pid {dead_pid})", holder.host.clone().unwrap());
    // Make sure the bucket exists, then plant the stale lock object.
    lock::acquire(&aws, &account, &region, &name, "production").await.unwrap().release().await.unwrap();
    s3.put_object()
        .bucket(lock::bucket_name(&account, &region))
        .key(format!("locks/{name}/production.json"))
        .body(serde_json::to_vec(&holder).unwrap().into())
        .send()
        .await
        .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_capsule")).arg("apply").current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "Took over the apply lock of {name}/production from {} (its holder (pid {dead_pid}",
            holder.owner
        )),
        "{}",
        text(&out)
    );
    assert_eq!(lock::holder(&aws, &account, &region, &name, "production").await.unwrap(), None);

    // A holder from another machine is never presumed dead.
    holder.host = Some("another-runner".into());
    s3.put_object()
        .bucket(lock::bucket_name(&account, &region))
        .key(format!("locks/{name}/production.json"))
        .body(serde_json::to_vec(&holder).unwrap().into())
        .send()
        .await
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_capsule")).arg("apply").current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("is locked"), "{}", text(&out));
    lock::break_lock(&aws, &account, &region, &name, "production").await.unwrap();
}

#[test]
fn a_later_attempt_of_the_same_run_supersedes_an_earlier_one_only() {
    let mut earlier = lock::Holder::this_process();
    earlier.run_id = Some("77".into());
    earlier.run_attempt = Some(1);
    let mut later = earlier.clone();
    later.run_attempt = Some(2);
    assert!(later.supersedes(&earlier).unwrap().contains("attempt 1 of this workflow run"));
    assert_eq!(earlier.supersedes(&later), None);
    let mut other_run = later.clone();
    other_run.run_id = Some("78".into());
    assert_eq!(other_run.supersedes(&earlier), None, "another run's lock is never presumed dead");
    // A live process on this machine (this test) is not superseded.
    let mut live = lock::Holder::this_process();
    live.pid = Some(1);
    assert_eq!(lock::Holder::this_process().supersedes(&live), None);
}
