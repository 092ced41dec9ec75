//! `capsule github preview`, on `pull_request`: deploys `pr-<N>` of each changed capsule that
//! has a preview template (`opened`, `reopened`, `synchronize`) or tears down every `pr-<N>`
//! (`closed`); keeps the pull request's one preview comment and its GitHub deployment. A fork
//! never gets a preview. Deploying and deleting are `deploy`'s; what exists is `preview`'s.

use serde_json::json;

use crate::config::{self, Project, preview::instance_name};
use crate::deploy::{self, Options};
use crate::engine::{self, Goal, Selection, Session};
use crate::preview::{self, Record};

use super::{Env, GitHub, GitHubError, PullRequest, Sticky};
use http::Method;

/// The preview comment's marker (first line).
pub const PREVIEW_MARKER: &str = "<!-- capsule:preview -->";

/// How one capsule's preview went.
struct Row {
    capsule: String,
    state: State,
    links: Vec<String>,
    /// Secrets without a value (set them with `capsule secrets set`).
    unset: Vec<String>,
}

enum State {
    Deployed,
    Failed(String),
    /// Over `max_previews`: which previews exist.
    Refused(String),
    Removed,
}

/// Runs the preview flow; `Ok(false)` when a deploy or teardown failed.
pub async fn run_preview(select: &Selection) -> anyhow::Result<bool> {
    let env = Env::from_process()?;
    let event = env.event()?;
    let pr = super::pull_request(&event)?;
    let action = event.get("action").and_then(|a| a.as_str()).unwrap_or_default().to_string();
    let gh = GitHub::new(&env)?;
    let name = instance_name(pr.number);
    let (heading, rows, ok) = match action.as_str() {
        "opened" | "reopened" | "synchronize" if pr.from_fork => {
            let why = format!(
                "No preview: this pull request comes from a fork, and its code would run with this repository's AWS role. A maintainer can deploy it with `capsule apply --env {name}` after reading it."
            );
            eprintln!("{why}");
            (why, Vec::new(), true)
        }
        "opened" | "reopened" | "synchronize" => {
            let Some(project) = load(&env, select)? else { return Ok(false) };
            let (rows, ok) = deploy_previews(&env, &gh, select, &pr, project).await?;
            if rows.is_empty() {
                eprintln!("No capsule with a preview template changed in this pull request: no preview.");
                env.append_summary("## capsule preview\n\nNo capsule with a preview template changed.\n")?;
                return Ok(true);
            }
            (format!("Preview `{name}` of `{}`", short(&pr.head_sha)), rows, ok)
        }
        "closed" if pr.from_fork => {
            eprintln!("A fork's pull request never has a preview: nothing to tear down.");
            return Ok(true);
        }
        "closed" => {
            let Some(project) = load(&env, select)? else { return Ok(false) };
            let (rows, ok) = teardown(&gh, select, &pr, project).await?;
            if rows.is_empty() {
                eprintln!("No preview {name} exists: nothing to tear down.");
                return Ok(true);
            }
            (format!("Preview `{name}` torn down"), rows, ok)
        }
        other => {
            eprintln!(
                "Nothing to do for a pull request `{other}` event: previews follow opened, reopened, synchronize and closed."
            );
            return Ok(true);
        }
    };
    let markdown = comment(&heading, &name, &rows, env.run_url().as_deref());
    print!("{markdown}");
    env.append_summary(&markdown)?;
    env.append_output(&format!("preview_url={}\n", first_link(&rows).unwrap_or_default()))?;
    publish(&gh, &pr, select, &markdown).await;
    Ok(ok)
}

/// The project, or `None` after reporting an invalid configuration (nothing is deployed).
fn load(env: &Env, select: &Selection) -> anyhow::Result<Option<Project>> {
    match config::load_project(&select.root) {
        Ok(p) => Ok(Some(p)),
        Err(diags) => {
            for d in &diags.0 {
                println!("{}", super::annotation(d));
            }
            env.append_summary(&format!("## capsule preview: :x: invalid configuration\n\n```\n{diags}\n```\n"))?;
            eprintln!("{diags}\nNothing was sent to AWS.");
            Ok(None)
        }
    }
}

/// The capsules (indices) with a preview template, narrowed to `--capsule`.
fn with_template(project: &Project, select: &Selection) -> Vec<usize> {
    let picked = |n: &str| select.capsules.is_empty() || select.capsules.iter().any(|c| c == n);
    (0..project.capsules.len())
        .filter(|i| project.capsules[*i].preview_template().is_some() && picked(&project.capsules[*i].name))
        .collect()
}

