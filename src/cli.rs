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
    /// Print the JSON Schema of capsule.toml.
    Schema,
    /// Plan every capsule against live AWS; exit 2 when live state drifted from the files.
    Drift {
        #[arg(long, default_value = ".")]
        root: PathBuf,
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
        #[arg(long, default_value = ".")]
        root: PathBuf,
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
        Command::Github { command: GithubCommand::Plan { root } } => runtime()?.block_on(github_plan(&root)),
        Command::Drift { root, format } => {
            let project = load(&root)?;
            let targets = engine::select(&project, &Targets { root: root.clone(), ..Default::default() })?;
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

/// Plans and applies each target in order, stopping at the first that fails or is refused.
async fn apply(
    project: &Project,
    targets: &[(usize, String)],
    allow_destroy: bool,
    format: PlanFormat,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let session = engine::Session::connect().await?;
    let human = format != PlanFormat::Json;
    let mut done = Vec::new();
    let mut ok = true;
    let mut refused = false;
    for (i, env) in targets {
        let mut r = engine::reconcile(&session, project, *i, env, allow_destroy).await?;
        let single = Plan::new(vec![r.planned.plan.clone()], false);
        if human {
            print!("{}", render::text(&single, color_for(None)));
        }
        if !r.planned.plan.errors.is_empty() {
            eprintln!(
                "Refusing to apply {}/{}: the plan has errors (above). Nothing was changed.",
                r.desired.capsule, r.desired.env
            );
            done.push(r.planned.plan);
            ok = false;
            refused = true;
            break;
        }
        let destructive = engine::destructive_stateful(&r.planned.plan);
        if !allow_destroy && !destructive.is_empty() {
            let list: Vec<String> = destructive
                .iter()
                .map(|c| {
                    format!(
                        "  {} ({})",
                        c.address,
                        if c.action == crate::plan::Action::Delete { "delete" } else { "replace" }
                    )
                })
                .collect();
            eprintln!(
                "Refusing to apply {}/{}: it would destroy data in\n{}\nRe-run with --allow-destroy if that is intended. Nothing was changed.",
                r.desired.capsule,
                r.desired.env,
                list.join("\n")
            );
            done.push(r.planned.plan);
            ok = false;
            refused = true;
            break;
        }
        let report = |c: &crate::plan::Change, took: std::time::Duration| {
            let outcome = match c.outcome {
                Some(crate::plan::Outcome::Applied) => "done",
                Some(crate::plan::Outcome::Failed) => "FAILED",
                _ => "skipped",
            };
            let error = c.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
            eprintln!("{:>3} {} {outcome} ({:.1}s){error}", c.action.symbol(), c.address, took.as_secs_f64());
        };
        let mut applied =
            crate::apply::apply(&r.cx, &r.desired, &r.graph, &r.observation, &mut r.planned, &report).await;
        if applied && let Err(e) = engine::ship_sites(&mut r).await {
            eprintln!("{e}");
            applied = false;
        }
        done.push(r.planned.plan);
        if !applied {
            ok = false;
            break;
        }
    }
    let mut doc = Plan::new(done, false);
    doc.ok = Some(ok);
    if human {
        let s = doc.summary;
        let line = format!("{} created, {} updated, {} replaced, {} deleted.", s.create, s.update, s.replace, s.delete);
        if ok {
            println!("Apply complete: {line}");
        } else if refused {
            println!("Apply refused (see above): that capsule environment was not changed.");
        } else {
            println!("Apply FAILED (see the errors above). The next apply continues from live state.");
        }
    } else {
        emit(&doc, PlanFormat::Json, out)?;
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
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

/// `capsule github plan`: reads the event, plans the changed capsules (offline for forks or
/// without credentials), comments, and writes the step summary and outputs.
async fn github_plan(root: &Path) -> anyhow::Result<ExitCode> {
    use crate::github::{self, GitHub};
    let env = github::Env::from_process()?;
    let event_path = env.event_path.clone().ok_or(github::GitHubError::Missing("GITHUB_EVENT_PATH"))?;
    let event: serde_json::Value = serde_json::from_slice(&std::fs::read(&event_path)?)?;
    let pr = github::pull_request(&event)?;
    let gh = GitHub::new(&env)?;
    let run_url = env.run_url();
    let append = |path: &Option<std::path::PathBuf>, text: &str| -> anyhow::Result<()> {
        if let Some(p) = path {
            use std::io::Write as _;
            std::fs::OpenOptions::new().create(true).append(true).open(p)?.write_all(text.as_bytes())?;
        }
        Ok(())
    };
    let project = match config::load_project(root) {
        Ok(p) => p,
        Err(diags) => {
            for d in &diags.0 {
                println!("{}", github::annotation(d));
            }
            let body = format!(
                "{}\n## capsule plan\n\n:x: The configuration has {} error(s); nothing was planned.\n\n```\n{diags}\n```\n",
                github::MARKER,
                diags.len()
            );
            gh.upsert_comment(pr.number, &body).await?;
            append(&env.step_summary, &body)?;
            append(&env.output, "has_changes=false\ndestroy=false\ncapsules=[]\n")?;
            eprintln!("{diags}");
            return Ok(ExitCode::from(1));
        }
    };
    let changed = crate::git::changed_capsules(&project, &pr.base_sha, &pr.head_sha)?;
    let mut targets = Vec::new();
    for c in &changed {
        let i = project.capsules.iter().position(|p| p.name == c.capsule).unwrap_or_default();
        targets.extend(c.environments.iter().map(|e| (i, e.clone())));
    }
    let mut note = None;
    let plan = if pr.from_fork {
        note = Some("This pull request comes from a fork, which gets no AWS credentials: this is an offline plan (every resource shown as created).".to_string());
        engine::offline_plan(&project, &targets, &engine::default_region())?
    } else {
        match engine::Session::connect().await {
            Ok(session) => {
                let mut capsules = Vec::new();
                for (i, e) in &targets {
                    capsules.push(engine::reconcile(&session, &project, *i, e, false).await?.planned.plan);
                }
                Plan::new(capsules, false)
            }
            Err(e) => {
                note = Some(format!("AWS could not be reached ({e}): this is an offline plan."));
                engine::offline_plan(&project, &targets, &engine::default_region())?
            }
        }
    };
    if changed.is_empty() {
        note = Some("No capsule changed in this pull request.".into());
    }
    let body = github::comment_body(&plan, run_url.as_deref(), note.as_deref());
    let outcome = gh.upsert_comment(pr.number, &body).await?;
    append(&env.step_summary, &github::step_summary(&plan, run_url.as_deref()))?;
    append(&env.output, &github::outputs(&plan))?;
    print!("{}", render::text(&plan, false));
    eprintln!("Plan comment on pull request #{}: {outcome:?}.", pr.number);
    Ok(if plan.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
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
