//! Observation of one capsule environment against live AWS: the live state of every
//! desired resource, and what it owns but no longer declares. Reads only, through the
//! adapters; never plans or changes anything.

use std::collections::{BTreeMap, HashSet};

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::aws::adapters::{adapter, managed_kinds};
use crate::aws::{AwsError, Cx, Live};
use crate::model::{Address, Desired, Kind};
use crate::plan::PlanError;

/// How many AWS reads run at once for one capsule environment.
const OBSERVE_CONCURRENCY: usize = 8;

/// What is live for one capsule environment.
#[derive(Debug, Default)]
pub struct Observation {
    /// Desired resources that exist, by address.
    pub live: BTreeMap<String, Live>,
    /// Resources tagged for this capsule environment that it no longer declares.
    pub undeclared: Vec<(Kind, Live)>,
    /// Reads that failed, and resources capsule cannot manage.
    pub errors: Vec<PlanError>,
}

/// Reads the live state of every desired resource, and lists what the capsule owns but
/// no longer declares. Independent reads run concurrently.
pub async fn observe(cx: &Cx, desired: &Desired) -> Observation {
    let mut obs = Observation::default();
    // Kinds read through one listing each (made by the first read of the kind): their
    // resources are looked up in it.
    let slots: BTreeMap<Kind, OnceCell<Result<Vec<Live>, AwsError>>> = managed_kinds()
        .into_iter()
        .filter(|k| adapter(*k).is_some_and(|a| a.observes_by_listing()))
        .map(|k| (k, OnceCell::new()))
        .collect();
    let slots_ref = &slots;
    let reads = futures::stream::iter(desired.resources.iter().filter_map(|r| adapter(r.address.kind).map(|a| (r, a))))
        .map(|(r, a)| async move {
            if let Some(slot) = slots_ref.get(&r.address.kind)
                && let Ok(lives) = slot.get_or_init(|| a.list_owned(cx)).await
            {
                match a.observe_listed(cx, r, lives).await {
                    Ok(None) => {}
                    found => return (r, found),
                }
            }
            (r, a.observe(cx, r).await)
        })
        .buffer_unordered(OBSERVE_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    for (r, result) in reads {
        match result {
            Ok(Some(live)) => {
                obs.live.insert(r.address.to_string(), live);
            }
            Ok(None) => {}
            Err(e) => obs.errors.push(PlanError {
                address: r.address.to_string(),
                message: format!("cannot read: {e}"),
                hint: None,
            }),
        }
    }
    for r in &desired.resources {
        if adapter(r.address.kind).is_none() {
            obs.errors.push(PlanError {
                address: r.address.to_string(),
                message: format!("resource type `{}` is not managed by this version of capsule yet", r.address.kind),
                hint: Some(
                    "plan with --offline to see the whole model; apply refuses until every type is supported".into(),
                ),
            });
        }
    }
    // The listings below find the observed resources again: they take them as read.
    cx.remember_observed(
        desired.resources.iter().filter_map(|r| Some((r.address.kind, obs.live.get(&r.address.to_string())?.clone()))),
    );
    let declared: HashSet<(Kind, &str)> =
        desired.resources.iter().map(|r| (r.address.kind, r.address.name.as_str())).collect();
    let mut listed = Vec::new();
    for (kind, slot) in slots {
        listed.extend(slot.into_inner().map(|l| (kind, l)));
    }
    let to_list: Vec<Kind> = managed_kinds().into_iter().filter(|k| !listed.iter().any(|(l, _)| l == k)).collect();
    let mut lists = futures::stream::iter(to_list)
        .filter_map(|kind| async move { adapter(kind).map(|a| (kind, a)) })
        .map(|(kind, a)| async move { (kind, a.list_owned(cx).await) })
        .buffered(OBSERVE_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    lists.extend(listed);
    cx.forget_observed();
    for (kind, listing) in lists {
        match listing {
            Ok(owned) => {
                let replaces_late = adapter(kind).is_some_and(|a| a.create_before_delete());
                for live in owned {
                    let component = live.component().unwrap_or_default().to_string();
                    if !declared.contains(&(kind, component.as_str())) {
                        obs.undeclared.push((kind, live));
                    } else if replaces_late && superseded(&obs.live, &cx.capsule, &cx.env, kind, &component, &live) {
                        // The old one of a replacement whose delete did not happen yet.
                        obs.undeclared.push((kind, live));
                    }
                }
            }
            Err(e) => obs.errors.push(PlanError {
                address: format!("{}.{}.{kind}.*", cx.capsule, cx.env),
                message: format!("cannot list owned resources: {e}"),
                hint: None,
            }),
        }
    }
    obs.undeclared.sort_by(|a, b| (a.0, &a.1.aws_name).cmp(&(b.0, &b.1.aws_name)));
    obs
}

/// Whether `live` is an older copy of a declared resource whose current one is observed
/// under another AWS name (left over by a create-before-delete replacement).
fn superseded(
    observed: &BTreeMap<String, Live>,
    capsule: &str,
    env: &str,
    kind: Kind,
    component: &str,
    live: &Live,
) -> bool {
    let address = Address { capsule: capsule.into(), env: env.into(), kind, name: component.into() }.to_string();
    observed.get(&address).is_some_and(|current| current.aws_name != live.aws_name)
}

/// Outputs known before apply: those of live resources.
pub fn live_outputs(obs: &Observation) -> BTreeMap<String, BTreeMap<String, Value>> {
    obs.live.iter().map(|(a, l)| (a.clone(), l.outputs.clone())).collect()
}
