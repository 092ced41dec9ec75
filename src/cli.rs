//! The command line (DESIGN section 1): clap definitions and the dispatch from each
//! command to the library. Owns exit codes and where output goes; no business logic.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Project};
use crate::deploy;
use crate::engine::{self, Selection as Targets};
use crate::plan::Plan;
use crate::render;

#[derive(Debug, Parser)]
#[command(name = "capsule", version, about = "Deploy capsule.toml applications into your own AWS account, from CI")]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChangedFormat {
    Text,
    Json,
    Matrix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
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
    /// Plan every capsule against live AWS; exit 2 when live state drifted from the files.
    Drift {
        #[command(flatten)]
        select: Selection,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
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
            Ok(exit_code(runtime()?.block_on(crate::github::run_plan(&select.targets()))?))
        }
        Command::Github { command: GithubCommand::Apply { select, allow_destroy } } => {
            Ok(exit_code(runtime()?.block_on(crate::github::run_apply(&select.targets(), allow_destroy))?))
        }
        Command::Destroy { capsule, env, confirm, root, format, out } => {
            if confirm.as_deref() != Some(capsule.as_str()) {
                anyhow::bail!(
                    "capsule destroy deletes every resource of {capsule}/{env}, data included. Nothing was done.\n\
                     Repeat the capsule's name to confirm: capsule destroy --capsule {capsule} --env {env} --confirm {capsule}"
                );
            }
            let project = load(&root)?;
            let targets = engine::select(
                &project,
                &Targets { root: root.clone(), capsules: vec![capsule.clone()], env: Some(env.clone()) },
            )?;
            runtime()?.block_on(destroy(&project, &targets, format, out.as_deref()))
        }
        Command::Unlock { capsule, env, root } => {
            let project = load(&root)?;
            runtime()?.block_on(unlock(&project, &capsule, &env))
        }
        Command::Backup { capsule, env, db, list, root, format } => {
            let project = load(&root)?;
            runtime()?.block_on(backup(&project, &capsule, &env, &db, list, format))
        }
        Command::Restore { capsule, env, db, from, confirm, root, format } => {
            if confirm.as_deref() != Some(db.as_str()) {
                anyhow::bail!(
                    "capsule restore switches database `{db}` of {capsule}/{env} to the data of snapshot {from}. Nothing was done.\n\
                     Repeat the database's name to confirm: capsule restore {capsule} {env} {db} --from {from} --confirm {db}"
                );
            }
            let project = load(&root)?;
            runtime()?.block_on(restore(&project, &capsule, &env, &db, &from, format))
        }
        Command::Drift { select, format } => {
            let project = load(&select.root)?;
            let targets = engine::select(&project, &select.targets())?;
            let plan = runtime()?.block_on(online_plan(&project, &targets))?;
            emit(&plan, format, None)?;
            if plan.has_errors() {
                return Ok(ExitCode::from(1));
            }
            if plan.has_changes() {
                eprintln!("Drift: live AWS differs from the configuration (above).");
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
        Command::Plan { select, format, out, detailed_exitcode, offline } => {
            let project = load(&select.root)?;
            let targets = engine::select(&project, &select.targets())?;
            let plan = if offline {
                engine::offline_plan(&project, &targets, &engine::default_region())?
            } else {
                runtime()?.block_on(online_plan(&project, &targets))?
            };
            emit(&plan, format, out.as_deref())?;
            if plan.has_errors() {
                eprintln!("The plan has errors (above): apply would refuse it.");
                return Ok(ExitCode::from(1));
            }
            Ok(if detailed_exitcode && plan.has_changes() { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        Command::Apply { select, allow_destroy, format, out } => {
            let project = load(&select.root)?;
            let targets = engine::select(&project, &select.targets())?;
            runtime()?.block_on(apply(&project, &targets, allow_destroy, format, out.as_deref()))
        }
        Command::Secrets { command: SecretsCommand::Set { capsule, env, name, root } } => {
            let project = load(&root)?;
            runtime()?.block_on(set_secret(&project, &capsule, &env, &name))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

async fn online_plan(project: &Project, targets: &[(usize, String)]) -> anyhow::Result<Plan> {
    let session = engine::Session::connect().await?;
    let mut capsules = Vec::new();
    for (i, env) in targets {
        capsules.push(engine::reconcile(&session, project, *i, env, false).await?.planned.plan);
    }
    Ok(Plan::new(capsules, false))
}

/// `capsule apply`: each target in order under its lock; stops at the first failure.
async fn apply(
    project: &Project,
    targets: &[(usize, String)],
    allow_destroy: bool,
    format: PlanFormat,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let session = engine::Session::connect().await?;
    let human = format != PlanFormat::Json;
    let opts = deploy::Options { allow_destroy, goal: engine::Goal::Declared, human, color: color_for(None) };
    let run = deploy::apply_all(&session, project, targets, &opts).await;
    if human {
        let s = run.doc.summary;
        let line = format!("{} created, {} updated, {} replaced, {} deleted.", s.create, s.update, s.replace, s.delete);
        if run.ok {
            println!("Apply complete: {line}");
        } else if run.refused.is_some() {
            println!("Apply refused (see above): that capsule environment was not changed.");
        } else {
            println!("Apply FAILED (see the errors above). The next apply continues from live state.");
        }
    } else {
        emit(&run.doc, PlanFormat::Json, out)?;
    }
    Ok(if run.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `capsule destroy`: everything the capsule environment owns, under its lock.
async fn destroy(
    project: &Project,
    targets: &[(usize, String)],
    format: PlanFormat,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let session = engine::Session::connect().await?;
    let human = format != PlanFormat::Json;
    let opts = deploy::Options { allow_destroy: true, goal: engine::Goal::Nothing, human, color: color_for(None) };
    let run = deploy::apply_all(&session, project, targets, &opts).await;
    if human {
        if run.ok {
            println!("Destroy complete: {} deleted.", run.doc.summary.delete);
        } else {
            println!("Destroy FAILED (see above). Run it again: it continues with what is left.");
        }
    } else {
        emit(&run.doc, PlanFormat::Json, out)?;
    }
    Ok(if run.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `capsule secrets set`: the value comes from stdin and goes to Secrets Manager only.
async fn set_secret(project: &Project, capsule: &str, env: &str, name: &str) -> anyhow::Result<()> {
    use std::io::Read;
    let c = project.capsule(capsule).ok_or_else(|| anyhow::anyhow!("no capsule named `{capsule}`"))?;
    let e = c.environment(env).ok_or_else(|| anyhow::anyhow!("capsule `{capsule}` has no environment `{env}`"))?;
    if !e.config.secrets.contains_key(name) {
        anyhow::bail!(
            "capsule `{capsule}` declares no secret `{name}` in [secrets] (declared: {})",
            e.config.secrets.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let mut value = String::new();
    std::io::stdin().read_to_string(&mut value)?;
    let value = value.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(&value).to_string();
    if value.is_empty() {
        anyhow::bail!(
            "no value on stdin: pipe it in, e.g. `printf %s \"$VALUE\" | capsule secrets set {capsule} {env} {name}`"
        );
    }
    let session = engine::Session::connect().await?;
    let i = project.capsules.iter().position(|x| x.name == capsule).unwrap_or_default();
    let r = engine::reconcile(&session, project, i, env, false).await?;
    let version = engine::put_secret_value(&r, name, value).await?;
    println!("Stored a new value for secret `{name}` of {capsule}/{env} (version {version}).");
    Ok(())
}

/// `capsule unlock`: breaks a stale apply lock and says whose it was.
async fn unlock(project: &Project, capsule: &str, env: &str) -> anyhow::Result<ExitCode> {
    let c = project.capsule(capsule).ok_or_else(|| anyhow::anyhow!("no capsule named `{capsule}`"))?;
    c.environment(env).ok_or_else(|| anyhow::anyhow!("capsule `{capsule}` has no environment `{env}`"))?;
    let session = engine::Session::connect().await?;
    let region = engine::region_of(&session, c, env);
    match crate::lock::break_lock(&session.aws, &session.account, &region, capsule, env).await? {
        Some(h) => println!(
            "Broke the apply lock of {capsule}/{env}, held by {} since {}{}.",
            h.owner,
            h.acquired_at,
            h.run_url.map(|u| format!(" ({u})")).unwrap_or_default()
        ),
        None => println!("{capsule}/{env} was not locked."),
    }
    Ok(ExitCode::SUCCESS)
}

/// `capsule backup`: a manual snapshot, or with `--list` the database's snapshots.
async fn backup(
    project: &Project,
    capsule: &str,
    env: &str,
    db: &str,
    list: bool,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let session = engine::Session::connect().await?;
    let database = crate::recovery::find(project, &session, capsule, env, db)?;
    if list {
        let snapshots = crate::recovery::snapshots(&session, &database).await?;
        match format {
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "database": database.identifier,
                    "snapshots": snapshots,
                }))?
            ),
            OutputFormat::Text if snapshots.is_empty() => {
                println!("No snapshots of {capsule}/{env} database `{db}` ({}).", database.identifier)
            }
            OutputFormat::Text => {
                let width = snapshots.iter().map(|s| s.snapshot.len()).max().unwrap_or(8).max(8);
                println!("{:width$}  {:9}  {:9}  CREATED", "SNAPSHOT", "KIND", "STATUS");
                for s in &snapshots {
                    println!("{:width$}  {:9}  {:9}  {}", s.snapshot, s.kind, s.status, s.created);
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let snapshot = crate::recovery::backup(&session, &database).await?;
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "snapshot": snapshot.snapshot,
                "database": database.identifier,
                "status": snapshot.status,
            }))?
        ),
        OutputFormat::Text => {
            println!("{}", snapshot.snapshot);
            eprintln!("Snapshot of {capsule}/{env} database `{db}` ({}) is {}.", database.identifier, snapshot.status);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `capsule restore`: a snapshot into a new instance, which then takes the database's place.
async fn restore(
    project: &Project,
    capsule: &str,
    env: &str,
    db: &str,
    from: &str,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let session = engine::Session::connect().await?;
    let database = crate::recovery::find(project, &session, capsule, env, db)?;
    let done = crate::recovery::restore(&session, &database, from).await?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&done)?),
        OutputFormat::Text => {
            let old = &done.previous;
            println!(
                "Restored {capsule}/{env} database `{db}` from snapshot {from}.\n\
                 \x20 {} is the restored instance; the connection secret {} (same secret, same password).\n\
                 \x20 The previous instance is kept as {old}, no longer managed by capsule.\n\
                 When the restored data is right, delete it (a final snapshot keeps a copy):\n\
                 \x20 aws rds modify-db-instance --db-instance-identifier {old} --no-deletion-protection --apply-immediately\n\
                 \x20 aws rds delete-db-instance --db-instance-identifier {old} --final-db-snapshot-identifier {old}-final",
                done.database,
                if done.secret_updated { "points at it" } else { "already pointed at it" },
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A command that ran to its end: 0 when it succeeded, 1 when it failed or was refused.
fn exit_code(ok: bool) -> ExitCode {
    if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn color_for(out: Option<&Path>) -> bool {
    out.is_none() && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Loads and validates the project; invalid configuration stops here, before any AWS call.
fn load(root: &Path) -> anyhow::Result<Project> {
    config::load_project(root).map_err(|d| anyhow::anyhow!("{d}"))
}

fn emit(plan: &Plan, format: PlanFormat, out: Option<&Path>) -> anyhow::Result<()> {
    let color = color_for(out);
    let body = match format {
        PlanFormat::Text => render::text(plan, color),
        PlanFormat::Markdown => render::markdown(plan, None),
        PlanFormat::Json => render::json(plan) + "\n",
    };
    match out {
        Some(path) => {
            std::fs::write(path, body).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            eprintln!("{}", plan.summary.line());
        }
        None => print!("{body}"),
    }
    Ok(())
}
