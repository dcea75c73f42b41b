//! Embeds the SQL migrations (`sql/*.sql`, applied in name order) and the demo fixtures
//! (`fixtures/sftp/**`, `fixtures/sales/**`) so the binary is self-contained.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());

    println!("cargo:rerun-if-changed=sql");
    let mut sql: Vec<PathBuf> = std::fs::read_dir(root.join("sql"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "sql")).collect()
        })
        .unwrap_or_default();
    sql.sort();
    let mut code = String::from("pub const MIGRATIONS: &[(&str, &str)] = &[\n");
    for p in &sql {
        println!("cargo:rerun-if-changed={}", p.display());
        let name = p.file_stem().unwrap().to_string_lossy();
        writeln!(code, "    ({name:?}, include_str!({:?})),", p.display().to_string()).unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out.join("migrations.rs"), code).unwrap();

    let mut files = Vec::new();
    for sub in ["fixtures/sftp", "fixtures/sales"] {
        println!("cargo:rerun-if-changed={sub}");
        walk(&root.join(sub), &mut files);
    }
    files.sort();
    let mut code = String::from("pub const DEMO_FILES: &[(&str, &[u8])] = &[\n");
    for p in &files {
        let rel = p.strip_prefix(root.join("fixtures")).unwrap().to_string_lossy().replace('\\', "/");
        writeln!(code, "    ({rel:?}, include_bytes!({:?})),", p.display().to_string()).unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out.join("demo_files.rs"), code).unwrap();

    commit(&root);
}

/// `ALIPAY_RECON_COMMIT` for `--version`: the short commit hash, or "unknown commit" outside a git checkout. Rebuilt when HEAD or the branch it names moves.
fn commit(root: &Path) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(hash) => {
            for p in ["HEAD", "packed-refs"] {
                if let Some(path) = git(&["rev-parse", "--git-path", p]) {
                    println!("cargo:rerun-if-changed={}", root.join(path).display());
                }
            }
            if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
                if let Some(path) = git(&["rev-parse", "--git-path", &r]) {
                    println!("cargo:rerun-if-changed={}", root.join(path).display());
                }
            }
            // No "+dirty": the script does not rerun on every source edit, so it could be stale.
            format!("commit {hash}")
        }
        None => "unknown commit".to_string(),
    };
    println!("cargo:rustc-env=ALIPAY_RECON_COMMIT={commit}");
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        println!("cargo:rerun-if-changed={}", p.display());
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}
