//! Config errors an operator can act on: where in the file (line and column, with the line quoted) and,
//! for a mistyped key or value, the nearest valid one ("did you mean …").

use serde::de::DeserializeOwned;

/// `origin:line:column: message`, the offending line quoted, and a "did you mean" when `message` names
/// an unknown key or value close to a valid one. `T` is deserialized from `text` itself (not from the
/// parsed value) only to find where the error is; without a position (the error came from an
/// environment override, say) the message is returned with the origin alone.
pub fn explain<T: DeserializeOwned>(text: &str, origin: &str, message: &str) -> String {
    // toml puts the table on a line of its own ("…\nin `business`"): keep the first line whole.
    let message = message.replace("\nin `", " in `");
    let message = message.as_str();
    let mut out = match toml::from_str::<T>(text).err().and_then(|e| e.span()) {
        Some(span) => {
            let start = span.start.min(text.len());
            let line_no = text[..start].matches('\n').count() + 1;
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let column = text[line_start..start].chars().count() + 1;
            let line = text[line_start..].lines().next().unwrap_or("");
            format!("{origin}:{line_no}:{column}: {message}\n  {line_no} | {line}")
        }
        None => format!("{origin}: {message}"),
    };
    if let Some(hint) = did_you_mean(message) {
        out.push_str(&format!("\n  did you mean `{hint}`?"));
    }
    out
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant …"): the expected
/// name nearest to `x`, when it is near enough to be a typo.
pub fn did_you_mean(message: &str) -> Option<String> {
    let rest = ["unknown field `", "unknown variant `"].iter().find_map(|p| message.split_once(p).map(|(_, r)| r))?;
    let (wrong, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let wrong_l = wrong.to_lowercase();
    expected
        .into_iter()
        .map(|c| (distance(&wrong_l, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Levenshtein distance (insertions, deletions, substitutions), by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_expected_name_or_none() {
        let m = "unknown field `grace_minuts`, expected one of `timezone`, `grace_minutes`, `file_deadline`";
        assert_eq!(did_you_mean(m).as_deref(), Some("grace_minutes"));
        assert_eq!(did_you_mean("unknown variant `smpt`, expected `smtp` or `file`").as_deref(), Some("smtp"));
        assert_eq!(did_you_mean("unknown field `Host`, expected `host`").as_deref(), Some("host"));
        assert_eq!(did_you_mean("unknown field `colour`, expected one of `timezone`, `grace_minutes`"), None);
        assert_eq!(did_you_mean("invalid type: string \"x\", expected u32"), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
