//! `alipay-recon import-sales FILE…` — load local sales records (sales-v1 CSV, or a POS export through
//! `[sales.mapping]`). Bad rows are rejected with file, line and reason; good rows load. Snapshot
//! semantics: a later file replaces earlier versions of the same key; the same file twice changes nothing.

use crate::pipeline::{self, Workspace};
use crate::sys::exit::Outcome;
use anyhow::Result;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sales files, imported in the order given.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let cfg = g.load_config()?;
    let mut ws = Workspace::open(cfg)?;
    let (outcome, _) = pipeline::recorded(&mut ws, "import-sales", None, |ws, run_id| {
        let mut attention = false;
        for path in &a.files {
            let (parsed, res) = pipeline::import_sales(ws, path, Some(run_id))?;
            if !res.new {
                outln!("{}: unchanged (this file was imported before)", path.display());
                continue;
            }
            outln!(
                "{}: {} records loaded, {} rejected, {} conflicting{}",
                path.display(),
                res.loaded,
                parsed.rejects.len(),
                parsed.conflict_count(),
                if res.ledger_kept > 0 {
                    format!(", {} kept from the payment ledger", res.ledger_kept)
                } else {
                    String::new()
                }
            );
            for r in &parsed.rejects {
                outln!(
                    "  rejected line {}{}: {}",
                    r.line,
                    r.field.as_deref().map(|f| format!(" ({f})")).unwrap_or_default(),
                    r.reason
                );
            }
            attention |= !parsed.rejects.is_empty() || parsed.conflict_count() > 0;
        }
        Ok((if attention { Outcome::Attention } else { Outcome::Clean }, ()))
    })?;
    Ok(outcome)
}
