//! The executor: walks a capsule environment's plan over the dependency graph. Creates and
//! updates run in dependency order, independent ones in parallel; a failure skips its
//! dependents, not its siblings; deletes of what is no longer declared run last, in
//! reverse kind order. Every change gets an outcome.

use std::time::Instant;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;

use crate::artifacts::image::Shipper;
use crate::aws::adapters::{ALL_KINDS, adapter};
use crate::aws::{AwsError, Cx, ErrorKind, Live};
use crate::engine::{Observation, Planned, Target, desired_attributes, live_outputs};
use crate::model::{Desired, Graph, Kind};
use crate::plan::{Action, Outcome, has_reference};

const APPLY_CONCURRENCY: usize = 8;

/// A running change: resource index, what the adapter returned, when it started, and the
/// replaced resource left to delete once its dependents moved over (create-before-delete).
type Running<'a> = BoxFuture<'a, (usize, Result<Option<Live>, AwsError>, Instant, Option<Live>)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done,
    Failed,
}

/// Applies `planned` (its changes get their outcomes). `report` is called once per
/// finished change with its index. Returns whether everything applied.
pub async fn apply(
    cx: &Cx,
    desired: &Desired,
    graph: &Graph,
    obs: &Observation,
    planned: &mut Planned,
    images: &Shipper,
    report: &(dyn Fn(&crate::plan::Change, std::time::Duration) + Sync),
) -> bool {
    let n = desired.resources.len();
    // change index of each desired resource (resources without an adapter have none)
    let mut change_of: Vec<Option<usize>> = vec![None; n];
    for (ci, t) in planned.targets.iter().enumerate() {
        if let Target::Desired(ri) = t {
            change_of[*ri] = Some(ci);
        }
    }
    let mut outputs = live_outputs(obs);
    let mut state = vec![State::Pending; n];
    let mut running: FuturesUnordered<Running<'_>> = FuturesUnordered::new();
    let mut ok = true;
    // Resources replaced create-before-delete: (resource index, the old one).
    let mut replaced: Vec<(usize, Live)> = Vec::new();

    loop {
        // Settle what can no longer run, then start what is ready.
        for &ri in &graph.order {
            if state[ri] != State::Pending {
                continue;
            }
            let deps = &graph.deps[ri];
            if let Some(&bad) = deps.iter().find(|&&d| state[d] == State::Failed) {
                state[ri] = State::Failed;
                if let Some(ci) = change_of[ri] {
                    let ch = &mut planned.plan.changes[ci];
                    ch.outcome = Some(Outcome::Skipped);
                    ch.error = Some(format!("not attempted: {} did not apply", desired.resources[bad].address));
                    report(ch, std::time::Duration::ZERO);
                }
                ok = false;
                continue;
            }
            if !deps.iter().all(|&d| state[d] == State::Done) || running.len() >= APPLY_CONCURRENCY {
                continue;
            }
            let Some(ci) = change_of[ri] else {
                // Not managed yet: the plan carried an error and apply was refused before.
                state[ri] = State::Failed;
                ok = false;
                continue;
            };
            let r = &desired.resources[ri];
            let action = planned.plan.changes[ci].action;
            let address = r.address.to_string();
            let live = obs.live.get(&address).cloned();
            // A repository whose image must still be built runs even when it is unchanged.
            let builds_image = images.plans().iter().any(|p| p.repository == address && p.digest.is_none());
            if action == Action::NoOp && !builds_image {
                state[ri] = State::Done;
                planned.plan.changes[ci].outcome = Some(Outcome::Applied);
                continue;
            }
            let attrs = desired_attributes(r, &outputs);
            if let Some((k, _)) = attrs.iter().find(|(_, v)| has_reference(v)) {
                state[ri] = State::Failed;
                let ch = &mut planned.plan.changes[ci];
                ch.outcome = Some(Outcome::Failed);
                ch.error = Some(format!("attribute `{k}` references an output no dependency produced"));
                report(ch, std::time::Duration::ZERO);
                ok = false;
                continue;
            }
            state[ri] = State::Running;
            let Some(a) = adapter(r.address.kind) else {
                continue;
            };
            running.push(Box::pin(async move {
                let started = Instant::now();
                let mut old = None;
                let result = match (action, live) {
                    (Action::NoOp, live) => Ok(live),
                    (Action::Update, Some(live)) => a.update(cx, r, &attrs, &live).await.map(Some),
                    (Action::Replace, Some(live)) if a.create_before_delete() => {
                        old = Some(live);
                        a.create(cx, r, &attrs).await.map(Some)
                    }
                    (Action::Replace, Some(live)) => match a.delete(cx, &live).await {
                        Ok(()) => a.create(cx, r, &attrs).await.map(Some),
                        Err(e) => Err(e),
                    },
                    _ => a.create(cx, r, &attrs).await.map(Some),
                };
                // The repository's image: built and pushed once it exists, pinned by digest
                // into its outputs for the task definitions.
                let result = match result {
                    Ok(Some(mut live)) if builds_image => match images.ship(&address).await {
                        Ok(Some(pinned)) => {
                            live.outputs.insert("image".into(), serde_json::Value::String(pinned));
                            Ok(Some(live))
                        }
                        Ok(None) => Ok(Some(live)),
                        Err(e) => Err(AwsError::new(ErrorKind::Other, "image", e)),
                    },
                    other => other,
                };
                (ri, result, started, old)
            }));
        }
        let Some((ri, result, started, old)) = running.next().await else {
            break;
        };
        let Some(ci) = change_of[ri] else { continue };
        let address = desired.resources[ri].address.to_string();
        let ch = &mut planned.plan.changes[ci];
        match result {
            Ok(live) => {
                if let Some(live) = live {
                    outputs.insert(address, live.outputs);
                }
                state[ri] = State::Done;
                ch.outcome = Some(Outcome::Applied);
                replaced.extend(old.map(|o| (ri, o)));
            }
            Err(e) => {
                state[ri] = State::Failed;
                ch.outcome = Some(Outcome::Failed);
                ch.error = Some(e.to_string());
                ok = false;
            }
        }
        report(ch, started.elapsed());
    }

    // The old halves of create-before-delete replacements, once every dependent applied;
    // while one did not, the old resource is still in use and is kept (the next plan
    // deletes it as superseded).
    for (ri, old) in replaced {
        let Some(ci) = change_of[ri] else { continue };
        let pending = (0..n).find(|&d| graph.deps[d].contains(&ri) && state[d] != State::Done);
        let started = Instant::now();
        let error = match pending {
            Some(d) => Some(format!(
                "the new one is in place, but {} did not apply, so the old {} is kept in use; the next apply deletes it",
                desired.resources[d].address, old.aws_name
            )),
            None => match adapter(desired.resources[ri].address.kind) {
                Some(a) => a.delete(cx, &old).await.err().map(|e| {
                    format!(
                        "the new one is in place, but deleting the old {} failed (the next apply retries): {e}",
                        old.aws_name
                    )
                }),
                None => None,
            },
        };
        if let Some(error) = error {
            let ch = &mut planned.plan.changes[ci];
            ch.outcome = Some(Outcome::Failed);
            ch.error = Some(error);
            ok = false;
            report(ch, started.elapsed());
        }
    }

    // Deletes of what is no longer declared: dependents first (reverse kind order), each
    // kind's resources in parallel.
    let mut deletes: Vec<(usize, Kind, Live)> = planned
        .targets
        .iter()
        .enumerate()
        .filter_map(|(ci, t)| match t {
            Target::Undeclared(kind, live) => Some((ci, *kind, live.clone())),
            Target::Desired(_) => None,
        })
        .collect();
    deletes.sort_by_key(|(_, kind, _)| std::cmp::Reverse(ALL_KINDS.iter().position(|k| k == kind).unwrap_or(0)));
    let mut i = 0;
    while i < deletes.len() {
        let kind = deletes[i].1;
        let group: Vec<(usize, Live)> =
            deletes[i..].iter().take_while(|d| d.1 == kind).map(|(ci, _, l)| (*ci, l.clone())).collect();
        i += group.len();
        let results = futures::stream::iter(group)
            .map(|(ci, live)| async move {
                let started = Instant::now();
                let result = match adapter(kind) {
                    Some(a) => a.delete(cx, &live).await,
                    None => Err(AwsError::new(ErrorKind::Other, "delete", format!("no adapter for {kind}"))),
                };
                (ci, result, started)
            })
            .buffer_unordered(APPLY_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        for (ci, result, started) in results {
            let ch = &mut planned.plan.changes[ci];
            match result {
                Ok(()) => ch.outcome = Some(Outcome::Applied),
                Err(e) => {
                    ch.outcome = Some(Outcome::Failed);
                    ch.error = Some(e.to_string());
                    ok = false;
                }
            }
            report(ch, started.elapsed());
        }
    }
    // Anything left without an outcome was never reachable (e.g. behind an unsupported type).
    for ch in planned.plan.changes.iter_mut().filter(|c| c.outcome.is_none()) {
        ch.outcome = Some(Outcome::Skipped);
        ch.error.get_or_insert_with(|| "not attempted".into());
        ok = false;
    }
    ok
}
