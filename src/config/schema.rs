//! `capsule schema`: the JSON Schema (draft 2020-12) of `capsule.toml`, generated from the
//! same types the loader decodes into, so the two cannot drift.

use serde_json::Value;

use super::types::CapsuleFile;

/// The schema as written by `capsule schema`.
pub fn json_schema() -> Value {
    let schema =
        schemars::generate::SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<CapsuleFile>();
    let mut value = serde_json::to_value(schema).unwrap_or_default();
    strip_null(&mut value);
    value
}

/// TOML has no null: `Option` fields are simply optional keys, so `null` is removed from
/// every type list and `anyOf`.
fn strip_null(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(any)) = map.get_mut("anyOf") {
                any.retain(|s| s.get("type") != Some(&Value::String("null".into())));
                if any.len() == 1 {
                    let only = any.remove(0);
                    map.remove("anyOf");
                    if let Value::Object(inner) = only {
                        for (k, val) in inner {
                            map.entry(k).or_insert(val);
                        }
                    }
                }
            }
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            for (_, child) in map.iter_mut() {
                strip_null(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}
