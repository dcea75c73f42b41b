//! Remote file names are outside input: they become local paths only through [`SafeName`].

use std::fmt;

/// A single path component that is safe as a local file name on Unix and Windows.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SafeName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("remote file name {shown} refused: {reason}")]
pub struct UnsafeName {
    pub shown: String,
    pub reason: &'static str,
}

impl SafeName {
    pub fn parse(name: &str) -> Result<SafeName, UnsafeName> {
        let shown = format!("{:?}", name.chars().take(80).collect::<String>());
        let refuse = |reason| Err(UnsafeName { shown: shown.clone(), reason });
        if name.is_empty() {
            return refuse("it is empty");
        }
        if name.len() > 200 {
            return refuse("it is longer than 200 bytes");
        }
        if name == "." || name == ".." {
            return refuse("it names a directory");
        }
        if name.contains('/') || name.contains('\\') {
            return refuse("it contains a path separator");
        }
        if name.contains("..") {
            return refuse("it contains '..'");
        }
        if name.chars().any(|c| c.is_control()) {
            return refuse("it contains control characters");
        }
        if name.starts_with('.') || name.starts_with('-') || name.starts_with(' ') {
            return refuse("it starts with '.', '-' or a space");
        }
        if name.chars().any(|c| matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|')) {
            return refuse("it contains a character not allowed in file names");
        }
        Ok(SafeName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SafeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SafeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "x\n.csv",
            "x\u{1b}[31m",
            ".hidden",
            "-rf",
            "a..b",
            "a:b",
            &"x".repeat(201),
        ] {
            assert!(SafeName::parse(bad).is_err(), "{bad:?} should be refused");
        }
        for good in [
            "ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv",
            "2088123412341234_transaction_20261125.txt",
            "transactionItems_20261125_001.csv",
        ] {
            assert_eq!(SafeName::parse(good).unwrap().as_str(), good);
        }
    }
}
