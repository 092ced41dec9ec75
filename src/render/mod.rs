//! Renderers of a `Plan`: text for terminals, Markdown for pull requests, JSON for
//! machines. Pure functions of the plan data; none decides anything the plan does not say.

mod diff;
mod json;
mod markdown;
mod text;

pub use json::json;
pub use markdown::{OFFLINE_BANNER, markdown};
pub use text::text;

use serde_json::Value;

use crate::model::as_reference;

/// A value for people: references to outputs not known yet read "(known after apply)".
pub(crate) fn show_value(v: &Value) -> String {
    if as_reference(v).is_some() { UNKNOWN.into() } else { masked(v).to_string() }
}

/// `v` as people see it: every reference to an output not known yet (the whole value or
/// one inside it) replaced by the text "(known after apply)". Diffs are made of this too,
/// so a diff never shows what `show_value` hides.
pub(crate) fn masked(v: &Value) -> Value {
    match v {
        _ if as_reference(v).is_some() => Value::String(UNKNOWN.into()),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, i)| (k.clone(), masked(i))).collect()),
        other => other.clone(),
    }
}

const UNKNOWN: &str = "(known after apply)";

/// How an attribute change's impact reads in a plan.
pub(crate) fn impact_text(impact: &str) -> String {
    match impact {
        "in-place" => "applies in place".into(),
        "reboot" => "needs a reboot".into(),
        "downtime" => "brief downtime".into(),
        "replacement" => "forces replacement".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::{Action, AttributeChange, CapsulePlan, Change, Plan};
    use serde_json::json;

    #[test]
    fn attribute_impacts_show_in_text_markdown_and_json() {
        let change = Change {
            address: "shop.production.rds_instance.main".into(),
            kind: "rds_instance".into(),
            action: Action::Update,
            reason: None,
            attributes: vec![AttributeChange {
                path: "instance_class".into(),
                before: json!("db.t4g.micro"),
                after: json!("db.t4g.small"),
                forces_replacement: false,
                impact: Some("downtime".into()),
            }],
            stateful: true,
            outcome: None,
            error: None,
        };
        let plan = Plan::new(
            vec![CapsulePlan {
                capsule: "shop".into(),
                environment: "production".into(),
                region: "eu-west-1".into(),
                changes: vec![change],
                artifacts: vec![],
                errors: vec![],
                notes: vec![],
            }],
            false,
        );
        assert!(
            super::text(&plan, false).contains("instance_class: \"db.t4g.micro\" -> \"db.t4g.small\" # brief downtime")
        );
        assert!(super::markdown(&plan, None).contains("# brief downtime"));
        assert!(super::json(&plan).contains("\"impact\": \"downtime\""));
    }
}
