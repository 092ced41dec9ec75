//! Turning the text of one `capsule.toml` into typed capsules, one per environment:
//! parse with spans, split environments, deep-merge overrides, interpolate `${env.*}`,
//! decode every table, then validate. Pure: the caller does the file I/O.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostic, Diagnostics, did_you_mean};
use super::spans::{SpanIndex, join};
use super::types::*;
use super::validate;

/// The sections a capsule file may have, and that an environment may override.
pub const SECTIONS: &[&str] = &[
    "capsule",
    "environments",
    "dns",
    "services",
    "jobs",
    "databases",
    "caches",
    "sites",
    "secrets",
    "email",
    "network",
    "kubernetes",
];

/// A capsule file's text, kept for error rendering.
#[derive(Debug)]
pub struct Source {
    /// The path as shown to the user.
    pub path: PathBuf,
    pub text: String,
}

/// One capsule: a file and its environments, each fully resolved.
#[derive(Debug, Clone)]
pub struct Capsule {
    pub name: String,
    pub source: Arc<Source>,
    /// The directory of the file; paths in the file are relative to it.
    pub dir: PathBuf,
    pub environments: Vec<Environment>,
}

/// A capsule as it is in one environment.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    /// `${env.*}` variables (including the built-in `name`).
    pub vars: IndexMap<String, String>,
    pub config: CapsuleFile,
    pub spans: SpanIndex,
    /// A preview template's settings (`preview = true`), also kept on its instances.
    pub preview: Option<super::preview::Preview>,
}

impl Capsule {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// A diagnostic at the value of `path` in the given environment's merged document.
    pub fn diag_at(&self, env: &Environment, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.source.path, &self.source.text, env.spans.value(path), message)
    }
}

/// The JSON Schema, generated once; used to list the keys a table accepts.
static SCHEMA: LazyLock<serde_json::Value> = LazyLock::new(super::schema::json_schema);

/// Collects diagnostics for one source file.
pub(crate) struct Reporter<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub diags: Diagnostics,
}

impl Reporter<'_> {
    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::at(self.path, self.text, span, message);
        d.hint = hint;
        self.diags.push(d);
    }
}

/// Loads one capsule file from its text. `path` is only used in messages and to resolve
/// relative paths.
pub fn load_str(path: &Path, text: &str) -> Result<Capsule, Diagnostics> {
    load_impl(path, text, None)
}

/// Loads one capsule file with its preview `template` resolved as the environment `name`
/// (`pr-7`) in its place.
pub(crate) fn load_instance(path: &Path, text: &str, template: &str, name: &str) -> Result<Capsule, Diagnostics> {
    load_impl(path, text, Some((template, name)))
}

