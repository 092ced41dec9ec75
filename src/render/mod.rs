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

/// A value for people: references to outputs not known yet read "(known after apply)".
pub(crate) fn show_value(v: &Value) -> String {
    const UNKNOWN: &str = "(known after apply)";
    fn mask(v: &Value) -> Value {
        match v {
            _ if as_reference(v).is_some() => Value::String(UNKNOWN.into()),
            Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
            Value::Object(m) => Value::Object(m.iter().map(|(k, i)| (k.clone(), mask(i))).collect()),
            other => other.clone(),
        }
    }
    if as_reference(v).is_some() { UNKNOWN.into() } else { mask(v).to_string() }
}
