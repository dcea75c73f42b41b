use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn example_parses_and_is_true() {
    let c = Config::from_toml(EXAMPLE, "example", PathBuf::from("/etc/ar"), &[]).unwrap();
    assert_eq!(c.environment, "production");
    assert_eq!(c.active().merchant_id, "2188000000000001");
    assert_eq!(c.business.grace_minutes, 30);
    assert_eq!(c.path(&c.store.database), PathBuf::from("/etc/ar/data/alipay-recon.db"));
    assert_eq!(c.layouts[&FileFormat::Intl], FormatLayout::default_for(FileFormat::Intl));
}

#[test]
fn env_overrides_keys() {
    let e = env(&[
        ("ALIPAY_RECON__ENVIRONMENT", "sandbox"),
        ("ALIPAY_RECON__BUSINESS__GRACE_MINUTES", "45"),
        ("OTHER", "x"),
    ]);
    let c = Config::from_toml(EXAMPLE, "example", PathBuf::from("."), &e).unwrap();
    assert_eq!(c.environment, "sandbox");
    assert_eq!(c.active().merchant_id, "2188000000009999");
    assert_eq!(c.business.grace_minutes, 45);
}

#[test]
fn typo_names_file_and_key() {
    let text = EXAMPLE.replace("grace_minutes = 30", "grace_minuts = 30");
    let e = Config::from_toml(&text, "/etc/ar/config.toml", PathBuf::from("."), &[]).unwrap_err();
    let m = format!("{e:#}");
    assert!(m.contains("/etc/ar/config.toml") && m.contains("grace_minuts"), "{m}");
}

#[test]
fn typo_gives_the_line_and_the_nearest_key() {
    let text = EXAMPLE.replace("grace_minutes = 30", "grace_minuts = 30");
    let line = text.lines().position(|l| l.starts_with("grace_minuts")).unwrap() + 1;
    let m = format!("{:#}", Config::from_toml(&text, "/etc/ar/config.toml", PathBuf::from("."), &[]).unwrap_err());
    assert!(m.starts_with(&format!("/etc/ar/config.toml:{line}:1: ")), "{m}");
    assert!(m.contains(&format!("{line} | grace_minuts = 30")), "{m}");
    assert!(m.contains("did you mean `grace_minutes`?"), "{m}");
    // A key in a nested table, and a mistyped value of a closed set.
    let text = EXAMPLE.replacen("host = ", "hots = ", 1);
    let m = format!("{:#}", Config::from_toml(&text, "c.toml", PathBuf::from("."), &[]).unwrap_err());
    assert!(m.contains("did you mean `host`?") && m.contains(" | hots = "), "{m}");
    let text = EXAMPLE.replace("transport = \"file\"", "transport = \"fiel\"");
    let m = format!("{:#}", Config::from_toml(&text, "c.toml", PathBuf::from("."), &[]).unwrap_err());
    assert!(m.contains("did you mean `file`?") && m.contains(" | transport = \"fiel\""), "{m}");
    // Far from every key: no guess, but still the line.
    let text = EXAMPLE.replace("grace_minutes = 30", "grace_minutes = 30\ncolour = \"red\"");
    let m = format!("{:#}", Config::from_toml(&text, "c.toml", PathBuf::from("."), &[]).unwrap_err());
    assert!(m.contains("colour") && m.contains(" | colour = \"red\"") && !m.contains("did you mean"), "{m}");
}

#[test]
fn wrong_type_names_key_and_expectation() {
    let text = EXAMPLE.replace("grace_minutes = 30", "grace_minutes = \"thirty\"");
    let m = format!("{:#}", Config::from_toml(&text, "c.toml", PathBuf::from("."), &[]).unwrap_err());
    assert!(m.contains("business.grace_minutes") && m.contains("expected u32"), "{m}");
}

#[test]
fn unknown_environment_is_refused() {
    let text = EXAMPLE.replace("environment = \"production\"", "environment = \"prod\"");
    let m = format!("{:#}", Config::from_toml(&text, "c.toml", PathBuf::from("."), &[]).unwrap_err());
    assert!(m.contains("[environments.prod]") && m.contains("production"), "{m}");
}

#[test]
fn bad_zone_and_deadline_are_explained() {
    let text = EXAMPLE.replace("timezone = \"UTC+8\"", "timezone = \"Beijing\"");
    let m = format!("{:#}", Config::from_toml(&text, "c.toml", PathBuf::from("."), &[]).unwrap_err());
    assert!(m.contains("Beijing") && m.contains("UTC+8"), "{m}");
    let text = EXAMPLE.replace("file_deadline = \"18:00\"", "file_deadline = \"6pm\"");
    let m = format!("{:#}", Config::from_toml(&text, "c.toml", PathBuf::from("."), &[]).unwrap_err());
    assert!(m.contains("business.file_deadline") && m.contains("HH:MM"), "{m}");
}

#[test]
fn secrets_resolve_without_leaking() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "hunter2\n").unwrap();
    let r = SecretRef { env: None, file: Some("pw".into()) };
    let s = r.resolve("k", dir.path()).unwrap().unwrap();
    assert_eq!(s.expose(), "hunter2");
    assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    let missing = SecretRef { env: Some("ALIPAY_RECON_TEST_SURELY_UNSET".into()), file: None };
    let m = format!("{:#}", missing.resolve("environments.production.sftp.password", dir.path()).unwrap_err());
    assert!(m.contains("environments.production.sftp.password") && m.contains("ALIPAY_RECON_TEST_SURELY_UNSET"), "{m}");
}

#[test]
fn demo_config_is_self_contained() {
    let c = Config::demo(Path::new("/tmp/w"), Path::new("/tmp/f"));
    assert_eq!(c.source.kind, SourceKind::Dir);
    assert_eq!(c.source.formats.len(), 3);
}