/// Deploys `pr-<N>` of each changed capsule with a template, one after the other; a refused
/// or failed one does not stop the others (they are independent environments).
async fn deploy_previews(
    env: &Env,
    gh: &GitHub,
    select: &Selection,
    pr: &PullRequest,
    project: Project,
) -> anyhow::Result<(Vec<Row>, bool)> {
    let name = instance_name(pr.number);
    let changed = crate::git::changed_capsules(&project, &pr.base_sha, &pr.head_sha)?;
    let picked: Vec<usize> = with_template(&project, select)
        .into_iter()
        .filter(|i| changed.iter().any(|c| c.capsule == project.capsules[*i].name))
        .collect();
    if picked.is_empty() {
        return Ok((Vec::new(), true));
    }
    let project = project.with_previews(Some(&name)).map_err(anyhow::Error::msg)?;
    let session = Session::connect().await?;
    let mut rows = Vec::new();
    for i in picked {
        rows.push(deploy_one(&session, &project, i, pr).await);
    }
    let ok = rows.iter().all(|r| matches!(r.state, State::Deployed | State::Refused(_)));
    // Only what was deployed (or tried to be) is a deployment; a refusal is not.
    let tried = rows.iter().any(|r| matches!(r.state, State::Deployed | State::Failed(_)));
    if tried && let Err(e) = record_deployment(gh, env, pr, &rows).await {
        warn(&format!("could not record the GitHub deployment of {name}: {e}"), &e);
    }
    Ok((rows, ok))
}

/// One capsule's preview: refused over `max_previews`, else recorded, secrets filled, applied.
async fn deploy_one(session: &Session, project: &Project, i: usize, pr: &PullRequest) -> Row {
    let c = &project.capsules[i];
    let name = instance_name(pr.number);
    let mut row = Row { capsule: c.name.clone(), state: State::Deployed, links: Vec::new(), unset: Vec::new() };
    let settings = c.environment(&name).and_then(|e| e.preview.clone()).expect("with_previews added the instance");
    let region = engine::region_of(session, c, &name);
    let existing = match preview::list(&session.aws, &session.account, &region, &c.name).await {
        Ok(list) => list,
        Err(e) => {
            row.state = State::Failed(format!("could not list the previews that exist: {e}"));
            return row;
        }
    };
    let others: Vec<&Record> = existing.iter().filter(|r| r.environment != name).collect();
    if others.len() >= settings.max_previews as usize {
        let list: Vec<String> = others
            .iter()
            .map(|r| format!("`{}` (#{}, {} old)", r.environment, r.pull_request, preview::rounded(r.age())))
            .collect();
        row.state = State::Refused(format!(
            "{} previews of `{}` exist, and `max_previews` is {}: {}. Close one of those pull requests, or run `capsule preview sweep`.",
            others.len(),
            c.name,
            settings.max_previews,
            list.join(", ")
        ));
        return row;
    }
    // A preview's data is disposable: replacing its database is allowed, nothing else is touched.
    let opts = Options {
        allow_destroy: true,
        goal: Goal::Declared,
        human: true,
        color: false,
        head: Some(pr.head_sha.clone()),
    };
    // Recorded before its first resource (its secrets may come next), so that a killed deploy
    // is still swept.
    if let Err(e) = preview::track(session, c, &name, &opts).await {
        row.state = State::Failed(format!("could not record the preview: {e:#}"));
        return row;
    }
    match engine::fill_preview_secrets(session, project, i, &name, settings.secrets_from.as_deref()).await {
        Ok(unset) => row.unset = unset,
        Err(e) => {
            row.state = State::Failed(format!("could not prepare the preview's secrets: {e:#}"));
            return row;
        }
    }
    let run = deploy::apply_all(session, project, &[(i, name.clone())], &opts).await;
    let s = run.doc.summary;
    println!(
        "Preview {}/{name}: {} created, {} updated, {} replaced, {} deleted.",
        c.name, s.create, s.update, s.replace, s.delete
    );
    if !run.ok {
        let why = run.refused.or(run.error).unwrap_or_else(|| "the apply failed (see the job's log)".into());
        row.state = State::Failed(why);
    }
    row.links = links(session, project, &c.name, &name).await;
    row
}

