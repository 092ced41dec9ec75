//! The live plan of one capsule environment: each desired resource's change against what
//! was observed, deletes of what is no longer declared, and the account guard. Pure over
//! an observation; the artifacts' plans are `artifacts::{image_plan, site_plan}`'s.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::artifacts;
use crate::aws::adapters::adapter;
use crate::aws::{Live, Seen};
use crate::model::{Address, Desired, Graph, Kind};
use crate::plan::{
    Action, AttributeChange, CapsulePlan, Change, Observed, PlanError, has_reference, plan_resource, resolve_attributes,
};

use super::{Observation, live_outputs};

/// What a planned change acts on.
#[derive(Debug, Clone)]
pub enum Target {
    /// Index into `Desired::resources`.
    Desired(usize),
    /// A resource the capsule owns but no longer declares.
    Undeclared(Kind, Live),
}

/// A capsule environment's plan, and what each change acts on (same order).
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: CapsulePlan,
    pub targets: Vec<Target>,
}

/// Desired attributes of `r` with references resolved from `outputs`, normalised by its
/// adapter.
pub fn desired_attributes(
    r: &crate::model::Resource,
    outputs: &BTreeMap<String, BTreeMap<String, Value>>,
) -> BTreeMap<String, Value> {
    let mut attrs =
        resolve_attributes(&r.attributes, &|address, attr| outputs.get(address).and_then(|o| o.get(attr)).cloned());
    if let Some(a) = adapter(r.address.kind) {
        // Attributes still waiting for another resource's output are left as they are; the
        // others are normalised now, so that a change elsewhere in the resource does not
        // show a list in another order as a change too.
        let waiting: Vec<(String, Value)> =
            attrs.iter().filter(|(_, v)| has_reference(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
        for (k, _) in &waiting {
            attrs.remove(k);
        }
        a.normalize(&mut attrs);
        attrs.extend(waiting);
    }
    attrs
}

/// The plan of one capsule environment against what was observed. `guard` is the
/// configured account and `account` the one the credentials belong to.
pub fn plan_live(desired: &Desired, graph: &Graph, obs: &Observation, account: &str, guard: Option<&str>) -> Planned {
    let mut outputs = live_outputs(obs);
    let mut errors = obs.errors.clone();
    if let Some(guard) = guard
        && guard != account
    {
        errors.push(PlanError {
            address: format!("{}.{}", desired.capsule, desired.env),
            message: format!("the AWS credentials are for account {account}, but the capsule pins account {guard}"),
            hint: Some("use credentials of the pinned account, or change `account` in [capsule]".into()),
        });
    }
    let mut changes = Vec::new();
    let mut targets = Vec::new();
    let mut notes = Vec::new();
    for &i in &graph.order {
        let r = &desired.resources[i];
        let Some(a) = adapter(r.address.kind) else {
            continue;
        };
        let address = r.address.to_string();
        let live = obs.live.get(&address);
        if let Some(live) = live
            && !live.is_owned_by(&desired.capsule, &desired.env)
        {
            errors.push(PlanError {
                address: address.clone(),
                message: format!("`{}` exists in AWS but is not tagged as this capsule's: capsule never adopts or changes it", r.aws_name),
                hint: Some(format!(
                    "rename or remove it, or hand it over by tagging it capsule:name={}, capsule:env={}, capsule:component={}, managed-by=capsule",
                    desired.capsule, desired.env, r.address.name
                )),
            });
            continue;
        }
        let attrs = desired_attributes(r, &outputs);
        if let Some(live) = live {
            notes.extend(a.notes(&address, live));
        }
        let observed = live.map(|l| Observed { attributes: l.attributes.clone(), outputs: l.outputs.clone() });
        let mut change = plan_resource(r, &attrs, observed.as_ref(), &a.plan_rules());
        if change.action != Action::Create
            && let Some(why) = a.assess(&mut change, &Seen { desired: Some(&attrs), live })
        {
            errors.push(PlanError { address: address.clone(), message: why, hint: None });
        }
        a.annotate(&mut change, &Seen { desired: Some(&attrs), live });
        // What a change gives anew is unknown until it is applied: dependents plan against
        // "(known after apply)", not against the value about to be replaced.
        match change.action {
            Action::Replace => {
                outputs.remove(&address);
            }
            Action::Update => {
                if let Some(o) = outputs.get_mut(&address) {
                    for k in a.outputs_changed_by_update() {
                        o.remove(*k);
                    }
                }
            }
            _ => {}
        }
        changes.push(change);
        targets.push(Target::Desired(i));
    }
    let declared: HashSet<(Kind, &str)> =
        desired.resources.iter().map(|r| (r.address.kind, r.address.name.as_str())).collect();
    for (kind, live) in &obs.undeclared {
        let mut change = undeclared_change(desired, &declared, *kind, live);
        // A delete the adapter refuses (a protected database) stops the whole plan, so
        // nothing it depends on is deleted around it either.
        if let Some(why) = adapter(*kind).and_then(|a| a.assess(&mut change, &Seen { desired: None, live: Some(live) }))
        {
            errors.push(PlanError { address: change.address.clone(), message: why, hint: None });
        }
        changes.push(change);
        targets.push(Target::Undeclared(*kind, live.clone()));
    }
    Planned {
        plan: CapsulePlan {
            capsule: desired.capsule.clone(),
            environment: desired.env.clone(),
            region: desired.region.clone(),
            changes,
            artifacts: desired.artifacts.iter().map(artifacts::offline_plan).collect(),
            errors,
            notes,
        },
        targets,
    }
}

/// The delete of a resource the capsule environment owns but no longer declares (or the
/// old copy of one replaced create-before-delete).
fn undeclared_change(desired: &Desired, declared: &HashSet<(Kind, &str)>, kind: Kind, live: &Live) -> Change {
    let name = live.component().unwrap_or_default();
    Change {
        address: Address { capsule: desired.capsule.clone(), env: desired.env.clone(), kind, name: name.to_string() }
            .to_string(),
        kind: kind.to_string(),
        action: Action::Delete,
        reason: Some(if declared.contains(&(kind, name)) {
            format!("superseded by a replacement: {}", live.aws_name)
        } else {
            "no longer declared".into()
        }),
        attributes: live
            .attributes
            .iter()
            .map(|(k, v)| AttributeChange {
                path: k.clone(),
                before: v.clone(),
                after: Value::Null,
                forces_replacement: false,
                impact: None,
            })
            .collect(),
        stateful: kind.is_stateful(),
        outcome: None,
        error: None,
    }
}

/// Stateful resources a plan would delete or replace.
pub fn destructive_stateful(plan: &CapsulePlan) -> Vec<&Change> {
    plan.changes.iter().filter(|c| c.stateful && c.is_destructive()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Kind, Resource, reference};
    use serde_json::json;

    #[test]
    fn attributes_not_waiting_for_an_output_are_normalised_even_when_others_wait() {
        let td = Address { capsule: "s".into(), env: "p".into(), kind: Kind::EcsTaskDefinition, name: "api".into() };
        let r = Resource {
            address: Address { kind: Kind::EcsService, ..td.clone() },
            aws_name: "api".into(),
            region: "us-east-1".into(),
            attributes: BTreeMap::from([
                ("subnets".to_string(), json!(["subnet-b", "subnet-a"])),
                ("task_definition".to_string(), reference(&td, "arn")),
            ]),
            depends_on: vec![],
            tags: BTreeMap::new(),
        };
        let attrs = desired_attributes(&r, &BTreeMap::new());
        assert_eq!(attrs["subnets"], json!(["subnet-a", "subnet-b"]));
        assert_eq!(attrs["task_definition"], reference(&td, "arn"), "what waits is left as it is");
    }
}
