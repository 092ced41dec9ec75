//! The plan as plain data (DESIGN section 4) and the pure planner that computes it from
//! the desired model and observed live state. Renderers and the JSON document are both
//! made from these types; nothing here talks to AWS.

mod diff;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use diff::{Observed, Rules, flatten, has_reference, plan_offline, plan_resource, resolve_attributes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }
    pub fn is_destructive(self) -> bool {
        matches!(self, Action::Replace | Action::Delete)
    }
}

/// One attribute's change. Secret values never appear: such attributes hold
/// `"(sensitive)"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub path: String,
    pub before: Value,
    pub after: Value,
    pub forces_replacement: bool,
    /// What applying this attribute change does to the running resource, where its adapter
    /// knows (databases): `in-place`, `reboot`, `downtime` or `replacement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub action: Action,
    pub reason: Option<String>,
    pub attributes: Vec<AttributeChange>,
    /// Holds data (database, cache, bucket, secret): destructive actions need
    /// `--allow-destroy`.
    #[serde(default)]
    pub stateful: bool,
    /// After apply: `applied`, `failed` or `skipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// After apply: why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Applied,
    Failed,
    Skipped,
}

impl Change {
    pub fn is_destructive(&self) -> bool {
        self.action.is_destructive()
    }
}

/// What will be built or shipped besides resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArtifactPlan {
    Image {
        name: String,
        /// `build`, `up-to-date` or `prebuilt`.
        action: String,
        tag: Option<String>,
        reason: Option<String>,
        /// After apply: whether this run pushed the image, and the digest task definitions pin.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pushed: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<String>,
    },
    Site {
        name: String,
        upload: Option<u64>,
        delete: Option<u64>,
        unchanged: Option<u64>,
        invalidate: Vec<String>,
        /// The first paths to upload, for review.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        upload_paths: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// After apply: what the sync did.
        #[serde(default, skip_serializing_if = "Option::is_none", flatten)]
        result: Option<SiteResult>,
    },
}

/// What a site sync did (apply documents only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteResult {
    pub uploaded: u64,
    pub deleted: u64,
    pub bytes_uploaded: u64,
    pub invalidation_id: Option<String>,
    pub invalidated_paths: Vec<String>,
}

/// A problem that keeps a resource from being planned (e.g. a look-alike capsule does
/// not own). The plan is shown, but apply refuses while any exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanError {
    pub address: String,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapsulePlan {
    pub capsule: String,
    pub environment: String,
    pub region: String,
    pub changes: Vec<Change>,
    pub artifacts: Vec<ArtifactPlan>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<PlanError>,
    /// Things a reviewer should know that do not stop the apply (e.g. the SES sandbox).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl CapsulePlan {
    pub fn summary(&self) -> Summary {
        Summary::of(self.changes.iter())
    }
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp) || self.artifacts.iter().any(ArtifactPlan::has_work)
    }
}

impl ArtifactPlan {
    pub fn has_work(&self) -> bool {
        match self {
            ArtifactPlan::Image { action, .. } => action == "build",
            ArtifactPlan::Site { upload, delete, invalidate, .. } => {
                upload.unwrap_or(0) + delete.unwrap_or(0) > 0 || !invalidate.is_empty()
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
}

impl Summary {
    pub fn of<'a>(changes: impl Iterator<Item = &'a Change>) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => s.no_op += 1,
            }
        }
        s
    }
    fn add(&mut self, o: Summary) {
        self.create += o.create;
        self.update += o.update;
        self.replace += o.replace;
        self.delete += o.delete;
        self.no_op += o.no_op;
    }
    /// `Plan: X to add, Y to change, Z to destroy.` (a replacement adds and destroys).
    pub fn line(&self) -> String {
        format!(
            "Plan: {} to add, {} to change, {} to destroy.",
            self.create + self.replace,
            self.update,
            self.delete + self.replace
        )
    }
}

/// The whole plan document, `format_version` "1".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    /// Planned without reading AWS: every resource shows as `create`.
    #[serde(default)]
    pub offline: bool,
    pub capsules: Vec<CapsulePlan>,
    pub summary: Summary,
    /// Apply documents only: every change applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
}

impl Plan {
    pub fn new(capsules: Vec<CapsulePlan>, offline: bool) -> Plan {
        let mut summary = Summary::default();
        for c in &capsules {
            summary.add(c.summary());
        }
        Plan { format_version: "1".into(), offline, capsules, summary, ok: None }
    }
    pub fn has_changes(&self) -> bool {
        self.capsules.iter().any(CapsulePlan::has_changes)
    }
    pub fn has_errors(&self) -> bool {
        self.capsules.iter().any(|c| !c.errors.is_empty())
    }
    pub fn has_destructive(&self) -> bool {
        self.capsules.iter().flat_map(|c| &c.changes).any(Change::is_destructive)
    }
}
