//! Where a command's plan or apply document goes: stdout or `--out FILE`, in the format
//! asked for, coloured only on a terminal. The rendering itself is `render`'s; this module
//! decides nothing about a plan and calls no AWS.

use std::io::IsTerminal;
use std::path::Path;

use clap::ValueEnum;

use crate::plan::Plan;
use crate::render;

/// How a plan or apply document is written (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Markdown,
    Json,
}

/// How `backup` and `restore` report (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Colour only for a terminal, and only when `NO_COLOR` is unset or empty.
pub fn color_for(out: Option<&Path>) -> bool {
    out.is_none() && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes `plan` in `format` to `out` (then its summary line to stderr), else to stdout.
pub fn emit(plan: &Plan, format: PlanFormat, out: Option<&Path>) -> anyhow::Result<()> {
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
