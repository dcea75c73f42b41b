//! `alipay-recon audit verify` — recompute the audit trail's hash chain and compare every stored
//! resolution with the entry that recorded it; names the first entry changed or removed (exit 1).
//! `alipay-recon audit export [--out FILE]` — the trail as CSV (stdout by default).

use crate::pipeline::Workspace;
use crate::resolve::audit;
use crate::sys::exit::Outcome;
use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Recompute the hash chain; name the first entry that was changed or removed (exit 1).
    Verify,
    /// Write the trail as CSV (seq, recorded_at, action, by, content, prev_hash, hash).
    Export {
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let ws = Workspace::open(g.load_config()?)?;
    match a.command {
        Command::Verify => {
            let v = audit::verify(&ws.conn)?;
            match v.broken {
                None => {
                    outln!("Audit trail intact: {} entries; head hash {}.", v.entries, v.head);
                    Ok(Outcome::Clean)
                }
                Some(problem) => {
                    outln!("Audit trail BROKEN: {problem}. Restore the database from a backup and compare; report who had write access to it.");
                    Ok(Outcome::Attention)
                }
            }
        }
        Command::Export { out } => {
            let csv = audit::export_csv(&ws.conn)?;
            match out {
                Some(p) => {
                    std::fs::write(&p, &csv)
                        .with_context(|| format!("cannot write {}: check the folder", p.display()))?;
                    outln!("Wrote the audit trail to {}.", p.display());
                }
                None => out!("{}", String::from_utf8_lossy(&csv)),
            }
            Ok(Outcome::Clean)
        }
    }
}
