//! The pure planner: desired resource + observed live state -> one `Change`.
//! Observed state arrives already normalised by its adapter; this module only compares.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Action, AttributeChange, Change};
use crate::model::{Resource, as_reference};

/// Live state of one resource, as an adapter reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Attributes in the same normalised shape as the desired ones.
    pub attributes: BTreeMap<String, Value>,
    /// Outputs other resources reference (`id`, `arn`, ...).
    pub outputs: BTreeMap<String, Value>,
}

/// Nested objects become dotted paths (`container.image`); arrays stay whole values.
pub fn flatten(attributes: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) if as_reference(v).is_none() && !m.is_empty() => {
                for (k, child) in m {
                    walk(&format!("{prefix}.{k}"), child, out);
                }
            }
            _ => {
                out.insert(prefix.to_string(), v.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    for (k, v) in attributes {
        walk(k, v, &mut out);
    }
    out
}

/// Every resource as `create`: the offline plan.
pub fn plan_offline(desired: &Resource) -> Change {
    plan_resource(desired, &desired.attributes, None, &Rules::default())
}

/// What a kind's adapter says about comparing its attributes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// Attribute paths (or prefixes) AWS cannot change in place.
    pub forces_replacement: &'static [&'static str],
    /// Objects whose live members must all be declared (`Adapter::exact_maps`).
    pub exact_maps: &'static [&'static str],
}

impl Rules {
    fn forces(&self, path: &str) -> bool {
        self.forces_replacement.iter().any(|p| path == *p || path.starts_with(&format!("{p}.")))
    }

    /// Whether `path` is a member of an exact map.
    fn in_exact_map(&self, path: &str) -> bool {
        self.exact_maps.iter().any(|m| path.strip_prefix(m).is_some_and(|rest| rest.starts_with('.')))
    }
}

/// Compares the desired attributes (references resolved where known, normalised by the
/// resource's adapter) with observed state, by the adapter's `rules`.
pub fn plan_resource(
    desired: &Resource,
    attrs: &BTreeMap<String, Value>,
    observed: Option<&Observed>,
    rules: &Rules,
) -> Change {
    let want = flatten(attrs);
    let mut change = Change {
        address: desired.address.to_string(),
        kind: desired.address.kind.to_string(),
        action: Action::NoOp,
        reason: None,
        attributes: Vec::new(),
        stateful: desired.is_stateful(),
        outcome: None,
        error: None,
    };
    let Some(observed) = observed else {
        change.action = Action::Create;
        change.reason = Some("does not exist".into());
        change.attributes = want
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(path, after)| AttributeChange {
                path,
                before: Value::Null,
                after,
                forces_replacement: false,
                impact: None,
            })
            .collect();
        return change;
    };
    let have = flatten(&observed.attributes);
    // Live members of an exact map that the file no longer declares: removed.
    let removed: Vec<(String, Value)> = have
        .iter()
        .filter(|(path, v)| !v.is_null() && !want.contains_key(*path) && rules.in_exact_map(path))
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect();
    for (path, after) in want {
        let before = have.get(&path).cloned().unwrap_or(Value::Null);
        // An exact map emptied in the file: its members' removals say it.
        let emptied = after.as_object().is_some_and(|m| m.is_empty())
            && removed.iter().any(|(p, _)| p.starts_with(&format!("{path}.")));
        if after == before || emptied {
            continue;
        }
        let forces = rules.forces(&path);
        change.attributes.push(AttributeChange { path, before, after, forces_replacement: forces, impact: None });
    }
    for (path, before) in removed {
        let forces = rules.forces(&path);
        change.attributes.push(AttributeChange {
            path,
            before,
            after: Value::Null,
            forces_replacement: forces,
            impact: None,
        });
    }
    if change.attributes.iter().any(|a| a.forces_replacement) {
        change.action = Action::Replace;
        let paths: Vec<&str> =
            change.attributes.iter().filter(|a| a.forces_replacement).map(|a| a.path.as_str()).collect();
        change.reason = Some(format!("{} cannot change in place", paths.join(", ")));
    } else if !change.attributes.is_empty() {
        change.action = Action::Update;
    }
    change
}

/// Attributes with every reference whose output `resolve` knows replaced by that output.
pub fn resolve_attributes(
    attrs: &BTreeMap<String, Value>,
    resolve: &dyn Fn(&str, &str) -> Option<Value>,
) -> BTreeMap<String, Value> {
    attrs.iter().map(|(k, v)| (k.clone(), resolved(v, resolve))).collect()
}

/// True when a value still holds a reference nobody could resolve.
pub fn has_reference(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().any(has_reference),
        Value::Object(m) => as_reference(v).is_some() || m.values().any(has_reference),
        _ => false,
    }
}

