//! The command line (DESIGN section 1): clap definitions and the dispatch from each
//! command to the library. Owns exit codes and where output goes; no business logic.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Project};
use crate::engine::{self, Selection as Targets};
use crate::plan::Plan;
use crate::render;

#[derive(Debug, Parser)]
#[command(
    name = "capsule",
    version,
    about = "Deploy capsule.toml applications into your own AWS account, from CI"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Selection {
    /// Directory searched for capsule.toml files (gitignore-aware).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Only these capsules (repeatable).
    #[arg(long = "capsule", value_name = "NAME")]
    pub capsules: Vec<String>,
    /// Only this environment.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
}

impl Selection {
    fn targets(&self) -> Targets {
        Targets {
            root: self.root.clone(),
            capsules: self.capsules.clone(),
            env: self.env.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate every capsule; no AWS call.
    Validate {
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// Show what apply would change.
    Plan {
        #[command(flatten)]
        select: Selection,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        /// Write the rendered plan to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 2 when the plan has changes (0 when none, 1 on error).
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan without reading AWS: every resource is shown as created.
        #[arg(long)]
        offline: bool,
    },
    /// Apply the plan: build and push images, change AWS, sync sites.
    Apply {
        #[command(flatten)]
        select: Selection,
        /// Allow deleting or replacing stateful resources (databases, caches, buckets).
        #[arg(long)]
        allow_destroy: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the JSON Schema of capsule.toml.
    Schema,
}

/// Runs the command line and maps the outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            ExitCode::from(1)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { root } => {
            let project = load(&root)?;
            let envs: usize = project.capsules.iter().map(|c| c.environments.len()).sum();
            println!(
                "{} capsule{} valid ({} environment{}).",
                project.capsules.len(),
                plural(project.capsules.len()),
                envs,
                plural(envs)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&config::schema::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan {
            select,
            format,
            out,
            detailed_exitcode,
            offline,
        } => {
            let project = load(&select.root)?;
            let targets = engine::select(&project, &select.targets())?;
            if !offline {
                anyhow::bail!(
                    "planning against live AWS is not available in this build yet; use `capsule plan --offline`"
                );
            }
            let plan = engine::offline_plan(&project, &targets, &engine::default_region())?;
            emit(&plan, format, out.as_deref())?;
            Ok(if detailed_exitcode && plan.has_changes() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Apply { select, .. } => {
            let project = load(&select.root)?;
            engine::select(&project, &select.targets())?;
            anyhow::bail!(
                "apply is not available in this build yet: the AWS engine is not built (see docs/status.md)"
            )
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Loads and validates the project; invalid configuration stops here, before any AWS call.
fn load(root: &Path) -> anyhow::Result<Project> {
    config::load_project(root).map_err(|d| anyhow::anyhow!("{d}"))
}

fn emit(plan: &Plan, format: PlanFormat, out: Option<&Path>) -> anyhow::Result<()> {
    let to_terminal = out.is_none() && std::io::stdout().is_terminal();
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let body = match format {
        PlanFormat::Text => render::text(plan, color),
        PlanFormat::Markdown => render::markdown(plan, None),
        PlanFormat::Json => render::json(plan) + "\n",
    };
    match out {
        Some(path) => {
            std::fs::write(path, body)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            eprintln!("{}", plan.summary.line());
        }
        None => print!("{body}"),
    }
    Ok(())
}
