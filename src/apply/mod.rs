//! The executor: walks a capsule environment's plan over the dependency graph. Creates and
//! updates run in dependency order, independent ones in parallel; a failure skips its
//! dependents, not its siblings; deletes of what is no longer declared run last, in
//! reverse kind order. Every change gets an outcome.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde_json::Value;

use crate::artifacts::image::Shipper;
use crate::aws::adapters::{ALL_KINDS, adapter};
use crate::aws::{AwsError, Cx, ErrorKind, Live};
use crate::engine::{Observation, Planned, Target, desired_attributes, live_outputs};
use crate::model::{Desired, Graph, Kind};
use crate::plan::{Action, Change, Outcome, has_reference};

/// The outputs of every resource applied or observed so far, by address.
type Outputs = BTreeMap<String, BTreeMap<String, Value>>;

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

/// Called once per finished change, with how long it took.
type Report<'a> = &'a (dyn Fn(&Change, Duration) + Sync);

/// Applies `planned` (its changes get their outcomes). `report` is called once per
/// finished change with its index. Returns whether everything applied.
pub async fn apply(
    cx: &Cx,
    desired: &Desired,
    graph: &Graph,
    obs: &Observation,
    planned: &mut Planned,
    images: &Shipper,
    report: Report<'_>,
) -> bool {
    // change index of each desired resource (resources without an adapter have none)
    let mut change_of: Vec<Option<usize>> = vec![None; desired.resources.len()];
    for (ci, t) in planned.targets.iter().enumerate() {
        if let Target::Desired(ri) = t {
            change_of[*ri] = Some(ci);
        }
    }
    let mut run = Executor {
        cx,
        desired,
        graph,
        obs,
        images,
        report,
        change_of,
        state: vec![State::Pending; desired.resources.len()],
        ok: true,
    };
    let replaced = run.forward(planned).await;
    run.finish_replacements(planned, replaced).await;
    run.delete_undeclared(planned).await;
    // Anything left without an outcome was never reachable (e.g. behind an unsupported type).
    for ch in planned.plan.changes.iter_mut().filter(|c| c.outcome.is_none()) {
        ch.outcome = Some(Outcome::Skipped);
        ch.error.get_or_insert_with(|| "not attempted".into());
        run.ok = false;
    }
    run.ok
}

/// One apply of one capsule environment: what it reads, and the state of each resource.
struct Executor<'a> {
    cx: &'a Cx,
    desired: &'a Desired,
    graph: &'a Graph,
    obs: &'a Observation,
    images: &'a Shipper,
    report: Report<'a>,
    change_of: Vec<Option<usize>>,
    state: Vec<State>,
    ok: bool,
}

/// A change ready to run: every dependency applied, its attributes resolved.
struct Start {
    ri: usize,
    action: Action,
    live: Option<Live>,
    attrs: BTreeMap<String, Value>,
    builds_image: bool,
}

impl<'a> Executor<'a> {
    /// Creates, updates and replacements in dependency order, in parallel where
    /// independent. Returns the old halves of create-before-delete replacements.
    async fn forward(&mut self, planned: &mut Planned) -> Vec<(usize, Live)> {
        let mut outputs = live_outputs(self.obs);
        let mut running: FuturesUnordered<Running<'a>> = FuturesUnordered::new();
        let mut replaced: Vec<(usize, Live)> = Vec::new();
        loop {
            // Settle what can no longer run, then start what is ready.
            for &ri in &self.graph.order {
                if running.len() < APPLY_CONCURRENCY
                    && let Some(start) = self.ready(ri, planned, &outputs)
                {
                    running.push(self.start(start));
                } else if self.state[ri] == State::Pending {
                    self.skip_if_blocked(ri, planned);
                }
            }
            let Some((ri, result, started, old)) = running.next().await else {
                break;
            };
            let Some(ci) = self.change_of[ri] else { continue };
            let address = self.desired.resources[ri].address.to_string();
            let ch = &mut planned.plan.changes[ci];
            match result {
                Ok(live) => {
                    if let Some(live) = live {
                        outputs.insert(address, live.outputs);
                    }
                    self.state[ri] = State::Done;
                    ch.outcome = Some(Outcome::Applied);
                    replaced.extend(old.map(|o| (ri, o)));
                }
                Err(e) => {
                    self.state[ri] = State::Failed;
                    ch.outcome = Some(Outcome::Failed);
                    ch.error = Some(e.to_string());
                    self.ok = false;
                }
            }
            (self.report)(ch, started.elapsed());
        }
        replaced
    }

    /// A pending resource behind a failed dependency is skipped (and so are its dependents).
    fn skip_if_blocked(&mut self, ri: usize, planned: &mut Planned) {
        let Some(&bad) = self.graph.deps[ri].iter().find(|&&d| self.state[d] == State::Failed) else {
            return;
        };
        self.state[ri] = State::Failed;
        if let Some(ci) = self.change_of[ri] {
            let ch = &mut planned.plan.changes[ci];
            ch.outcome = Some(Outcome::Skipped);
            ch.error = Some(format!("not attempted: {} did not apply", self.desired.resources[bad].address));
            (self.report)(ch, Duration::ZERO);
        }
        self.ok = false;
    }