/// Where to look at a preview: its domains, else its load balancer's and distributions' names.
async fn links(session: &Session, project: &Project, capsule: &str, env: &str) -> Vec<String> {
    let doc = match crate::ops::status::status(session, project, capsule, env).await {
        Ok(d) => d,
        Err(e) => return vec![format!("(links unavailable: {e})")],
    };
    let mut out = Vec::new();
    let str_of = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    for s in doc["sites"].as_array().into_iter().flatten() {
        let aliases: Vec<String> = s["aliases"].as_array().into_iter().flatten().filter_map(str_of).collect();
        match aliases.first() {
            Some(a) => out.push(format!("https://{a}")),
            None => out.extend(str_of(&s["domain_name"]).map(|d| format!("https://{d}"))),
        }
    }
    let mut lb_needed = false;
    for s in doc["services"].as_array().into_iter().flatten() {
        match str_of(&s["domain"]) {
            Some(d) => out.push(format!("https://{d}")),
            None => lb_needed = true,
        }
    }
    if lb_needed && let Some(dns) = str_of(&doc["load_balancer"]["dns_name"]) {
        out.push(format!("http://{dns}"));
    }
    out.dedup();
    out
}

/// Deletes `pr-<N>` of every capsule AWS has a preview record of (every preview has one from
/// before its first resource); a record whose capsule has no template here is reported.
async fn teardown(
    gh: &GitHub,
    select: &Selection,
    pr: &PullRequest,
    project: Project,
) -> anyhow::Result<(Vec<Row>, bool)> {
    let name = instance_name(pr.number);
    let session = Session::connect().await?;
    let records: Vec<Record> =
        preview::list_all(&session, &project).await?.into_iter().filter(|r| r.environment == name).collect();
    let project = project.with_previews(Some(&name)).map_err(anyhow::Error::msg)?;
    let picked = with_template(&project, select);
    let mut rows = Vec::new();
    // Every preview has a record from before its first resource until after its last.
    for r in &records {
        let row = |state| Row { capsule: r.capsule.clone(), state, links: vec![], unset: vec![] };
        let Some(i) = picked.iter().copied().find(|i| project.capsules[*i].name == r.capsule) else {
            if select.capsules.is_empty() || select.capsules.contains(&r.capsule) {
                rows.push(row(State::Failed(format!(
                    "`{}` has no preview template in this checkout, so its preview stays: run `capsule preview sweep` where it is declared",
                    r.capsule
                ))));
            }
            continue;
        };
        rows.push(row(match preview::destroy(&session, &project, i, &name).await {
            Ok(_) => State::Removed,
            Err(e) => State::Failed(e),
        }));
    }
    if let Err(e) = deactivate(gh, &name).await {
        warn(&format!("could not mark the GitHub deployments of {name} inactive: {e}"), &e);
    }
    let ok = rows.iter().all(|r| matches!(r.state, State::Removed));
    Ok((rows, ok))
}

/// A GitHub deployment of environment `pr-<N>` for the head commit, with a status that
/// carries the first link (GitHub shows "View deployment" on the pull request).
async fn record_deployment(gh: &GitHub, env: &Env, pr: &PullRequest, rows: &[Row]) -> Result<(), GitHubError> {
    let name = instance_name(pr.number);
    let path = gh.repo_path("/deployments");
    let body = json!({
        "ref": pr.head_sha,
        "environment": name,
        "description": format!("capsule preview of pull request #{}", pr.number),
        // Never merge the default branch in, and do not wait for this very job's check.
        "auto_merge": false,
        "required_contexts": [],
        "transient_environment": true,
        "production_environment": false,
    });
    let created = gh.request(Method::POST, &path, Some(&body)).await?;
    let deployment: serde_json::Value = created.json(&Method::POST, &path)?;
    let Some(id) = deployment.get("id").and_then(|i| i.as_u64()) else {
        return Err(GitHubError::GaveUp(format!("GitHub created no deployment: {}", created.message())));
    };
    let failed = rows.iter().any(|r| matches!(r.state, State::Failed(_)));
    let mut status = json!({
        "state": if failed { "failure" } else { "success" },
        "description": if failed { "capsule preview failed" } else { "capsule preview deployed" },
        "auto_inactive": true,
    });
    if let Some(url) = first_link(rows) {
        status["environment_url"] = json!(url);
    }
    if let Some(run) = env.run_url() {
        status["log_url"] = json!(run);
    }
    let path = gh.repo_path(&format!("/deployments/{id}/statuses"));
    gh.request(Method::POST, &path, Some(&status)).await?;
    Ok(())
}

