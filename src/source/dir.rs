//! A [`FileSource`] over a local directory laid out exactly like Alipay's SFTP server: the remote path
//! `/download/<mid>/<date>/<name>` is `<root>/download/<mid>/<date>/<name>`. Used by the demo, by
//! tests and for offline reruns from a mirror.

use super::{DayLayout, FileSource, Listing, RemoteFile, SafeName};
use crate::config::FormatLayout;
use crate::domain::FileFormat;
use crate::sys::os::{part_path, rename_synced};
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use std::fs;
use std::path::{Path, PathBuf};

pub struct DirSource {
    root: PathBuf,
    merchant_id: String,
}

impl DirSource {
    pub fn new(root: impl Into<PathBuf>, merchant_id: &str) -> DirSource {
        DirSource { root: root.into(), merchant_id: merchant_id.to_string() }
    }

    fn local(&self, remote: &str) -> PathBuf {
        self.root.join(remote.trim_start_matches('/'))
    }
}

impl FileSource for DirSource {
    fn describe(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    fn list_day(&mut self, date: NaiveDate, layouts: &[(FileFormat, FormatLayout)]) -> Result<Listing> {
        let layout = DayLayout::new(&self.merchant_id, layouts)?;
        let mut listing = Listing::default();
        for dir in layout.dirs_for(date) {
            let local = self.local(&dir.path);
            let entries = match fs::read_dir(&local) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    listing.missing_dirs.push(dir.path.clone());
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("cannot list {}", local.display())),
            };
            let mut names = Vec::new();
            for entry in entries {
                let entry = entry.with_context(|| format!("cannot list {}", local.display()))?;
                // Links are followed; a broken one has no metadata.
                let meta = fs::metadata(entry.path()).ok();
                names.push((entry.file_name().to_string_lossy().into_owned(), meta));
            }
            names.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, meta) in names {
                let Some((kind, fdate, ccy)) = DayLayout::classify(&dir, &name, date) else { continue };
                let safe = match SafeName::parse(&name) {
                    Ok(s) => s,
                    Err(e) => {
                        listing.refused.push((name.clone(), e.to_string()));
                        continue;
                    }
                };
                let Some(meta) = meta.filter(|m| m.is_file()) else {
                    listing.not_files.push((name.clone(), super::NOT_A_FILE.to_string()));
                    continue;
                };
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs() as i64);
                listing.files.push(RemoteFile {
                    format: dir.format,
                    kind,
                    remote_path: format!("{}/{}", dir.path.trim_end_matches('/'), name),
                    name: safe,
                    size: meta.len(),
                    mtime,
                    date: fdate,
                    currency: ccy,
                });
            }
        }
        Ok(listing)
    }

    fn fetch(&mut self, file: &RemoteFile, dest: &Path) -> Result<()> {
        let src = self.local(&file.remote_path);
        let part = part_path(dest);
        // fs::copy copies inside the kernel (copy_file_range): a 200 MB day file never passes
        // through this process.
        let copied = fs::copy(&src, &part).with_context(|| {
            format!(
                "cannot copy {} to {}: check that it is readable, and free space and permissions of the archive folder",
                src.display(),
                part.display()
            )
        })?;
        if copied != file.size {
            let _ = fs::remove_file(&part);
            bail!(
                "{} changed while it was being copied ({} bytes listed, {copied} copied): run again",
                src.display(),
                file.size,
            );
        }
        fs::File::open(&part)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("cannot flush {} to disk: check the disk and free space", part.display()))?;
        rename_synced(&part, dest)
    }
}
