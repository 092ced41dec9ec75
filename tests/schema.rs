//! The JSON Schema from `capsule schema` accepts the examples and rejects invalid files.

use std::path::Path;

use serde_json::Value;

fn schema() -> Value {
    capsule::config::schema::json_schema()
}

fn toml_to_json(src: &str) -> Value {
    let v: toml::Value = toml::from_str(src).unwrap();
    serde_json::to_value(v).unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema()).expect("the schema itself is valid draft 2020-12")
}

#[test]
fn schema_is_draft_2020_12_with_descriptions() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["title"], "capsule.toml");
    let port = &s["$defs"]["Service"]["properties"]["port"];
    assert!(port["description"].as_str().unwrap().contains("worker"), "{port}");
    assert_eq!(s["$defs"]["Service"]["additionalProperties"], false);
}

#[test]
fn schema_accepts_every_example() {
    let v = validator();
    for example in ["hello", "k8s", "shop"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(example).join("capsule.toml");
        let doc = toml_to_json(&std::fs::read_to_string(path).unwrap());
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{example}: {errors:?}");
    }
}

#[test]
fn schema_rejects_invalid_files() {
    let v = validator();
    let cases = [
        ("unknown key", "[capsule]\nname = \"shop\"\n[services.api]\nimage = \"x\"\nprot = 1\n"),
        ("wrong type", "[capsule]\nname = \"shop\"\n[services.api]\nimage = \"x\"\nport = \"80\"\n"),
        ("port range", "[capsule]\nname = \"shop\"\n[services.api]\nimage = \"x\"\nport = 0\n"),
        ("missing capsule", "[services.api]\nimage = \"x\"\n"),
        ("bad name", "[capsule]\nname = \"Shop\"\n"),
        ("unknown table", "[capsule]\nname = \"shop\"\n[servics]\n"),
        ("missing engine", "[capsule]\nname = \"shop\"\n[databases.main]\nversion = \"16\"\n"),
        (
            "env value shape",
            "[capsule]\nname = \"shop\"\n[services.api]\nimage = \"x\"\nenv = { K = { secrett = \"s\" } }\n",
        ),
    ];
    for (why, src) in cases {
        assert!(!v.is_valid(&toml_to_json(src)), "{why} should be rejected");
    }
}

#[test]
fn loader_and_schema_agree_on_keys() {
    // The loader's "did you mean" list comes from the schema: every key it knows for a
    // service is a property of the schema's Service.
    let keys = capsule::config::load::known_keys("services.api");
    let props: Vec<String> = schema()["$defs"]["Service"]["properties"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, props);
    assert!(keys.contains(&"autoscale".to_string()));
}