/// Marks every deployment of environment `name` inactive.
async fn deactivate(gh: &GitHub, name: &str) -> Result<(), GitHubError> {
    let mut url = Some(gh.repo_path(&format!("/deployments?environment={name}&per_page=100")));
    let mut ids = Vec::new();
    while let Some(u) = url.take() {
        let r = gh.request(Method::GET, &u, None).await?;
        url = r.next_link();
        let page: Vec<serde_json::Value> = r.json(&Method::GET, &u)?;
        ids.extend(page.iter().filter_map(|d| d.get("id").and_then(|i| i.as_u64())));
    }
    for id in ids {
        let path = gh.repo_path(&format!("/deployments/{id}/statuses"));
        let body = json!({ "state": "inactive", "description": "capsule preview torn down" });
        gh.request(Method::POST, &path, Some(&body)).await?;
    }
    Ok(())
}

fn first_link(rows: &[Row]) -> Option<String> {
    rows.iter()
        .filter(|r| matches!(r.state, State::Deployed))
        .flat_map(|r| r.links.iter())
        .find(|l| l.starts_with("http"))
        .cloned()
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

/// The comment (and step summary) for the rows.
fn comment(heading: &str, name: &str, rows: &[Row], run_url: Option<&str>) -> String {
    let mut out = format!("## capsule preview\n\n{heading}\n");
    if !rows.is_empty() {
        out += "\n| Capsule | Preview | Links |\n|---|---|---|\n";
    }
    for r in rows {
        let state = match &r.state {
            State::Deployed => ":white_check_mark: deployed".to_string(),
            State::Failed(why) => format!(":x: failed: {}", one_line(why)),
            State::Refused(why) => format!(":no_entry: not deployed: {}", one_line(why)),
            State::Removed => ":wastebasket: deleted".to_string(),
        };
        out += &format!("| `{}` | {state} | {} |\n", r.capsule, r.links.join(" · "));
    }
    for r in rows.iter().filter(|r| !r.unset.is_empty()) {
        let cmds: Vec<String> =
            r.unset.iter().map(|s| format!("`capsule secrets set {} {name} {s}`", r.capsule)).collect();
        out += &format!(
            "\nThe preview's secrets start empty (the template has no `secrets_from`). Set them with {}.\n",
            cmds.join(", ")
        );
    }
    if let Some(url) = run_url {
        out += &format!("\n[Workflow run]({url})\n");
    }
    out
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

/// Keeps the pull request's one preview comment; a failure only warns.
async fn publish(gh: &GitHub, pr: &PullRequest, select: &Selection, markdown: &str) {
    let sticky = Sticky {
        marker: PREVIEW_MARKER.into(),
        key: super::selection_key(select),
        head: pr.head_sha.clone(),
        base: None,
        run_url: None,
    };
    let body = sticky.wrap(markdown, markdown);
    let matches = |b: &str| sticky.matches(b);
    let unchanged = |b: &str| sticky.unchanged(b, markdown);
    match gh.upsert_comment(pr.number, &matches, &unchanged, &body, true).await {
        Ok((o, _)) => eprintln!("Preview comment on pull request #{}: {o:?}.", pr.number),
        Err(e) => warn(&format!("could not update pull request #{}'s preview comment: {e}", pr.number), &e),
    }
}

fn warn(msg: &str, e: &GitHubError) {
    let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
    println!("::warning title=capsule::{}", super::comment::escape(&format!("{msg}{hint}")));
    eprintln!("warning: {msg}{hint}");
}

/// Whether pull request `number` of `repository` is closed; `None` when this process has no
/// GitHub token for that repository (the sweep then goes by age only).
pub async fn pull_request_closed(repository: &str, number: u64) -> Option<Result<bool, GitHubError>> {
    let env = Env::from_process().ok().filter(|e| e.token.is_some() && e.repository == repository)?;
    let gh = match GitHub::new(&env) {
        Ok(g) => g,
        Err(e) => return Some(Err(e)),
    };
    let path = gh.repo_path(&format!("/pulls/{number}"));
    let got = gh.request(Method::GET, &path, None).await;
    Some(got.and_then(|r| r.json::<serde_json::Value>(&Method::GET, &path)).map(|p| p["state"] == "closed"))
}
