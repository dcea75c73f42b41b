//! `alipay-recon import --date D` — fetch the day's Alipay files from the configured source, archive
//! them and load them into SQLite. Idempotent: the same file twice changes nothing; a changed file is a
//! restatement. Before the file deadline, "not there yet" exits 3 so the scheduler retries.

use super::dates::parse_date;
use crate::pipeline::{self, DayImport, FileOutcome, Workspace};
use crate::sys::exit::Outcome;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Business date: YYYY-MM-DD, `today` or `yesterday` (in the business zone).
    #[arg(long)]
    pub date: String,
    /// Download files again even when one with the same name, size and mtime was already imported.
    #[arg(long)]
    pub refetch: bool,
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let cfg = g.load_config()?;
    let now = chrono::Utc::now();
    let date = parse_date(&a.date, &cfg.business.timezone, now)?;
    let mut ws = Workspace::open(cfg)?;
    ws.refetch = a.refetch;
    let _lock = crate::sys::lock::acquire(&crate::sys::lock::lock_dir(&ws.cfg), date, None)?;
    let mut source = pipeline::open_source(&ws.cfg)?;
    let (outcome, _) = pipeline::recorded(&mut ws, "import", Some(date), |ws, run_id| {
        let bar = super::progress::files_bar();
        let day = pipeline::import_day_observed(ws, source.as_mut(), date, now, Some(run_id), &mut |i, n, f| {
            bar.set_length(n as u64);
            bar.set_position(i as u64);
            bar.set_message(f.name.to_string());
        })?;
        bar.finish_and_clear();
        print_day(&day);
        judge(ws, &day, date, now)
    })?;
    Ok(outcome)
}

/// Prints one line per file and per problem.
pub fn print_day(day: &DayImport) {
    for (f, o) in &day.files {
        let what = match o {
            FileOutcome::Imported { rows, rejects, warnings, .. } => {
                format!("imported  {rows} rows, {rejects} rejected lines, {warnings} warnings")
            }
            FileOutcome::Restated { version, rows, .. } => {
                format!("restated  version {version}, {rows} rows (replaces the earlier version)")
            }
            FileOutcome::Unchanged { .. } => "unchanged (already imported)".to_string(),
            FileOutcome::Deferred { reason } => format!("deferred  {reason}"),
        };
        outln!("{:<48} {:<18} {what}", f.name.as_str(), f.kind.as_str());
    }
    for (name, why) in &day.refused {
        outln!("refused   {name:?}: {why}");
    }
    for (name, why) in &day.unstable {
        outln!("{name:<48} {:<18} waiting   {why}", "");
    }
    for (name, why) in &day.skipped {
        outln!("{name:<48} {:<18} not read  {why}", "");
    }
}

/// Exit 3 before the deadline when the day's transaction file is missing or incomplete; after it, a
/// missing file needs attention (1).
fn judge(
    ws: &Workspace,
    day: &DayImport,
    date: chrono::NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Outcome, ())> {
    if let Some(e) = pipeline::not_ready(ws, day, date, now)? {
        return Err(e.into());
    }
    let incomplete = day.incomplete();
    if !incomplete.is_empty() {
        errln!(
            "warning: {date} is incomplete after the deadline: {} matching file(s) not read ({}); the reconciliation \
             reports each as FILE_INTEGRITY and keeps the day's sales pending",
            incomplete.len(),
            incomplete.iter().map(|(n, _)| n.escape_debug().to_string()).collect::<Vec<_>>().join(", ")
        );
        return Ok((Outcome::Attention, ()));
    }
    if !(day.has_transactions() && day.deferred() == 0) {
        errln!(
            "warning: no complete transaction file for {date} after the deadline (searched {}): reconciliation will \
             report it; {}",
            day.searched.join("; "),
            crate::source::where_to_look_hint(&ws.cfg)
        );
        return Ok((Outcome::Attention, ()));
    }
    let problems = day.refused.len()
        + day
            .files
            .iter()
            .filter(|(_, o)| matches!(o, FileOutcome::Imported { rejects, warnings, .. } if rejects + warnings > 0))
            .count();
    Ok((if problems > 0 { Outcome::Attention } else { Outcome::Clean }, ()))
}
