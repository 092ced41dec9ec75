//! Renderers of a `Plan`: text for terminals, Markdown for pull requests, JSON for
//! machines. Pure functions of the plan data; none decides anything the plan does not say.

mod json;
mod markdown;
mod text;

pub use json::json;
pub use markdown::markdown;
pub use text::text;

use serde_json::Value;

use crate::model::as_reference;

/// A value for people: unresolved references read "(known after apply)".
pub(crate) fn show_value(v: &Value) -> String {
    if as_reference(v).is_some() {
        return "(known after apply)".into();
    }
    match v {
        Value::Null => "null".into(),
        Value::Array(items) if items.iter().any(|i| as_reference(i).is_some()) => {
            format!(
                "[{}]",
                items.iter().map(show_value).collect::<Vec<_>>().join(", ")
            )
        }
        Value::Object(m)
            if m.values()
                .any(|i| as_reference(i).is_some() || i.is_object()) =>
        {
            format!(
                "{{ {} }}",
                m.iter()
                    .map(|(k, i)| format!("{k} = {}", show_value(i)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        other => other.to_string(),
    }
}
