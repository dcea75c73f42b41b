//! `ALIPAY_RECON__SECTION__KEY=value` overrides one key of the TOML tree before it is typed.
//! Values are read as TOML when they parse as such (numbers, booleans, arrays), else as strings.

use super::ENV_PREFIX;

/// Applies overrides; returns the names of the variables applied (names only: values may be secret).
pub fn apply(root: &mut toml::Value, env: &[(String, String)]) -> Result<Vec<String>, String> {
    let mut applied = Vec::new();
    let mut vars: Vec<_> = env.iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
    vars.sort();
    for (name, raw) in vars {
        let path: Vec<String> = name[ENV_PREFIX.len()..].split("__").map(|s| s.to_ascii_lowercase()).collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(format!("environment variable {name} has an empty key segment"));
        }
        let value = parse_value(raw);
        let mut cur = &mut *root;
        for (i, seg) in path.iter().enumerate() {
            let table = cur
                .as_table_mut()
                .ok_or_else(|| format!("environment variable {name}: `{}` is not a table", path[..i].join(".")))?;
            if i == path.len() - 1 {
                table.insert(seg.clone(), value.clone());
                break;
            }
            cur = table.entry(seg.clone()).or_insert_with(|| toml::Value::Table(Default::default()));
        }
        applied.push(name.clone());
    }
    Ok(applied)
}

fn parse_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}