/// A reference replaced by the referenced output when it is known.
fn resolved(v: &Value, resolve: &dyn Fn(&str, &str) -> Option<Value>) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| resolved(i, resolve)).collect()),
        Value::Object(m) if as_reference(v).is_none() => {
            Value::Object(m.iter().map(|(k, i)| (k.clone(), resolved(i, resolve))).collect())
        }
        _ => match as_reference(v) {
            Some((address, attr)) => resolve(address, attr).unwrap_or_else(|| v.clone()),
            None => v.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Kind, ownership_tags, reference};
    use serde_json::json;

    fn resource(kind: Kind, attrs: Value) -> Resource {
        Resource {
            address: Address { capsule: "shop".into(), env: "production".into(), kind, name: "web".into() },
            aws_name: "shop-production-web".into(),
            region: "us-east-1".into(),
            attributes: attrs.as_object().unwrap().clone().into_iter().collect(),
            depends_on: vec![],
            tags: ownership_tags("shop", "production", "web"),
        }
    }

    fn observed(attrs: Value) -> Observed {
        Observed { attributes: attrs.as_object().unwrap().clone().into_iter().collect(), outputs: BTreeMap::new() }
    }

    #[test]
    fn absent_resource_is_created_with_every_set_attribute() {
        let r = resource(Kind::S3Bucket, json!({ "versioning": false, "encryption": "AES256", "unused": null }));
        let c = plan_offline(&r);
        assert_eq!(c.action, Action::Create);
        assert_eq!(c.attributes.iter().map(|a| a.path.as_str()).collect::<Vec<_>>(), ["encryption", "versioning"]);
        assert!(c.stateful);
    }

    #[test]
    fn equal_state_is_no_op() {
        let r = resource(Kind::LogGroup, json!({ "retention_days": 30 }));
        let c = plan_resource(&r, &r.attributes, Some(&observed(json!({ "retention_days": 30 }))), &Rules::default());
        assert_eq!(c.action, Action::NoOp);
        assert!(c.attributes.is_empty());
    }

    #[test]
    fn nested_difference_is_one_dotted_attribute() {
        let r = resource(Kind::EcsService, json!({ "circuit": { "enable": true, "rollback": true } }));
        let live = observed(json!({ "circuit": { "enable": true, "rollback": false } }));
        let c = plan_resource(&r, &r.attributes, Some(&live), &Rules::default());
        assert_eq!(c.action, Action::Update);
        let expected = AttributeChange {
            path: "circuit.rollback".into(),
            before: json!(false),
            after: json!(true),
            forces_replacement: false,
            impact: None,
        };
        assert_eq!(c.attributes, vec![expected]);
    }

    #[test]
    fn replacement_attribute_makes_replace_with_reason() {
        let r = resource(Kind::RdsInstance, json!({ "engine": "mysql", "instance_class": "db.t4g.small" }));
        let live = observed(json!({ "engine": "postgres", "instance_class": "db.t4g.micro" }));
        let c = plan_resource(
            &r,
            &r.attributes,
            Some(&live),
            &Rules { forces_replacement: &["engine"], ..Rules::default() },
        );
        assert_eq!(c.action, Action::Replace);
        assert_eq!(c.reason.as_deref(), Some("engine cannot change in place"));
        assert!(c.attributes.iter().any(|a| a.path == "instance_class" && !a.forces_replacement));
    }

    #[test]
    fn references_resolve_to_known_outputs_before_comparing() {
        let dep =
            Address { capsule: "shop".into(), env: "production".into(), kind: Kind::SecurityGroup, name: "alb".into() };
        let r = resource(Kind::Lb, json!({ "security_groups": [reference(&dep, "id")] }));
        let resolve =
            |a: &str, attr: &str| (a == "shop.production.security_group.alb" && attr == "id").then(|| json!("sg-123"));
        let attrs = resolve_attributes(&r.attributes, &resolve);
        let c = plan_resource(&r, &attrs, Some(&observed(json!({ "security_groups": ["sg-123"] }))), &Rules::default());
        assert_eq!(c.action, Action::NoOp);
        let c = plan_resource(&r, &attrs, Some(&observed(json!({ "security_groups": ["sg-999"] }))), &Rules::default());
        assert_eq!(c.attributes[0].after, json!(["sg-123"]));
        let unknown = resolve_attributes(&r.attributes, &|_, _| None);
        assert!(has_reference(&unknown["security_groups"]));
    }

    #[test]
    fn members_gone_from_an_exact_map_are_removed_and_other_maps_keep_theirs() {
        let exact = Rules { exact_maps: &["container.environment"], ..Rules::default() };
        let r = resource(
            Kind::EcsTaskDefinition,
            json!({ "container": { "environment": { "A": "1" }, "labels": { "x": "1" } } }),
        );
        let live = observed(
            json!({ "container": { "environment": { "A": "1", "OLD": "2" }, "labels": { "x": "1", "aws": "3" } } }),
        );
        let c = plan_resource(&r, &r.attributes, Some(&live), &exact);
        assert_eq!(c.action, Action::Update);
        let paths: Vec<(&str, &Value)> = c.attributes.iter().map(|a| (a.path.as_str(), &a.after)).collect();
        assert_eq!(paths, vec![("container.environment.OLD", &Value::Null)], "labels is not an exact map");
        assert_eq!(plan_resource(&r, &r.attributes, Some(&live), &Rules::default()).action, Action::NoOp);
        // Every variable taken out: one removal each, not a change of the whole map.
        let r = resource(Kind::EcsTaskDefinition, json!({ "container": { "environment": {} } }));
        let live = observed(json!({ "container": { "environment": { "A": "1" } } }));
        let c = plan_resource(&r, &r.attributes, Some(&live), &exact);
        assert_eq!(c.attributes.iter().map(|a| a.path.as_str()).collect::<Vec<_>>(), ["container.environment.A"]);
        let live = observed(json!({ "container": { "environment": {} } }));
        assert_eq!(plan_resource(&r, &r.attributes, Some(&live), &exact).action, Action::NoOp);
    }
}