fn load_impl(path: &Path, text: &str, instance: Option<(&str, &str)>) -> Result<Capsule, Diagnostics> {
    let mut r = Reporter { path, text, diags: Diagnostics::default() };
    let (doc, parse_errors) = DeTable::parse_recoverable(text);
    for e in &parse_errors {
        let message = first_line(e.message());
        r.error(e.span().unwrap_or(0..0), format!("invalid TOML: {message}"), None);
    }
    if !r.diags.is_empty() {
        return Err(r.diags);
    }
    let mut root = doc.into_inner();

    for (key, _) in root.iter() {
        if !SECTIONS.contains(&key.get_ref().as_ref()) {
            r.error(
                key.span(),
                format!("unknown table `{}`", key.get_ref()),
                suggest(key.get_ref(), SECTIONS.iter().copied()),
            );
        }
    }
    let unknown: Vec<String> =
        root.iter().map(|(k, _)| k.get_ref().to_string()).filter(|k| !SECTIONS.contains(&k.as_str())).collect();
    for key in unknown {
        root.remove(key.as_str());
    }

    let envs_value = root.remove("environments");
    let environments = split_environments(&mut r, envs_value);

    let mut resolved = Vec::new();
    let mut templates = Vec::new();
    for (mut env_name, env_table) in environments {
        let table = match env_table.as_ref().map(Spanned::get_ref) {
            Some(DeValue::Table(t)) => Some(t),
            _ => None,
        };
        let preview = table.and_then(|t| super::preview::settings(&mut r, &env_name, t));
        if let Some(t) = table.filter(|_| preview.is_some()) {
            let span = |key: &str| t.iter().find(|(k, _)| k.get_ref() == key).map(|(k, v)| (k.span(), v.span()));
            let from = span("secrets_from").map(|(_, v)| v).unwrap_or(0..0);
            templates.push((env_name.clone(), from, span("preview").map(|(k, _)| k).unwrap_or(0..0)));
        }
        if let Some((template, name)) = instance
            && template == env_name
        {
            env_name = name.to_string();
        } else if super::preview::number_of(&env_name).is_some() {
            let span = env_table.as_ref().map(|v| v.span()).unwrap_or(0..0);
            r.error(
                span,
                format!("environment name `{env_name}` is reserved for previews"),
                Some("pr-<N> is the preview of pull request N: choose another name".into()),
            );
        }
        let mut merged = root.clone();
        let vars = apply_environment(&mut r, &env_name, &mut merged, env_table.as_ref());
        let before = r.diags.len();
        interpolate_table(&mut r, &mut merged, &vars);
        let interpolated = r.diags.len() == before;
        let spans = SpanIndex::build(&merged);
        let config = decode_file(&mut r, &merged);
        if let Some(config) = config {
            // A value that failed to interpolate would only produce follow-up noise.
            if interpolated {
                validate::check(&mut r, &config, &spans, &env_name);
            }
            resolved.push(Environment { name: env_name, vars, config, spans, preview });
        }
    }
    if let Some((second, _, span)) = templates.get(1) {
        r.error(
            span.clone(),
            format!("`{second}` is a second preview template"),
            Some("a capsule has one preview template at most: remove `preview = true` from one".into()),
        );
    }
    let sources: Vec<(String, Range<usize>)> = templates.into_iter().map(|(n, from, _)| (n, from)).collect();
    super::preview::check_sources(&mut r, &resolved, &sources);

    if !r.diags.is_empty() {
        r.diags.sort();
        return Err(r.diags);
    }
    let name = resolved.first().map(|e| e.config.capsule.name.clone()).unwrap_or_default();
    Ok(Capsule {
        name,
        source: Arc::new(Source { path: path.to_path_buf(), text: text.to_string() }),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        environments: resolved,
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

type EnvEntry<'i> = (String, Option<Spanned<DeValue<'i>>>);

/// The environments in declaration order; one `production` when none is declared.
fn split_environments<'i>(r: &mut Reporter<'_>, value: Option<Spanned<DeValue<'i>>>) -> Vec<EnvEntry<'i>> {
    let Some(value) = value else {
        return vec![("production".to_string(), None)];
    };
    let span = value.span();
    let DeValue::Table(table) = value.into_inner() else {
        r.error(
            span,
            "`environments` must be a table of environments",
            Some("write `[environments.production]`".into()),
        );
        return vec![];
    };
    if table.is_empty() {
        return vec![("production".to_string(), None)];
    }
    let mut out = Vec::new();
    for (key, value) in table {
        let name = key.get_ref().to_string();
        if !validate::is_entry_name(&name) {
            r.error(
                key.span(),
                format!("invalid environment name `{name}`"),
                Some("use lowercase letters, digits and single dashes, starting with a letter and not ending with a dash (at most 20 characters)".into()),
            );
            continue;
        }
        if !matches!(value.get_ref(), DeValue::Table(_)) {
            r.error(
                value.span(),
                format!("environment `{name}` must be a table"),
                Some(format!("write `[environments.{name}]` followed by its keys")),
            );
            continue;
        }
        out.push((name, Some(value)));
    }
    out
}

/// Merges an environment's override tables into `merged` and returns its variables.
fn apply_environment<'i>(
    r: &mut Reporter<'_>,
    env_name: &str,
    merged: &mut DeTable<'i>,
    env: Option<&Spanned<DeValue<'i>>>,
) -> IndexMap<String, String> {
    let mut vars = IndexMap::new();
    vars.insert("name".to_string(), env_name.to_string());
    let Some(DeValue::Table(env)) = env.map(Spanned::get_ref) else {
        return vars;
    };
    for (key, value) in env.iter() {
        let k = key.get_ref().as_ref();
        if super::preview::KEYS.contains(&k) {
            continue;
        }
        match value.get_ref() {
            DeValue::Table(over) if SECTIONS.contains(&k) && k != "environments" => {
                if k == "capsule" && over.get("name").is_some() {
                    let span = over.iter().find(|(k, _)| k.get_ref() == "name").map(|(k, _)| k.span());
                    r.error(
                        span.unwrap_or(key.span()),
                        "the capsule name cannot change per environment",
                        Some("every environment of a capsule shares its name; remove this key".into()),
                    );
                    continue;
                }
                match merged.iter_mut().find(|(mk, _)| mk.get_ref() == k) {
                    Some((_, base)) => merge_value(base, value),
                    None => {
                        merged.insert(key.clone(), value.clone());
                    }
                }
            }
            DeValue::Table(_) => r.error(
                key.span(),
                format!("unknown table `{k}` in environment `{env_name}`"),
                Some(
                    suggest(k, SECTIONS.iter().copied().filter(|s| *s != "environments"))
                        .unwrap_or_else(|| "an environment may override: capsule, dns, services, jobs, databases, caches, sites, secrets, email, network, kubernetes".into()),
                ),
            ),
            DeValue::String(s) => {
                if k == "name" {
                    r.error(key.span(), "`name` is built in: `${env.name}` is the environment's name", Some("choose another variable name".into()));
                } else {
                    vars.insert(k.to_string(), s.to_string());
                }
            }
            DeValue::Integer(i) => {
                vars.insert(k.to_string(), i.as_str().replace('_', ""));
            }
            DeValue::Boolean(b) => {
                vars.insert(k.to_string(), b.to_string());
            }
            other => r.error(
                value.span(),
                format!("environment variable `{k}` must be a string, integer or boolean, not {}", other.type_str()),
                None,
            ),
        }
    }
    // A variable may use the environment's name (`domain = "${env.name}.example.com"`,
    // which a preview template needs); other variables are not expanded inside variables.
    for (k, v) in vars.iter_mut() {
        if k != "name" {
            *v = v.replace("${env.name}", env_name);
        }
    }
    vars
}

/// Deep merge: tables merge key by key; anything else (arrays included) is replaced.
fn merge_value<'i>(base: &mut Spanned<DeValue<'i>>, over: &Spanned<DeValue<'i>>) {
    match (base.get_mut(), over.get_ref()) {
        (DeValue::Table(b), DeValue::Table(o)) => {
            for (k, v) in o.iter() {
                match b.iter_mut().find(|(bk, _)| bk.get_ref() == k.get_ref()) {
                    Some((_, bv)) => merge_value(bv, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *base = over.clone(),
    }
}

static REFERENCE: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"\$\{([^}]*)\}").unwrap_or_else(|_| unreachable!()));

/// Replaces `${env.KEY}` in every string; leaves `${databases.*}` / `${caches.*}` for
/// the checks of service env values, and reports anything else.
fn interpolate_table(r: &mut Reporter<'_>, table: &mut DeTable<'_>, vars: &IndexMap<String, String>) {
    for (_, value) in table.iter_mut() {
        interpolate_value(r, value, vars);
    }
}

fn interpolate_value(r: &mut Reporter<'_>, value: &mut Spanned<DeValue<'_>>, vars: &IndexMap<String, String>) {
    let span = value.span();
    match value.get_mut() {
        DeValue::Table(t) => interpolate_table(r, t, vars),
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                interpolate_value(r, item, vars);
            }
        }
        DeValue::String(s) if s.contains("${") => {
            let raw = &r.text[span.clone()];
            let mut out = String::new();
            let mut last = 0;
            for cap in REFERENCE.captures_iter(s) {
                let (Some(whole), Some(inner)) = (cap.get(0), cap.get(1)) else {
                    continue;
                };
                out.push_str(&s[last..whole.start()]);
                last = whole.end();
                let reference = inner.as_str().trim();
                // Point at the reference inside the quoted string when we can find it.
                let at =
                    raw.find(whole.as_str()).map_or(span.clone(), |i| span.start + i..span.start + i + whole.len());
                if let Some(var) = reference.strip_prefix("env.") {
                    match vars.get(var) {
                        Some(v) => out.push_str(v),
                        None => {
                            r.error(
                                at,
                                format!("unknown variable `${{env.{var}}}`"),
                                Some(match did_you_mean(var, vars.keys().map(String::as_str)) {
                                    Some(c) => format!("did you mean `${{env.{c}}}`?"),
                                    None => format!(
                                        "define `{var}` in every [environments.*] table (known: {})",
                                        vars.keys().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                                    ),
                                }),
                            );
                            out.push_str(whole.as_str());
                        }
                    }
                } else if reference.starts_with("databases.") || reference.starts_with("caches.") {
                    out.push_str(whole.as_str());
                } else {
                    r.error(
                        at,
                        format!("unknown reference `{}`", whole.as_str()),
                        Some("references are `${env.KEY}`, `${databases.NAME.url}` and `${caches.NAME.url}`".into()),
                    );
                    out.push_str(whole.as_str());
                }
            }
            out.push_str(&s[last..]);
            *s = out.into();
        }
        _ => {}
    }
}

