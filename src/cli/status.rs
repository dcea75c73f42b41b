//! `alipay-recon status [--from D --to D]` — what is loaded for which dates: files per kind with rows,
//! rejected lines, warnings and versions, and local sales records per day.

use super::dates::parse_date;
use crate::pipeline::Workspace;
use crate::sys::exit::Outcome;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// First date (default: 7 days before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// Last date (default: today in the business zone).
    #[arg(long)]
    pub to: Option<String>,
    /// Also list superseded versions of restated files.
    #[arg(long)]
    pub all_versions: bool,
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let cfg = g.load_config()?;
    let now = chrono::Utc::now();
    let zone = cfg.business.timezone;
    let to = match &a.to {
        Some(t) => parse_date(t, &zone, now)?,
        None => parse_date("today", &zone, now)?,
    };
    let from = match &a.from {
        Some(f) => parse_date(f, &zone, now)?,
        None => to - chrono::Days::new(7),
    };
    let ws = Workspace::open(cfg)?;
    let files = crate::store::files::list(&ws.conn, from, to, !a.all_versions)?;
    let local = crate::store::local::local_days(&ws.conn, from, to)?;
    let mut warnings = 0;
    let mut shown = 0;
    for d in from.iter_days().take_while(|d| *d <= to) {
        let ds = d.to_string();
        let day_files: Vec<_> = files.iter().filter(|f| f.business_date == ds).collect();
        let loc = local.iter().find(|l| l.date == ds);
        if day_files.is_empty() && loc.is_none() {
            continue;
        }
        shown += 1;
        outln!("{ds}");
        match loc {
            Some(l) => {
                outln!("  local sales: {} records ({} UNKNOWN, {} conflicting)", l.records, l.unknown, l.conflicts)
            }
            None => outln!("  local sales: none"),
        }
        if day_files.is_empty() {
            outln!("  alipay files: none imported");
        }
        for f in day_files {
            let mut notes = Vec::new();
            if f.reject_count > 0 {
                notes.push(format!("{} rejected lines", f.reject_count));
            }
            if f.warning_count > 0 {
                notes.push(format!("{} warnings", f.warning_count));
            }
            if f.truncated {
                notes.push("INCOMPLETE".into());
            }
            if f.version > 1 {
                notes.push(format!("version {}", f.version));
            }
            if !f.current {
                notes.push("superseded".into());
            }
            warnings += (f.reject_count + f.warning_count) as usize + f.truncated as usize;
            outln!(
                "  {:<46} {:<8} {:<18} {:>7} rows  {:<9} {}",
                f.name,
                f.format,
                f.kind,
                f.row_count,
                f.encoding,
                notes.join(", ")
            );
        }
    }
    if shown == 0 {
        // Nothing in range is a question, not an answer: say which range, and what is loaded instead.
        let loaded = crate::store::local::loaded_dates(&ws.conn)?;
        outln!("nothing loaded from {from} to {to}.");
        match (loaded.first(), loaded.last()) {
            (Some(first), Some(last)) => {
                let list = if loaded.len() <= 10 { format!(": {}", loaded.join(", ")) } else { String::new() };
                outln!("loaded: {} dates from {first} to {last}{list}", loaded.len());
                outln!("show them: alipay-recon status --from {first} --to {last}");
            }
            _ => outln!("loaded: nothing yet (alipay-recon import-sales FILE, alipay-recon run --date D)"),
        }
    }
    Ok(if warnings > 0 { Outcome::Attention } else { Outcome::Clean })
}
