//! Orchestration of the commands over a project: which capsules and environments a run
//! covers (`select`), the plan without AWS (`offline`), and against live AWS the session,
//! the observation, the resources' plan and the reconcile that ties them to images and
//! sites (`artifacts::{image_plan, site_plan}`). Applying is `apply`'s and `deploy`'s.

mod observe;
mod offline;
mod plan;
mod reconcile;
mod secrets;
mod select;
mod session;

pub use observe::{Observation, live_outputs, observe};
pub use offline::offline_plan;
pub use plan::{Planned, Target, desired_attributes, destructive_stateful, plan_live};
pub use reconcile::{Goal, Reconcile, online_plan, plan_targets, reconcile, reconcile_to};
pub use secrets::{fill_preview_secrets, put_secret_value, set_secret};
pub use select::{Selection, select};
pub use session::{Session, default_region, region_of};