/// Decodes the merged document into typed values, reporting every problem it can find.
fn decode_file(r: &mut Reporter<'_>, doc: &DeTable<'_>) -> Option<CapsuleFile> {
    let before = r.diags.len();
    let get = |name: &str| doc.iter().find(|(k, _)| k.get_ref() == name).map(|(_, v)| v);

    let capsule = match get("capsule") {
        Some(v) => decode::<CapsuleSection>(r, v, "capsule"),
        None => {
            r.error(
                0..0,
                "missing `[capsule]` table",
                Some("start the file with `[capsule]` and `name = \"...\"`".into()),
            );
            None
        }
    };
    let dns = get("dns").and_then(|v| decode::<Dns>(r, v, "dns"));
    let email = get("email").and_then(|v| decode::<Email>(r, v, "email"));
    let network = get("network").and_then(|v| decode::<Network>(r, v, "network"));
    let kubernetes = get("kubernetes").and_then(|v| decode::<Kubernetes>(r, v, "kubernetes"));
    let services = decode_map::<Service>(r, get("services"), "services");
    let jobs = decode_map::<Job>(r, get("jobs"), "jobs");
    let databases = decode_map::<Database>(r, get("databases"), "databases");
    let caches = decode_map::<Cache>(r, get("caches"), "caches");
    let sites = decode_map::<Site>(r, get("sites"), "sites");
    let secrets = decode_secrets(r, get("secrets"));

    if r.diags.len() != before {
        return None;
    }
    Some(CapsuleFile {
        capsule: capsule?,
        environments: IndexMap::new(),
        dns,
        services,
        jobs,
        databases,
        caches,
        sites,
        secrets,
        email,
        network,
        kubernetes,
    })
}

