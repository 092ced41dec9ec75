//! The command line (DESIGN section 1): clap definitions and the dispatch from each
//! command to the library. Owns exit codes and the order in which arguments are checked;
//! every command's work (and what it prints) is the library's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Project};
use crate::engine::{self, Selection as Targets};
use crate::output::emit;
pub use crate::output::{OutputFormat, PlanFormat};
use crate::{deploy, github, k8s, lock, recovery};

#[derive(Debug, Parser)]
#[command(name = "capsule", version, about = "Deploy capsule.toml applications into your own AWS account, from CI")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChangedFormat {
    Text,
    Json,
    Matrix,
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
        Targets { root: self.root.clone(), capsules: self.capsules.clone(), env: self.env.clone() }
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
    /// Delete everything one capsule environment owns in AWS (data included), after
    /// `--confirm NAME` repeats the capsule's name.
    Destroy {
        #[arg(long = "capsule", value_name = "NAME")]
        capsule: String,
        #[arg(long, value_name = "ENV")]
        env: String,
        /// The capsule's name again: destroying deletes databases, buckets and secrets.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
        #[arg(long, default_value = ".")]
        root: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the JSON Schema of capsule.toml.
    Schema,
    /// Print the IAM policy document the deploy role needs to plan, apply and destroy the
    /// capsules under the root (docs/github.md, "The deploy role").
    Policy {
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// Plan every capsule against live AWS; exit 2 when live state drifted from the files.
    Drift {
        #[command(flatten)]
        select: Selection,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
    },
    /// Preview environments (`pr-<N>`) that exist in AWS.
    Preview {
        #[command(subcommand)]
        command: PreviewCommand,
    },
    /// The GitHub Actions entry points.
    Github {
        #[command(subcommand)]
        command: GithubCommand,
    },
    /// List the capsules changed between two revisions (a matrix for GitHub Actions).
    Changed {
        /// The revision to compare against (e.g. the pull request's base).
        #[arg(long)]
        base: String,
        #[arg(long, default_value = "HEAD")]
        head: String,
        #[arg(long, default_value = ".")]
        root: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: ChangedFormat,
    },
    /// Break the apply lock of a capsule environment whose holder is gone (a cancelled or
    /// crashed run). Prints who held it.
    Unlock {
        capsule: String,
        env: String,
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// Take a manual snapshot of a capsule environment's database and wait until it is
    /// available (or, with `--list`, list the database's snapshots, newest first).
    Backup {
        capsule: String,
        env: String,
        /// The database's name (`[databases.DB]`).
        db: String,
        /// List the database's snapshots (manual, final, automated) instead.
        #[arg(long)]
        list: bool,
        #[arg(long, default_value = ".")]
        root: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
    /// Restore a snapshot into a new instance and switch the database to it once it is
    /// available; the previous instance is kept, renamed, no longer managed (docs/recovery.md).
    Restore {
        capsule: String,
        env: String,
        /// The database's name (`[databases.DB]`).
        db: String,
        /// The snapshot to restore (see `capsule backup CAPSULE ENV DB --list`).
        #[arg(long, value_name = "SNAPSHOT")]
        from: String,
        /// The database's name again: the database is switched to the snapshot's data.
        #[arg(long, value_name = "DB")]
        confirm: Option<String>,
        #[arg(long, default_value = ".")]
        root: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
    /// Manage secret values (never printed, never in git).
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Run one task of a service's live task definition with CMD, stream its log lines and
    /// exit with its exit code (1 when it could not start). Takes no lock.
    Run {
        capsule: String,
        env: String,
        /// The service (`[services.NAME]`).
        service: String,
        /// The command, e.g. `-- /app/manage migrate`.
        #[arg(required = true, last = true)]
        command: Vec<String>,
        /// Print the task id and return at once.
        #[arg(long)]
        detach: bool,
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// What runs now in a capsule environment: services (tasks, revision, image, rollout,
    /// events), load balancer, databases, caches and sites, read from live AWS.
    Status {
        capsule: String,
        env: String,
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// Move a service back to the previous registered revision of its task definition (or
    /// `--to REVISION`), under the apply lock, and wait for the rollout. The next apply rolls
    /// it forward to what git says.
    Rollback {
        capsule: String,
        env: String,
        /// The service (`[services.NAME]`).
        service: String,
        /// The task definition revision to go back to (default: the one before the current).
        #[arg(long, value_name = "REVISION")]
        to: Option<i32>,
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// Print a service's (or `jobs.NAME`'s) log events, oldest first, each with its time
    /// and short task id.
    Logs {
        capsule: String,
        env: String,
        /// The service, or `jobs.NAME`.
        service: String,
        /// How far back to start, e.g. `10m`, `2h`.
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        since: std::time::Duration,
        /// Keep printing new events until interrupted (Ctrl-C).
        #[arg(long)]
        follow: bool,
        /// One task's events only (its id, as `capsule run` prints it).
        #[arg(long, value_name = "ID")]
        task: Option<String>,
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum GithubCommand {
    /// On `pull_request`: plan the changed capsules and keep the pull request's one plan
    /// comment up to date.
    Plan {
        #[command(flatten)]
        select: Selection,
    },
    /// On `push` to the default branch: apply the capsules the pushed commits changed
    /// (environments in declaration order, stopping at the first failure), then comment the
    /// outcome on the pull request the commit came from.
    Apply {
        #[command(flatten)]
        select: Selection,
        /// Allow deleting or replacing stateful resources (databases, caches, buckets).
        #[arg(long)]
        allow_destroy: bool,
    },
    /// On `schedule` or `workflow_dispatch` of the default branch: plan every capsule
    /// environment against AWS and keep one GitHub issue per drifted one (or apply it back
    /// when its capsule says `on_drift = "heal"`; never what would destroy data).
    Reconcile {
        #[command(flatten)]
        select: Selection,
    },
    /// On `pull_request`: deploy `pr-<N>` of each changed capsule with a preview template
    /// (opened, reopened, synchronize), or tear every `pr-<N>` down (closed). Never for forks.
    Preview {
        #[command(flatten)]
        select: Selection,
    },
}

#[derive(Debug, Subcommand)]
pub enum PreviewCommand {
    /// Every preview environment that exists in AWS, with its pull request, age and TTL.
    List {
        #[arg(long, default_value = ".")]
        root: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Destroy the previews older than their `ttl` (or `--older-than`), and those whose pull
    /// request is closed (when GITHUB_TOKEN and GITHUB_REPOSITORY are set).
    Sweep {
        /// Sweep every preview at least this old, whatever its `ttl` (e.g. `7d`, `0s`).
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Option<std::time::Duration>,
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store a secret's value, read from stdin, in Secrets Manager.
    Set {
        capsule: String,
        env: String,
        name: String,
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
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
        Command::Github { command: GithubCommand::Plan { select } } => {
            Ok(exit_code(runtime()?.block_on(github::run_plan(&select.targets()))?))
        }
        Command::Github { command: GithubCommand::Apply { select, allow_destroy } } => {
            Ok(exit_code(runtime()?.block_on(github::run_apply(&select.targets(), allow_destroy))?))
        }
        Command::Github { command: GithubCommand::Reconcile { select } } => {
            Ok(exit_code(runtime()?.block_on(github::run_reconcile(&select.targets()))?))
        }
        Command::Github { command: GithubCommand::Preview { select } } => {
            Ok(exit_code(runtime()?.block_on(github::run_preview(&select.targets()))?))
        }
        Command::Preview { command: PreviewCommand::List { root, format } } => {
            let project = load(&root)?;
            runtime()?.block_on(crate::preview::run_list(&project, format == ListFormat::Json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Preview { command: PreviewCommand::Sweep { older_than, root } } => {
            let project = load(&root)?;
            Ok(exit_code(runtime()?.block_on(crate::preview::run_sweep(&project, older_than))?))
        }
        Command::Destroy { capsule, env, confirm, root, format, out } => {
            deploy::confirm_destroy(&capsule, &env, confirm.as_deref())?;
            let project = load_for(&root, Some(&env))?;
            if let Some(i) = k8s::kubernetes_target(&project, &capsule, &env) {
                return Ok(exit_code(runtime()?.block_on(k8s::ops::destroy(
                    &project,
                    i,
                    &env,
                    format,
                    out.as_deref(),
                ))?));
            }
            let targets = engine::select(
                &project,
                &Targets { root: root.clone(), capsules: vec![capsule.clone()], env: Some(env.clone()) },
            )?;
            Ok(exit_code(runtime()?.block_on(deploy::run_destroy(&project, &targets, format, out.as_deref()))?))
        }
        Command::Unlock { capsule, env, root } => {
            let project = load_for(&root, Some(&env))?;
            if let Some(i) = k8s::kubernetes_target(&project, &capsule, &env) {
                runtime()?.block_on(k8s::run_unlock(&project, i, &env))?;
                return Ok(ExitCode::SUCCESS);
            }
            runtime()?.block_on(lock::run_unlock(&project, &capsule, &env))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { capsule, env, db, list, root, format } => {
            let project = load(&root)?;
            runtime()?.block_on(recovery::run_backup(&project, &capsule, &env, &db, list, format))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { capsule, env, db, from, confirm, root, format } => {
            recovery::confirm_restore(&capsule, &env, &db, &from, confirm.as_deref())?;
            let project = load(&root)?;
            runtime()?.block_on(recovery::run_restore(&project, &capsule, &env, &db, &from, format))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Drift { select, format } => {
            let project = load_for(&select.root, select.env.as_deref())?;
            let targets = engine::select(&project, &select.targets())?;
            let plan = crate::plan::Plan::new(runtime()?.block_on(online_plans(&project, targets))?, false);
            emit(&plan, format, None)?;
            if plan.has_errors() {
                return Ok(ExitCode::from(1));
            }
            if plan.has_changes() {
                eprintln!("Drift: live state differs from the configuration (above).");
                return Ok(ExitCode::from(2));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Changed { base, head, root, format } => {
            let project = load(&root)?;
            let changed = crate::git::changed_capsules(&project, &base, &head)?;
            match format {
                ChangedFormat::Text => {
                    for c in &changed {
                        println!("{}\t{}\t{}", c.capsule, c.dir, c.because);
                    }
                }
                ChangedFormat::Json => println!("{}", serde_json::to_string_pretty(&changed)?),
                ChangedFormat::Matrix => println!("{}", crate::git::matrix(&changed)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&config::schema::json_schema())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy { root } => {
            let project = load(&root)?;
            let usage = crate::aws::policy::Usage::of(&project, &engine::default_region());
            let document = crate::aws::policy::document(&usage);
            let size = serde_json::to_string(&document)?.len();
            if size > 10_240 {
                eprintln!(
                    "capsule policy: the document has {size} characters, more than the 10,240 of a role's inline \
                     policies: split its statements over several managed policies"
                );
            }
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { select, format, out, detailed_exitcode, offline } => {
            let project = load_for(&select.root, select.env.as_deref())?;
            let targets = engine::select(&project, &select.targets())?;
            let capsules = if offline {
                offline_plans(&project, targets)?
            } else {
                runtime()?.block_on(online_plans(&project, targets))?
            };
            let plan = crate::plan::Plan::new(capsules, offline);
            emit(&plan, format, out.as_deref())?;
            if plan.has_errors() {
                eprintln!("The plan has errors (above): apply would refuse it.");
                return Ok(ExitCode::from(1));
            }
            Ok(if detailed_exitcode && plan.has_changes() { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        Command::Apply { select, allow_destroy, format, out } => {
            let project = load_for(&select.root, select.env.as_deref())?;
            let targets = engine::select(&project, &select.targets())?;
            let (on_k8s, targets): (Vec<_>, Vec<_>) =
                targets.into_iter().partition(|t| k8s::is_kubernetes(&project, t));
            if !on_k8s.is_empty() {
                let ok =
                    runtime()?.block_on(k8s::run_apply(&project, &on_k8s, allow_destroy, format, out.as_deref()))?;
                if !ok || targets.is_empty() {
                    return Ok(exit_code(ok));
                }
            }
            Ok(exit_code(runtime()?.block_on(deploy::run_apply(
                &project,
                &targets,
                allow_destroy,
                format,
                out.as_deref(),
            ))?))
        }
        c @ (Command::Run { .. } | Command::Status { .. } | Command::Rollback { .. } | Command::Logs { .. }) => {
            day_two(c)
        }
        Command::Secrets { command: SecretsCommand::Set { capsule, env, name, root } } => {
            let project = load(&root)?;
            runtime()?.block_on(engine::set_secret(&project, &capsule, &env, &name, &mut std::io::stdin()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The day-two commands (`run`, `status`, `rollback`, `logs`): each connects, finds what it
/// names in the model and acts on live AWS (src/ops/).
fn day_two(command: Command) -> anyhow::Result<ExitCode> {
    if let Some(code) = day_two_kubernetes(&command)? {
        return Ok(code);
    }
    match command {
        Command::Run { capsule, env, service, command, detach, root } => {
            let project = load(&root)?;
            let code = runtime()?.block_on(async {
                let session = engine::Session::connect().await?;
                let w = crate::ops::find(&project, &session, &capsule, &env, &service)?;
                crate::ops::run::run(&session, &w, &command, detach).await
            })?;
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        Command::Status { capsule, env, format, root } => {
            let project = load(&root)?;
            let doc = runtime()?.block_on(async {
                let session = engine::Session::connect().await?;
                crate::ops::status::status(&session, &project, &capsule, &env).await
            })?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
                OutputFormat::Text => print!("{}", crate::ops::status::text(&doc)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rollback { capsule, env, service, to, root } => {
            let project = load(&root)?;
            runtime()?.block_on(async {
                let session = engine::Session::connect().await?;
                let w = crate::ops::find(&project, &session, &capsule, &env, &service)?;
                crate::ops::rollback::rollback(&session, &capsule, &env, &w, to).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Logs { capsule, env, service, since, follow, task, root } => {
            let project = load(&root)?;
            runtime()?.block_on(async {
                let session = engine::Session::connect().await?;
                let w = crate::ops::find(&project, &session, &capsule, &env, &service)?;
                crate::ops::logs::logs(&session, &w, &crate::ops::logs::Query { since, task, follow }).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        _ => unreachable!("dispatch hands only the day-two commands here"),
    }
}

/// The day-two commands of a Kubernetes capsule environment (src/k8s/ops.rs); `None` when
/// the command names an AWS one.
fn day_two_kubernetes(command: &Command) -> anyhow::Result<Option<ExitCode>> {
    let (capsule, env, root) = match command {
        Command::Run { capsule, env, root, .. }
        | Command::Status { capsule, env, root, .. }
        | Command::Rollback { capsule, env, root, .. }
        | Command::Logs { capsule, env, root, .. } => (capsule, env, root),
        _ => return Ok(None),
    };
    let project = load(root)?;
    let Some(i) = k8s::kubernetes_target(&project, capsule, env) else { return Ok(None) };
    match command {
        Command::Status { format, .. } => {
            let doc = runtime()?.block_on(k8s::ops::status(&project, i, env))?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
                OutputFormat::Text => print!("{}", k8s::ops::status_text(&doc)),
            }
        }
        Command::Rollback { service, to, .. } => {
            runtime()?.block_on(k8s::ops::rollback(&project, i, env, service, *to))?;
        }
        Command::Logs { service, since, follow, task, .. } => {
            let q = k8s::ops::LogQuery { since: *since, follow: *follow, pod: task.clone() };
            runtime()?.block_on(k8s::ops::logs(&project, i, env, service, &q))?;
        }
        Command::Run { service, command, detach, .. } => {
            let code = runtime()?.block_on(k8s::run::run(&project, i, env, service, command, *detach))?;
            return Ok(Some(ExitCode::from(u8::try_from(code).unwrap_or(1))));
        }
        _ => unreachable!("only the day-two commands get here"),
    }
    Ok(Some(ExitCode::SUCCESS))
}

/// The plans of the selected capsule environments against live state, whichever runtime
/// each runs on, in selection order.
async fn online_plans(
    project: &Project,
    targets: Vec<(usize, String)>,
) -> anyhow::Result<Vec<crate::plan::CapsulePlan>> {
    let order: Vec<(String, String)> =
        targets.iter().map(|(i, env)| (project.capsules[*i].name.clone(), env.clone())).collect();
    let (on_k8s, on_aws): (Vec<_>, Vec<_>) = targets.into_iter().partition(|t| k8s::is_kubernetes(project, t));
    let mut capsules = vec![];
    if !on_aws.is_empty() {
        capsules = engine::online_plan(project, &on_aws).await?.capsules;
    }
    if !on_k8s.is_empty() {
        capsules.extend(k8s::plan(project, &on_k8s).await?);
    }
    capsules.sort_by_key(|c| order.iter().position(|(n, e)| *n == c.capsule && *e == c.environment));
    Ok(capsules)
}

/// `plan --offline` of the selected capsule environments, in selection order.
fn offline_plans(project: &Project, targets: Vec<(usize, String)>) -> anyhow::Result<Vec<crate::plan::CapsulePlan>> {
    let order: Vec<(String, String)> =
        targets.iter().map(|(i, env)| (project.capsules[*i].name.clone(), env.clone())).collect();
    let (on_k8s, on_aws): (Vec<_>, Vec<_>) = targets.into_iter().partition(|t| k8s::is_kubernetes(project, t));
    let mut capsules = engine::offline_plan(project, &on_aws, &engine::default_region())?.capsules;
    for (i, env) in &on_k8s {
        let c = &project.capsules[*i];
        capsules.extend(c.environment(env).map(|e| k8s::offline_plan(c, e)));
    }
    capsules.sort_by_key(|c| order.iter().position(|(n, e)| *n == c.capsule && *e == c.environment));
    Ok(capsules)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// A command that ran to its end: 0 when it succeeded, 1 when it failed or was refused.
fn exit_code(ok: bool) -> ExitCode {
    if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Loads and validates the project; invalid configuration stops here, before any AWS call.
fn load(root: &Path) -> anyhow::Result<Project> {
    config::load_project(root).map_err(|d| anyhow::anyhow!("{d}"))
}

/// [`load`], with the preview `env` (`pr-<N>`) made from each capsule's template.
fn load_for(root: &Path, env: Option<&str>) -> anyhow::Result<Project> {
    load(root)?.with_previews(env).map_err(|e| anyhow::anyhow!("{e}"))
}
