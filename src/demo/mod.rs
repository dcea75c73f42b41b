//! The zero-setup demo: the bundled fixtures (Alipay files laid out like the SFTP server, and local
//! sales CSVs) are embedded in the binary and written to a work folder, so `alipay-recon demo` runs the
//! whole chain anywhere with no server and no config file. `gen` makes seeded synthetic days (for trials
//! and benchmarks).

use anyhow::{Context, Result};
use std::path::Path;

pub mod gen;

include!(concat!(env!("OUT_DIR"), "/demo_files.rs"));

/// Writes the embedded fixtures under `dir` (`dir/sftp/…`, `dir/sales/…`), replacing older copies.
pub fn materialize(dir: &Path) -> Result<()> {
    for (rel, bytes) in DEMO_FILES {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}
