//! Preview templates (DESIGN section 2): `[environments.NAME] preview = true` with its
//! `ttl`, `max_previews` and `secrets_from`, read from the environment's table; and the
//! instances `pr-<N>` a template becomes, loaded from the same file with `${env.name}` set
//! to the instance's name. Never planned or applied as itself.

use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::load::{Capsule, Environment, Reporter};

/// The keys of an environment table that configure a preview instead of being variables.
pub const KEYS: [&str; 4] = ["preview", "ttl", "max_previews", "secrets_from"];

/// How many previews of one capsule may exist at once unless `max_previews` says otherwise.
pub const DEFAULT_MAX: u32 = 10;
/// How long a preview lives unless `ttl` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A preview template's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// `capsule preview sweep` deletes previews older than this.
    pub ttl: Duration,
    /// More previews of the capsule than this are refused, never made room for.
    pub max_previews: u32,
    /// The environment whose secret values a preview reads; `None`: its secrets start empty.
    pub secrets_from: Option<String>,
    /// On an instance (`pr-7`): the template it was made from.
    pub template: Option<String>,
}

/// The preview settings in an environment's table, or `None` for an ordinary environment.
/// Errors (a setting without `preview = true`, a bad duration) go to `r`.
pub(crate) fn settings(r: &mut Reporter<'_>, env_name: &str, env: &DeTable<'_>) -> Option<Preview> {
    let get = |k: &str| env.iter().find(|(key, _)| key.get_ref() == k);
    let is_preview = match get("preview").map(|(k, v)| (k, v.get_ref())) {
        None | Some((_, DeValue::Boolean(false))) => false,
        Some((_, DeValue::Boolean(true))) => true,
        Some((k, _)) => {
            r.error(k.span(), "`preview` must be `true` or `false`", Some("write `preview = true`".into()));
            false
        }
    };
    if !is_preview {
        for key in &KEYS[1..] {
            if let Some((k, _)) = get(key) {
                r.error(
                    k.span(),
                    format!("`{key}` applies to preview templates only, and `{env_name}` is not one"),
                    Some(format!("add `preview = true` to [environments.{env_name}], or remove `{key}`")),
                );
            }
        }
        return None;
    }
    let mut preview = Preview { ttl: DEFAULT_TTL, max_previews: DEFAULT_MAX, secrets_from: None, template: None };
    if let Some((k, v)) = get("ttl") {
        match v.get_ref() {
            DeValue::String(s) => match humantime::parse_duration(s) {
                Ok(d) if d >= Duration::from_secs(3600) => preview.ttl = d,
                Ok(_) => r.error(
                    v.span(),
                    format!("ttl `{s}` is shorter than an hour"),
                    Some("previews live at least `1h`; e.g. `ttl = \"7d\"`".into()),
                ),
                Err(e) => r.error(
                    v.span(),
                    format!("ttl `{s}` is not a duration: {e}"),
                    Some("e.g. `ttl = \"7d\"` or `\"36h\"`".into()),
                ),
            },
            _ => r.error(k.span(), "`ttl` must be a duration string", Some("e.g. `ttl = \"7d\"`".into())),
        }
    }
    if let Some((k, v)) = get("max_previews") {
        match v.get_ref() {
            DeValue::Integer(i) => match i.as_str().replace('_', "").parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => preview.max_previews = n,
                _ => r.error(v.span(), "`max_previews` must be between 1 and 100", None),
            },
            _ => r.error(k.span(), "`max_previews` must be an integer", Some("e.g. `max_previews = 5`".into())),
        }
    }
    if let Some((k, v)) = get("secrets_from") {
        match v.get_ref() {
            DeValue::String(s) => preview.secrets_from = Some(s.to_string()),
            _ => r.error(
                k.span(),
                "`secrets_from` must name an environment",
                Some("e.g. `secrets_from = \"staging\"`".into()),
            ),
        }
    }
    Some(preview)
}

/// Checks what needs every environment: `secrets_from` names an ordinary environment of the
/// same capsule. `spans` gives the key's place for each template.
pub(crate) fn check_sources(r: &mut Reporter<'_>, envs: &[Environment], spans: &[(String, std::ops::Range<usize>)]) {
    for e in envs {
        let Some(from) = e.preview.as_ref().and_then(|p| p.secrets_from.as_deref()) else { continue };
        let ok = envs.iter().any(|o| o.name == from && o.preview.is_none());
        if !ok {
            let span = spans.iter().find(|(n, _)| *n == e.name).map(|(_, s)| s.clone()).unwrap_or(0..0);
            let known: Vec<&str> = envs.iter().filter(|o| o.preview.is_none()).map(|o| o.name.as_str()).collect();
            r.error(
                span,
                format!(
                    "secrets_from `{from}` is not an environment of this capsule (preview templates cannot be one)"
                ),
                Some(format!("name one of: {}", known.join(", "))),
            );
        }
    }
}

/// The name of the preview of pull request `number`.
pub fn instance_name(number: u64) -> String {
    format!("pr-{number}")
}

/// The pull request number of a preview environment's name (`pr-7` → 7).
pub fn number_of(env: &str) -> Option<u64> {
    env.strip_prefix("pr-").and_then(|n| n.parse().ok()).filter(|n| *n > 0)
}

impl Environment {
    /// A preview template: never planned or applied as itself.
    pub fn is_template(&self) -> bool {
        self.preview.as_ref().is_some_and(|p| p.template.is_none())
    }
}

