//! `capsule rollback`: moves a service to the previous registered revision of its task
//! definition family (or the one `--to` names), under the apply lock, and waits for the
//! rollout as an apply does. git still says otherwise: the next apply rolls forward again.

use super::Workload;
use crate::aws::adapters::ecs_service;
use crate::aws::{AwsResultExt, Cx};
use crate::engine::Session;
use crate::lock;

/// `family:N` of a task definition ARN: (family, N).
fn revision_of(arn: &str) -> Option<(String, i32)> {
    let (family, revision) = arn.rsplit('/').next()?.rsplit_once(':')?;
    Some((family.to_string(), revision.parse().ok()?))
}

/// The revision to go back to: `to` when it is registered, else the highest below `current`.
pub fn target(current: i32, registered: &[i32], to: Option<i32>) -> anyhow::Result<i32> {
    let known = || registered.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
    match to {
        Some(n) if n == current => anyhow::bail!("the service runs revision {n} already"),
        Some(n) if registered.contains(&n) => Ok(n),
        Some(n) => anyhow::bail!("revision {n} is not registered (registered revisions: {})", known()),
        None => registered.iter().copied().filter(|r| *r < current).max().ok_or_else(|| {
            anyhow::anyhow!("no revision before {current} is registered (registered revisions: {})", known())
        }),
    }
}

/// The family's active revisions, newest first.
async fn registered(session: &Session, w: &Workload, family: &str) -> anyhow::Result<Vec<i32>> {
    let ecs = session.aws.ecs(&w.region);
    let mut pages = ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .sort(aws_sdk_ecs::types::SortOrder::Desc)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        for arn in page.aws("ecs:ListTaskDefinitions")?.task_definition_arns() {
            // familyPrefix also matches longer families (`api` of `api-v2`).
            if let Some((_, n)) = revision_of(arn).filter(|(f, _)| f == family) {
                out.push(n);
            }
        }
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    Ok(out)
}

/// `capsule rollback`.
pub async fn rollback(
    session: &Session,
    capsule: &str,
    env: &str,
    w: &Workload,
    to: Option<i32>,
) -> anyhow::Result<()> {
    let (Some(service), Some(resource)) = (&w.service, &w.resource) else {
        anyhow::bail!("`{}` is a job: jobs run the task definition of their service", w.label);
    };
    let ecs = session.aws.ecs(&w.region);
    let out = ecs.describe_services().cluster(&w.cluster).services(service).send().await.aws("ecs:DescribeServices")?;
    let Some(live) = out.services().iter().find(|s| s.status() == Some("ACTIVE")) else {
        anyhow::bail!("service `{}` is not deployed in cluster {} (apply first)", w.label, w.cluster);
    };
    let Some((family, current)) = live.task_definition().and_then(revision_of) else {
        anyhow::bail!("service `{}` runs no task definition ECS names", w.label);
    };
    let wanted = target(current, &registered(session, w, &family).await?, to)?;
    let held = lock::acquire(&session.aws, &session.account, &w.region, capsule, env)
        .await
        .map_err(|e| anyhow::anyhow!("Refusing to roll back {capsule}/{env}: {e}\nNothing was changed."))?;
    eprintln!(
        "Rolling service `{}` of {capsule}/{env} back to {family}:{wanted} (it runs {family}:{current}).",
        w.label
    );
    let cx = Cx::new(session.aws.clone(), session.account.clone(), capsule.into(), env.into(), w.region.clone(), false);
    let task_definition =
        live.task_definition().unwrap_or_default().replace(&format!(":{current}"), &format!(":{wanted}"));
    let rolled = ecs_service::roll_to(&cx, resource, &task_definition).await;
    if let Err(e) = held.release().await {
        eprintln!("warning: could not release the apply lock of {capsule}/{env}: {e}");
    }
    rolled?;
    println!(
        "Service `{}` of {capsule}/{env} runs {family}:{wanted} (was {current}). The next apply from git rolls it \
         forward again; until then `capsule plan` shows the service as drifted.",
        w.label
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_are_read_from_task_definition_arns() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-production-api:7";
        assert_eq!(revision_of(arn), Some(("shop-production-api".into(), 7)));
        assert_eq!(revision_of("nonsense"), None);
    }

    #[test]
    fn the_target_is_the_previous_registered_revision_or_the_one_asked_for() {
        assert_eq!(target(7, &[7, 5, 4], None).unwrap(), 5);
        assert_eq!(target(7, &[7, 5, 4], Some(4)).unwrap(), 4);
        let unknown = target(7, &[7, 5, 4], Some(6)).unwrap_err().to_string();
        assert!(unknown.contains("revision 6 is not registered (registered revisions: 7, 5, 4)"), "{unknown}");
        assert!(target(1, &[1], None).is_err());
        assert!(target(7, &[7, 5], Some(7)).is_err());
    }
}
