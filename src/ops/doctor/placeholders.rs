//! The `doctor` check for values `alipay-recon init` wrote that nobody replaced: the example's merchant
//! id, SFTP user and host-key fingerprint (and its Client ID when the payment module is on), plus any
//! value that reads like a placeholder (`your-…`, `REPLACE…`, `example`). The example's SFTP host is
//! Alipay's documented one (`isftp.alipay.com`), so it is only flagged if it reads like a placeholder.

use super::{Report, Status};
use crate::config::{Config, SourceKind, EXAMPLE};
use std::path::PathBuf;

/// One line: FAIL naming each key still holding a placeholder, or OK.
pub fn placeholders(cfg: &Config, r: &mut Report) {
    let found = find(cfg);
    if found.is_empty() {
        r.push("placeholders", Status::Ok, "no value left from the example `init` writes");
    } else {
        r.push(
            "placeholders",
            Status::Fail,
            format!(
                "{}: replace them with what Alipay gave you (the host key check prints the fingerprint to pin)",
                found.join("; ")
            ),
        );
    }
}

/// `key is "value"` for each placeholder in the active environment.
pub fn find(cfg: &Config) -> Vec<String> {
    let example = Config::from_toml(EXAMPLE, "example", PathBuf::from("."), &[]).expect("the example parses");
    let name = &cfg.environment;
    let env = cfg.active();
    let ex = example.environments.get(name);
    let mut found = Vec::new();
    let mut check = |key: String, value: &str, example_value: Option<&str>| {
        if example_value == Some(value) || looks_like_placeholder(value) {
            found.push(format!("{key} is still {value:?}"));
        }
    };
    check(format!("environments.{name}.merchant_id"), &env.merchant_id, ex.map(|e| e.merchant_id.as_str()));
    if cfg.payment.enabled {
        if let Some(id) = &env.client_id {
            check(format!("environments.{name}.client_id"), id, ex.and_then(|e| e.client_id.as_deref()));
        }
    }
    if cfg.source.kind == SourceKind::Sftp {
        if let Some(s) = &env.sftp {
            let ex = ex.and_then(|e| e.sftp.as_ref());
            // Only a placeholder-looking host: the example's is Alipay's real one.
            check(format!("environments.{name}.sftp.host"), &s.host, None);
            check(format!("environments.{name}.sftp.user"), &s.user, ex.map(|e| e.user.as_str()));
            for fp in &s.host_key_sha256 {
                let ex_fp = ex.and_then(|e| e.host_key_sha256.iter().find(|x| *x == fp)).map(String::as_str);
                check(format!("environments.{name}.sftp.host_key_sha256"), fp, ex_fp);
            }
        }
    }
    found
}

fn looks_like_placeholder(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    ["replace", "your-", "your_", "example.", "changeme", "client-id"].iter().any(|m| v.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_env(text: &str, env: &[(&str, &str)]) -> Config {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_toml(text, "c.toml", PathBuf::from("."), &env).unwrap()
    }

    #[test]
    fn the_example_as_init_writes_it_is_flagged_key_by_key() {
        let found = find(&with_env(EXAMPLE, &[])).join("\n");
        for key in [
            "environments.production.merchant_id is still \"2188000000000001\"",
            "environments.production.sftp.user is still \"your-sftp-user\"",
            "environments.production.sftp.host_key_sha256 is still \"SHA256:REPLACE-WITH-THE-FINGERPRINT-DOCTOR-PRINTS\"",
        ] {
            assert!(found.contains(key), "{key} not in:\n{found}");
        }
        assert!(!found.contains("sftp.host is"), "Alipay's real host is no placeholder:\n{found}");
        assert!(!found.contains("client_id"), "payment is off in the example:\n{found}");
        let on = find(&with_env(EXAMPLE, &[("ALIPAY_RECON__PAYMENT__ENABLED", "true")])).join("\n");
        assert!(on.contains("environments.production.client_id is still \"PRODUCTION-CLIENT-ID\""), "{on}");
        let mut r = Report::default();
        placeholders(&with_env(EXAMPLE, &[]), &mut r);
        assert_eq!((r.failed(), r.checks[0].name), (1, "placeholders"));
    }

    #[test]
    fn filled_in_values_pass_and_a_placeholder_host_does_not() {
        let filled = EXAMPLE
            .replacen("merchant_id = \"2188000000000001\"", "merchant_id = \"2188123412341234\"", 1)
            .replace("your-sftp-user", "hk_store_recon")
            .replacen(
                "SHA256:REPLACE-WITH-THE-FINGERPRINT-DOCTOR-PRINTS",
                "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
                1,
            );
        assert_eq!(find(&with_env(&filled, &[])), Vec::<String>::new());
        let mut r = Report::default();
        placeholders(&with_env(&filled, &[]), &mut r);
        assert_eq!((r.failed(), r.checks[0].status), (0, Status::Ok));
        let host = filled.replacen("host = \"isftp.alipay.com\"", "host = \"sftp.example.com\"", 1);
        assert_eq!(
            find(&with_env(&host, &[])),
            vec!["environments.production.sftp.host is still \"sftp.example.com\""]
        );
        // A folder source needs no SFTP account: only the merchant id counts.
        let dir = EXAMPLE.replace("kind = \"sftp\"", "kind = \"dir\"\ndir = \"/srv/mirror\"");
        assert_eq!(
            find(&with_env(&dir, &[])),
            vec!["environments.production.merchant_id is still \"2188000000000001\""]
        );
    }
}
