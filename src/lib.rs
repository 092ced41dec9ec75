//! capsule: GitOps deploys of `capsule.toml` applications into the user's own AWS account.
//!
//! The core (`config`, `model`, `plan`, `render`) is pure and does no I/O; AWS, git,
//! GitHub and artifacts live at the edges.

pub mod apply;
pub mod artifacts;
pub mod aws;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod engine;
pub mod git;
pub mod github;
pub mod k8s;
pub mod lock;
pub mod model;
pub mod ops;
pub mod output;
pub mod plan;
pub mod preview;
pub mod recovery;
pub mod render;
