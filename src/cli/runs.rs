//! `alipay-recon runs [--limit N]` — the run history: who ran what, when, with which arguments, the
//! outcome and the report path.

use crate::pipeline::Workspace;
use crate::sys::exit::Outcome;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 30)]
    pub limit: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let ws = Workspace::open(g.load_config()?)?;
    let runs = crate::store::runs::list(&ws.conn, a.limit)?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(Outcome::Clean);
    }
    outln!(
        "{:>5}  {:<20}  {:<12} {:<10} {:<10} {:>4}  {:<14} args / message",
        "run",
        "started (UTC)",
        "command",
        "date",
        "outcome",
        "exit",
        "user@host"
    );
    for r in runs {
        let args: Vec<String> = serde_json::from_str(&r.args).unwrap_or_default();
        outln!(
            "{:>5}  {:<20}  {:<12} {:<10} {:<10} {:>4}  {:<14} {}{}{}",
            r.id,
            r.started_at,
            r.command,
            r.business_date.as_deref().unwrap_or("-"),
            r.outcome,
            r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            format!("{}@{}", r.user_name, r.host),
            args.join(" "),
            r.message.map(|m| format!(" — {m}")).unwrap_or_default(),
            r.report_path.map(|p| format!(" → {p}")).unwrap_or_default()
        );
    }
    Ok(Outcome::Clean)
}
