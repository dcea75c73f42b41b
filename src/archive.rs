//! The content-addressed archive: every imported file's bytes under `<archive>/sha256/<ab>/<hash>`,
//! written before the import transaction so the database never refers to bytes we do not keep.
//! Alipay deletes files after 7 days; this folder is the long-term copy that offline reruns read.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

pub struct Archive {
    root: PathBuf,
}

impl Archive {
    pub fn new(root: impl Into<PathBuf>) -> Archive {
        Archive { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stores `bytes` (idempotent) and returns its sha256 and the path relative to the archive root.
    pub fn put(&self, bytes: &[u8]) -> Result<(String, String)> {
        self.put_hashed(bytes, sha256_hex(bytes))
    }

    /// [`Archive::put`] when the caller already has the bytes' sha256 (lowercase hex): a day file is
    /// not hashed twice.
    pub fn put_hashed(&self, bytes: &[u8], hash: String) -> Result<(String, String)> {
        self.put_from(bytes, hash, None)
    }

    /// [`Archive::put_hashed`] for bytes that are also the flushed file `staged` (a fetched download):
    /// the entry is a hard link to it when both are on one filesystem, so a 200 MB day file is not
    /// written and flushed a second time; otherwise (or if linking fails) the bytes are written.
    pub fn put_linked(&self, bytes: &[u8], hash: String, staged: &Path) -> Result<(String, String)> {
        self.put_from(bytes, hash, Some(staged))
    }

    fn put_from(&self, bytes: &[u8], hash: String, staged: Option<&Path>) -> Result<(String, String)> {
        debug_assert_eq!(hash, sha256_hex(bytes));
        let rel = format!("sha256/{}/{}", &hash[..2], hash);
        let path = self.root.join(&rel);
        if path.exists() && fs::metadata(&path).map(|m| m.len() == bytes.len() as u64).unwrap_or(false) {
            return Ok((hash, rel));
        }
        let dir = path.parent().expect("archive path has a parent");
        fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create archive folder {}: check the store.archive_dir setting and permissions",
                dir.display()
            )
        })?;
        if let Some(staged) = staged {
            // Linked under a temporary name and renamed: the entry appears whole or not at all, also
            // over a damaged entry of the wrong size.
            let part = crate::sys::os::part_path(&path);
            let _ = fs::remove_file(&part);
            let linked = fs::hard_link(staged, &part).is_ok()
                && fs::metadata(&part).map(|m| m.len() == bytes.len() as u64).unwrap_or(false);
            if linked {
                crate::sys::os::rename_synced(&part, &path)?;
                return Ok((hash, rel));
            }
            let _ = fs::remove_file(&part);
        }
        crate::sys::os::write_atomically(&path, bytes)?;
        Ok((hash, rel))
    }

    /// Reads an archived file back, verifying its hash.
    pub fn get(&self, rel: &str) -> Result<Vec<u8>> {
        let path = self.root.join(rel);
        let bytes = fs::read(&path).with_context(|| {
            format!("archived file {} is missing: the archive folder was moved or pruned", path.display())
        })?;
        let want = rel.rsplit('/').next().unwrap_or_default();
        let got = sha256_hex(&bytes);
        anyhow::ensure!(
            got == want,
            "archived file {} is corrupt (sha256 {got}): restore it from a backup",
            path.display()
        );
        Ok(bytes)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_idempotent_and_verified() {
        let d = tempfile::tempdir().unwrap();
        let a = Archive::new(d.path());
        let (h1, r1) = a.put(b"hello").unwrap();
        let (h2, r2) = a.put(b"hello").unwrap();
        assert_eq!((h1.clone(), r1.clone()), (h2, r2));
        assert_eq!(a.get(&r1).unwrap(), b"hello");
        std::fs::write(d.path().join(&r1), b"hellO").unwrap();
        assert!(a.get(&r1).is_err());
    }

    /// A fetched file is linked into the archive (the same inode: no second copy); without a file to
    /// link (or across filesystems) the bytes are written instead.
    #[test]
    fn a_staged_file_is_linked_and_a_missing_one_written() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let a = Archive::new(d.path().join("archive"));
        let staged = d.path().join("day.csv");
        std::fs::write(&staged, b"day file").unwrap();
        let (h, rel) = a.put_linked(b"day file", sha256_hex(b"day file"), &staged).unwrap();
        let entry = d.path().join("archive").join(&rel);
        assert_eq!(std::fs::metadata(&entry).unwrap().ino(), std::fs::metadata(&staged).unwrap().ino());
        std::fs::remove_file(&staged).unwrap();
        assert_eq!(a.get(&rel).unwrap(), b"day file", "the entry outlives the staged name");
        assert!(rel.ends_with(&h));

        let gone = d.path().join("gone.csv");
        let (_, rel2) = a.put_linked(b"other", sha256_hex(b"other"), &gone).unwrap();
        assert_eq!(a.get(&rel2).unwrap(), b"other");
        assert!(!crate::sys::os::part_path(&d.path().join("archive").join(&rel2)).exists());
    }
}
