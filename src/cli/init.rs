//! `alipay-recon init [PATH]` — write the annotated example configuration to start from.

use crate::sys::exit::Outcome;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write it (default: the --config path).
    pub path: Option<PathBuf>,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let path = a.path.unwrap_or_else(|| g.config.clone());
    if path.exists() && !a.force {
        bail!("{} already exists: edit it, or pass --force to overwrite it with the example", path.display());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, crate::config::EXAMPLE).with_context(|| format!("cannot write {}", path.display()))?;
    outln!(
        "wrote {}: fill in the merchant id, SFTP account and host key, then run `alipay-recon doctor`",
        path.display()
    );
    Ok(Outcome::Clean)
}
