//! Where a day's Alipay files come from. [`FileSource`] is the seam: the directory source (tests, the
//! demo, offline reruns from a mirror) and the SFTP source implement it with the same remote layout,
//! so everything downstream is identical. Sources only list and copy bytes; they never parse or store.

use crate::config::FormatLayout;
use crate::domain::{FileFormat, FileKind};
use anyhow::Result;
use chrono::NaiveDate;
use std::path::Path;

pub mod dir;
pub mod layout;
pub mod safe_name;
pub mod sftp;

pub use layout::{DayLayout, ExpectedDir};
pub use safe_name::{SafeName, UnsafeName};

/// One file on the source that belongs to the requested day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub format: FileFormat,
    pub kind: FileKind,
    /// Validated base name: safe to use as a local file name.
    pub name: SafeName,
    /// Full remote path (`/download/<mid>/<yyyymmdd>/<name>`), for messages and records.
    pub remote_path: String,
    pub size: u64,
    /// Modification time, seconds since the Unix epoch, when the source knows it.
    pub mtime: Option<i64>,
    /// The business date the file is for (from the name's `date` group, else the directory's date).
    pub date: NaiveDate,
    /// Currency from the name's `ccy` group, when the pattern has one.
    pub currency: Option<String>,
}

/// What a listing found: the day's files, plus names that matched no pattern or were refused.
#[derive(Debug, Default, Clone)]
pub struct Listing {
    pub files: Vec<RemoteFile>,
    /// Directories that did not exist (not an error: the day may not be there yet).
    pub missing_dirs: Vec<String>,
    /// Remote names refused as unsafe, with the reason (reported, never used as paths).
    pub refused: Vec<(String, String)>,
    /// Names that match a pattern but were modified too recently (still being written), with the
    /// reason: not fetched this time.
    pub unstable: Vec<(String, String)>,
    /// Names that match a pattern but are not regular files (a folder, a link to one, a broken
    /// link), with the reason: they make the day incomplete (contracts.md §2).
    pub not_files: Vec<(String, String)>,
}

/// Where the day's transaction files were looked for, one entry per folder: the source, the folder
/// (marked when it does not exist, as listed in `missing_dirs`) and the name pattern, e.g.
/// `dir:/srv/mirror/download/2188…/20261125 (no such folder), intl transaction files named like
/// `^ALIPAY_TRANSACTION_DETAIL_…$``. For messages about a day without a transaction file.
pub fn searched(cfg: &crate::config::Config, date: NaiveDate, missing_dirs: &[String]) -> Vec<String> {
    let root = match cfg.source.kind {
        crate::config::SourceKind::Dir => {
            format!("dir:{}", cfg.path(cfg.source.dir.as_deref().unwrap_or(Path::new("."))).display())
        }
        crate::config::SourceKind::Sftp => {
            cfg.active().sftp.as_ref().map(|s| format!("sftp://{}@{}:{}", s.user, s.host, s.port)).unwrap_or_default()
        }
    };
    let Ok(layout) = DayLayout::new(&cfg.active().merchant_id, &cfg.layouts_in_use()) else { return Vec::new() };
    let mut out = Vec::new();
    for dir in layout.dirs_for(date) {
        let missing = if missing_dirs.contains(&dir.path) { " (no such folder)" } else { "" };
        for (kind, re) in &dir.patterns {
            if *kind == FileKind::Transactions {
                out.push(format!("{root}{}{missing}, {} transaction files named like `{}`", dir.path, dir.format, re));
            }
        }
    }
    out
}

/// What to check when a day has no transaction file: the settings that decide where to look.
pub fn where_to_look_hint(cfg: &crate::config::Config) -> String {
    let place = match cfg.source.kind {
        crate::config::SourceKind::Dir => "`source.dir`".to_string(),
        crate::config::SourceKind::Sftp => format!("`environments.{}.sftp`", cfg.environment),
    };
    format!(
        "check {place}, `environments.{}.merchant_id` and `source.formats` (and any `[layouts]`) against where Alipay \
         puts the files",
        cfg.environment
    )
}

/// Why a matching name that is not a regular file was skipped.
pub const NOT_A_FILE: &str =
    "not a regular file (a folder, a link to one, or a broken link) where a file belongs: not fetched";

/// A source of Alipay files laid out like Alipay's SFTP server. `Send`: a day's next file is fetched
/// on a thread of its own while the one before it imports (`pipeline::import_day_with`).
pub trait FileSource: Send {
    /// Human description for logs and messages (`sftp://user@host:22`, `dir:/srv/mirror`). No secrets.
    fn describe(&self) -> String;

    /// Lists the files of business date `date` for the configured formats.
    fn list_day(&mut self, date: NaiveDate, layouts: &[(FileFormat, FormatLayout)]) -> Result<Listing>;

    /// Copies `file` to `dest` atomically (write `dest.part`, fsync, rename) and verifies its size.
    fn fetch(&mut self, file: &RemoteFile, dest: &Path) -> Result<()>;
}