fn decode_map<T: DeserializeOwned>(
    r: &mut Reporter<'_>,
    value: Option<&Spanned<DeValue<'_>>>,
    section: &str,
) -> IndexMap<String, T> {
    let mut out = IndexMap::new();
    let Some(value) = value else { return out };
    let DeValue::Table(table) = value.get_ref() else {
        r.error(
            value.span(),
            format!("`{section}` must be a table of named entries"),
            Some(format!("write `[{section}.NAME]` followed by its keys")),
        );
        return out;
    };
    for (key, entry) in table.iter() {
        let name = key.get_ref().to_string();
        if !validate::is_entry_name(&name) {
            r.error(
                key.span(),
                format!("invalid name `{name}` in [{section}]"),
                Some("use lowercase letters, digits and single dashes, starting with a letter and not ending with a dash (at most 20 characters)".into()),
            );
            continue;
        }
        if let Some(v) = decode::<T>(r, entry, &join(section, &name)) {
            out.insert(name, v);
        }
    }
    out
}

/// `[secrets]` entries are declarations; a value written here is a secret leaked to git.
fn decode_secrets(r: &mut Reporter<'_>, value: Option<&Spanned<DeValue<'_>>>) -> IndexMap<String, SecretDecl> {
    let mut out = IndexMap::new();
    let Some(value) = value else { return out };
    let DeValue::Table(table) = value.get_ref() else {
        r.error(
            value.span(),
            "`secrets` must be a table",
            Some("write `[secrets]` and one `NAME = { description = \"...\" }` per secret".into()),
        );
        return out;
    };
    for (key, entry) in table.iter() {
        let name = key.get_ref().to_string();
        let leaked = match entry.get_ref() {
            DeValue::Table(t) => t.iter().find(|(k, _)| k.get_ref() == "value").map(|(_, v)| v.span()),
            DeValue::String(_) | DeValue::Integer(_) => Some(entry.span()),
            _ => None,
        };
        if let Some(span) = leaked {
            r.error(
                span,
                format!("secret `{name}` has a value in git"),
                Some(format!(
                    "remove the value (and rotate it: it is in the history now); declare `{name} = {{ description = \"...\" }}` and store the value with `capsule secrets set CAPSULE ENV {name}`"
                )),
            );
            continue;
        }
        if !validate::is_entry_name(&name) {
            r.error(
                key.span(),
                format!("invalid secret name `{name}`"),
                Some("use lowercase letters, digits and single dashes, starting with a letter and not ending with a dash".into()),
            );
            continue;
        }
        if let Some(v) = decode::<SecretDecl>(r, entry, &join("secrets", &name)) {
            out.insert(name, v);
        }
    }
    out
}

