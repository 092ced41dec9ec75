//! Loading: environments, deep-merge overrides, interpolation, discovery, duplicates.

use std::fs;
use std::path::Path;

use capsule::config::types::EnvValue;
use capsule::config::{discover, load_project, load_str};

const SRC: &str = r#"
[capsule]
name = "shop"

[environments.staging]
domain = "staging.example.com"
replicas = 1

[environments.production]
domain = "example.com"
[environments.production.services.api.autoscale]
min = 4
[environments.production.services.api.env]
EXTRA = "yes"

[dns]
zone = "example.com"

[services.api]
image = "nginx:1.27"
port = 8080
public = true
domain = "api.${env.domain}"
[services.api.autoscale]
min = 2
max = 10
[services.api.env]
MODE = "${env.name}-${env.replicas}"
"#;

#[test]
fn environments_keep_declaration_order_and_default_to_production() {
    let c = load_str(Path::new("capsule.toml"), SRC.replace("replicas = 1", "replicas = 1\n").as_str());
    let err = c.unwrap_err();
    // production does not define `replicas`: reported once, at the use.
    assert_eq!(
        err.0.iter().map(|d| d.headline()).collect::<Vec<_>>(),
        ["capsule.toml:29:21: unknown variable `${env.replicas}`"]
    );

    let c = load_str(
        Path::new("capsule.toml"),
        &SRC.replace("MODE = \"${env.name}-${env.replicas}\"", "MODE = \"${env.name}\""),
    )
    .unwrap();
    assert_eq!(c.environments.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["staging", "production"]);

    let c = load_str(Path::new("capsule.toml"), "[capsule]\nname = \"solo\"\n").unwrap();
    assert_eq!(c.environments.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["production"]);
}

#[test]
fn overrides_deep_merge_and_variables_interpolate_per_environment() {
    let c = load_str(
        Path::new("capsule.toml"),
        &SRC.replace("MODE = \"${env.name}-${env.replicas}\"", "MODE = \"${env.name}\""),
    )
    .unwrap();
    let staging = &c.environment("staging").unwrap().config.services["api"];
    let production = &c.environment("production").unwrap().config.services["api"];
    assert_eq!(staging.domain.as_deref(), Some("api.staging.example.com"));
    assert_eq!(production.domain.as_deref(), Some("api.example.com"));
    let (s, p) = (staging.autoscale.as_ref().unwrap(), production.autoscale.as_ref().unwrap());
    assert_eq!((s.min, s.max), (2, 10));
    assert_eq!((p.min, p.max), (4, 10), "min overridden, max kept from the base table");
    assert_eq!(staging.env.get("MODE"), Some(&EnvValue::Text("staging".into())));
    assert_eq!(production.env.get("MODE"), Some(&EnvValue::Text("production".into())));
    assert_eq!(production.env.get("EXTRA"), Some(&EnvValue::Text("yes".into())));
    assert_eq!(staging.env.get("EXTRA"), None);
}

#[test]
fn an_override_can_add_a_whole_table() {
    let src = "[capsule]\nname = \"x1\"\n[environments.production.caches.c]\nengine = \"redis\"\n";
    let c = load_str(Path::new("capsule.toml"), src).unwrap();
    assert_eq!(c.environments[0].config.caches["c"].engine, "redis");
}

#[test]
fn references_and_secrets_parse_into_env_values() {
    let src = "[capsule]\nname = \"x1\"\n[services.api]\nimage = \"i\"\n[services.api.env]\nDB = \"${databases.main.url}\"\nK = { secret = \"k\" }\nN = 3\n[databases.main]\nengine = \"postgres\"\n[secrets]\nk = {}\n";
    let c = load_str(Path::new("capsule.toml"), src).unwrap();
    let env = &c.environments[0].config.services["api"].env;
    assert_eq!(env["DB"], EnvValue::Text("${databases.main.url}".into()));
    assert_eq!(env["K"], EnvValue::Secret { secret: "k".into() });
    assert_eq!(env["N"], EnvValue::Text("3".into()));
}

#[test]
fn defaults_are_the_safe_ones() {
    let src = "[capsule]\nname = \"x1\"\n[databases.main]\nengine = \"postgres\"\n[caches.c]\nengine = \"valkey\"\n";
    let c = load_str(Path::new("capsule.toml"), src).unwrap();
    let db = &c.environments[0].config.databases["main"];
    assert!(db.deletion_protection && db.multi_az);
    assert_eq!((db.on_delete.as_str(), db.backup_days, db.storage_gb), ("snapshot", 7, 20));
    assert_eq!(c.environments[0].config.caches["c"].nodes, 2);
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

#[test]
fn discovery_honours_gitignore_and_skips_build_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a/capsule.toml", "[capsule]\nname = \"a1\"\n");
    write(root, "b/c/capsule.toml", "[capsule]\nname = \"c1\"\n");
    write(root, "ignored/capsule.toml", "[capsule]\nname = \"i1\"\n");
    write(root, "node_modules/x/capsule.toml", "[capsule]\nname = \"n1\"\n");
    write(root, "target/capsule.toml", "[capsule]\nname = \"t1\"\n");
    write(root, ".gitignore", "ignored/\n");
    let found: Vec<String> =
        discover(root).unwrap().iter().map(|p| p.strip_prefix(root).unwrap().display().to_string()).collect();
    assert_eq!(found, ["a/capsule.toml", "b/c/capsule.toml"]);
}

#[test]
fn duplicate_capsule_names_name_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "one/capsule.toml", "[capsule]\nname = \"same\"\n");
    write(root, "two/capsule.toml", "[capsule]\nname = \"same\"\n");
    let err = load_project(root).unwrap_err();
    assert_eq!(err.len(), 1);
    let d = &err.0[0];
    assert!(d.file.ends_with("two/capsule.toml"), "{d:?}");
    assert_eq!((d.line, d.column), (2, 8));
    assert!(
        d.message.starts_with("capsule `same` is already declared in ") && d.message.ends_with("one/capsule.toml"),
        "{}",
        d.message
    );
}

#[test]
fn paths_resolve_relative_to_their_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "apps/api/capsule.toml", "[capsule]\nname = \"api1\"\n[services.api]\nbuild = \"ctx\"\n");
    let err = load_project(root).unwrap_err();
    assert_eq!(err.0[0].message, "build context `ctx` does not exist");
    assert_eq!((err.0[0].line, err.0[0].column), (4, 9));
    write(root, "apps/api/ctx/Dockerfile", "FROM scratch\n");
    let project = load_project(root).unwrap();
    assert_eq!(project.capsules[0].dir, root.join("apps/api"));
}

#[test]
fn examples_validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let project = load_project(&root).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = project.capsules.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["hello", "demo", "shop"]);
}