    /// Settles resource `ri` if it can be settled without running (skipped, unchanged,
    /// unresolvable), or returns it ready to run.
    fn ready(&mut self, ri: usize, planned: &mut Planned, outputs: &Outputs) -> Option<Start> {
        if self.state[ri] != State::Pending {
            return None;
        }
        let deps = &self.graph.deps[ri];
        if deps.iter().any(|&d| self.state[d] == State::Failed) || !deps.iter().all(|&d| self.state[d] == State::Done) {
            return None;
        }
        let Some(ci) = self.change_of[ri] else {
            // Not managed yet: the plan carried an error and apply was refused before.
            self.state[ri] = State::Failed;
            self.ok = false;
            return None;
        };
        let r = &self.desired.resources[ri];
        let action = planned.plan.changes[ci].action;
        let address = r.address.to_string();
        // A repository whose image must still be built runs even when it is unchanged.
        let builds_image = self.images.plans().iter().any(|p| p.repository == address && p.digest.is_none());
        if action == Action::NoOp && !builds_image {
            self.state[ri] = State::Done;
            planned.plan.changes[ci].outcome = Some(Outcome::Applied);
            return None;
        }
        let attrs = desired_attributes(r, outputs);
        if let Some((k, _)) = attrs.iter().find(|(_, v)| has_reference(v)) {
            self.state[ri] = State::Failed;
            let ch = &mut planned.plan.changes[ci];
            ch.outcome = Some(Outcome::Failed);
            ch.error = Some(format!("attribute `{k}` references an output no dependency produced"));
            (self.report)(ch, Duration::ZERO);
            self.ok = false;
            return None;
        }
        self.state[ri] = State::Running;
        adapter(r.address.kind)?;
        Some(Start { ri, action, live: self.obs.live.get(&address).cloned(), attrs, builds_image })
    }

    /// Runs one change through its adapter; a repository's image is built and pushed once
    /// the repository exists, and pinned by digest into its outputs for the task definitions.
    fn start(&self, s: Start) -> Running<'a> {
        let (cx, images) = (self.cx, self.images);
        let r = &self.desired.resources[s.ri];
        Box::pin(async move {
            let Some(a) = adapter(r.address.kind) else {
                unreachable!("ready() only starts resources that have an adapter")
            };
            let started = Instant::now();
            let mut old = None;
            let attrs = &s.attrs;
            let result = match (s.action, s.live) {
                (Action::NoOp, live) => Ok(live),
                (Action::Update, Some(live)) => a.update(cx, r, attrs, &live).await.map(Some),
                (Action::Replace, Some(live)) if a.create_before_delete() => {
                    old = Some(live);
                    a.create(cx, r, attrs).await.map(Some)
                }
                (Action::Replace, Some(live)) => match a.delete(cx, &live).await {
                    Ok(()) => a.create(cx, r, attrs).await.map(Some),
                    Err(e) => Err(e),
                },
                _ => a.create(cx, r, attrs).await.map(Some),
            };
            let result = match result {
                Ok(Some(mut live)) if s.builds_image => match images.ship(&r.address.to_string()).await {
                    Ok(Some(pinned)) => {
                        live.outputs.insert("image".into(), Value::String(pinned));
                        Ok(Some(live))
                    }
                    Ok(None) => Ok(Some(live)),
                    Err(e) => Err(AwsError::new(ErrorKind::Other, "image", e)),
                },
                other => other,
            };
            (s.ri, result, started, old)
        })
    }

    /// The old halves of create-before-delete replacements, once every dependent applied;
    /// while one did not, the old resource is still in use and is kept (the next plan
    /// deletes it as superseded).
    async fn finish_replacements(&mut self, planned: &mut Planned, replaced: Vec<(usize, Live)>) {
        for (ri, old) in replaced {
            let Some(ci) = self.change_of[ri] else { continue };
            if old.aws_name == self.desired.resources[ri].aws_name {
                // Made again under the same name: the "old" one is the new one.
                continue;
            }
            let n = self.desired.resources.len();
            let pending = (0..n).find(|&d| self.graph.deps[d].contains(&ri) && self.state[d] != State::Done);
            let started = Instant::now();
            let error = match pending {
                Some(d) => Some(format!(
                    "the new one is in place, but {} did not apply, so the old {} is kept in use; the next apply deletes it",
                    self.desired.resources[d].address, old.aws_name
                )),
                None => match adapter(self.desired.resources[ri].address.kind) {
                    Some(a) => a.delete(self.cx, &old).await.err().map(|e| {
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
                self.ok = false;
                (self.report)(ch, started.elapsed());
            }
        }
    }

    /// Deletes of what is no longer declared: dependents first (reverse kind order), each
    /// kind's resources in parallel.
    async fn delete_undeclared(&mut self, planned: &mut Planned) {
        let cx = self.cx;
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
                        self.ok = false;
                    }
                }
                (self.report)(ch, started.elapsed());
            }
        }
    }
}