/// Decodes one table; every unknown key is reported (with the closest known one), and
/// the first shape error of the table.
fn decode<T: DeserializeOwned>(r: &mut Reporter<'_>, value: &Spanned<DeValue<'_>>, path: &str) -> Option<T> {
    let before = r.diags.len();
    let de = toml::de::ValueDeserializer::from(value.clone());
    let mut unknown: Vec<Vec<String>> = Vec::new();
    let result: Result<T, _> = serde_ignored::deserialize(de, |p| unknown.push(segments(&p)));
    let spans = SpanIndex::build_value(value, path);
    for rel in unknown {
        let Some((key, parent)) = rel.split_last() else {
            continue;
        };
        let parent_path = parent.iter().fold(path.to_string(), |acc, s| join(&acc, s));
        let full = join(&parent_path, key);
        let known = known_keys(&parent_path);
        let hint = suggest(key, known.iter().map(String::as_str))
            .or_else(|| (!known.is_empty()).then(|| format!("known keys: {}", known.join(", "))));
        r.error(spans.key(&full), format!("unknown key `{key}` in [{parent_path}]"), hint);
    }
    match result {
        Ok(v) if r.diags.len() == before => Some(v),
        Ok(_) => None,
        Err(e) => {
            let span = e.span().unwrap_or_else(|| value.span());
            r.error(span, format!("{}{}", humanize(e.message()), in_table(path)), None);
            None
        }
    }
}

fn in_table(path: &str) -> String {
    format!(" in [{path}]")
}

/// serde's wording, in the words of a TOML file.
fn humanize(message: &str) -> String {
    let m = first_line(message);
    m.replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array")
        .replace("expected a boolean", "expected `true` or `false`")
        .replace("invalid type: map", "invalid type: table")
        .replace("invalid type: sequence", "invalid type: array")
}

fn segments(p: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path;
    match p {
        Path::Root => vec![],
        Path::Seq { parent, index } => {
            let mut v = segments(parent);
            v.push(index.to_string());
            v
        }
        Path::Map { parent, key } => {
            let mut v = segments(parent);
            v.push(key.clone());
            v
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => segments(parent),
    }
}

/// The keys the JSON Schema allows in the table at `path` (map and array levels skipped).
pub fn known_keys(path: &str) -> Vec<String> {
    let root = &*SCHEMA;
    let mut node = root;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        node = resolve(root, node);
        let next = node
            .get("properties")
            .and_then(|p| p.get(seg))
            .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))
            .or_else(|| node.get("items"));
        match next {
            Some(n) => node = n,
            None => return vec![],
        }
    }
    let node = resolve(root, node);
    node.get("properties").and_then(|p| p.as_object()).map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

fn resolve<'a>(root: &'a serde_json::Value, mut node: &'a serde_json::Value) -> &'a serde_json::Value {
    for _ in 0..8 {
        if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
            let name = r.rsplit('/').next().unwrap_or_default();
            match root.get("$defs").and_then(|d| d.get(name)) {
                Some(n) => node = n,
                None => return node,
            }
        } else if let Some(first) = node
            .get("anyOf")
            .or_else(|| node.get("allOf"))
            .and_then(|a| a.as_array())
            .and_then(|a| a.iter().find(|s| s.get("$ref").is_some() || s.get("properties").is_some()))
        {
            node = first;
        } else {
            return node;
        }
    }
    node
}