impl Capsule {
    /// The capsule's preview template, if it has one (at most one is allowed).
    pub fn preview_template(&self) -> Option<&Environment> {
        self.environments.iter().find(|e| e.is_template())
    }

    /// The capsule with its preview `name` (`pr-7`) added as an environment: the template
    /// loaded again from the file with `${env.name}` = `name`. `Err` when there is no template.
    pub fn with_preview(&self, name: &str) -> Result<Capsule, String> {
        let template = self
            .preview_template()
            .ok_or_else(|| format!("capsule `{}` has no preview template (`preview = true`)", self.name))?;
        if self.environment(name).is_some() {
            return Ok(self.clone());
        }
        let loaded = super::load::load_instance(&self.source.path, &self.source.text, &template.name, name)
            .map_err(|d| d.to_string())?;
        let mut instance =
            loaded.environments.into_iter().find(|e| e.name == name).ok_or("the preview did not load")?;
        if let Some(p) = instance.preview.as_mut() {
            p.template = Some(template.name.clone());
        }
        disposable(&mut instance);
        let mut out = self.clone();
        out.environments.push(instance);
        Ok(out)
    }
}

impl super::Project {
    /// The project with preview `env` (`pr-7`) added to every capsule that has a template
    /// and no such environment, so that `plan`, `apply` and `destroy --env pr-7` reach it.
    /// Any other `env` leaves the project as it is.
    pub fn with_previews(mut self, env: Option<&str>) -> Result<super::Project, String> {
        let Some(env) = env.filter(|e| number_of(e).is_some()) else { return Ok(self) };
        for c in &mut self.capsules {
            if c.preview_template().is_some() {
                *c = c.with_preview(env)?;
            }
        }
        Ok(self)
    }
}

/// A preview's data is disposable: its databases have no deletion protection, leave no
/// final snapshot and apply changes at once, whatever the template says, so that closing the
/// pull request deletes them without `--allow-destroy`.
fn disposable(instance: &mut Environment) {
    for d in instance.config.databases.values_mut() {
        d.deletion_protection = false;
        d.on_delete = "delete".into();
        d.apply_changes = "immediately".into();
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::load::load_str;

    const FILE: &str = "[capsule]\nname = \"shop\"\n[environments.staging]\n[environments.preview]\npreview = true\nttl = \"2d\"\nmax_previews = 3\nsecrets_from = \"staging\"\nhost = \"${env.name}.preview.example.com\"\n[environments.preview.secrets.stripe]\ndescription = \"in ${env.name} at ${env.host}\"\n[secrets.stripe]\ndescription = \"key\"\n[databases.main]\nengine = \"postgres\"\n";

    #[test]
    fn a_template_is_read_and_its_instances_get_their_own_name() {
        let c = load_str(Path::new("capsule.toml"), FILE).unwrap();
        let t = c.preview_template().expect("the template");
        assert_eq!(t.name, "preview");
        let p = t.preview.as_ref().unwrap();
        assert_eq!((p.ttl.as_secs(), p.max_previews, p.secrets_from.as_deref()), (2 * 86400, 3, Some("staging")));
        assert!(!t.vars.contains_key("preview") && !t.vars.contains_key("ttl"), "settings are not variables");
        assert!(c.environment("staging").unwrap().preview.is_none());

        let with = c.with_preview("pr-7").unwrap();
        let pr = with.environment("pr-7").unwrap();
        assert!(!pr.is_template());
        assert_eq!(pr.preview.as_ref().unwrap().template.as_deref(), Some("preview"));
        assert_eq!(pr.config.secrets["stripe"].description.as_deref(), Some("in pr-7 at pr-7.preview.example.com"));
        assert_eq!(super::number_of("pr-7"), Some(7));
        let db = &pr.config.databases["main"];
        assert_eq!(
            (db.deletion_protection, db.on_delete.as_str()),
            (false, "delete"),
            "a preview's data is disposable"
        );
        let template_db = &with.environment("preview").unwrap().config.databases["main"];
        assert!(template_db.deletion_protection, "the template itself keeps the default");
        assert_eq!(super::number_of("production"), None);
    }

    #[test]
    fn preview_settings_are_checked_where_they_are_written() {
        let err = |text: &str| load_str(Path::new("capsule.toml"), text).unwrap_err().to_string();
        let e = err("[capsule]\nname = \"shop\"\n[environments.staging]\nttl = \"2d\"\n");
        assert!(e.contains("capsule.toml:4:1") && e.contains("add `preview = true`"), "{e}");
        let e = err("[capsule]\nname = \"shop\"\n[environments.p]\npreview = true\nttl = \"soon\"\n");
        assert!(e.contains("capsule.toml:5:7") && e.contains("not a duration"), "{e}");
        let e = err(
            "[capsule]\nname = \"shop\"\n[environments.p]\npreview = true\nsecrets_from = \"prod\"\n[environments.production]\n",
        );
        assert!(e.contains("secrets_from `prod`") && e.contains("production"), "{e}");
        let e = err("[capsule]\nname = \"shop\"\n[environments.a]\npreview = true\n[environments.b]\npreview = true\n");
        assert!(e.contains("one preview template at most") && e.contains("capsule.toml:6:1"), "{e}");
        let e = err("[capsule]\nname = \"shop\"\n[environments.pr-3]\n");
        assert!(e.contains("`pr-3`") && e.contains("reserved"), "{e}");
    }
}
