//! The binary starts, prints help and refuses bad input with the contract's exit codes.

use crate::harness::Workspace;

#[test]
fn help_lists_commands() {
    let w = Workspace::new();
    let r = w.run(&["--help"]).expect_code(0);
    assert!(r.stdout.contains("alipay-recon"), "{}", r.stdout);
}

#[test]
fn unknown_command_is_a_usage_error() {
    let w = Workspace::new();
    let r = w.run(&["frobnicate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn help_lists_global_options_apart() {
    let w = Workspace::new();
    for args in [&["--help"][..], &["run", "--help"][..]] {
        let r = w.run(args).expect_code(0);
        let (own, global) = r.stdout.split_once("Global options:").unwrap_or_else(|| panic!("{args:?}: {}", r.stdout));
        assert!(global.contains("--config") && global.contains("--log-format"), "{}", r.stdout);
        assert!(!own.contains("--config"), "--config listed with the command's own options:\n{}", r.stdout);
    }
}

#[test]
fn a_flag_the_command_ignores_is_refused() {
    let w = Workspace::new();
    for flag in ["--refetch", "--offline"] {
        let r = w.run(&["reconcile", "--date", "2026-11-24", flag]);
        assert_eq!(r.code, 2, "{flag}: {}", r.stderr);
        assert!(r.stderr.contains(&format!("unexpected argument '{flag}'")), "{}", r.stderr);
    }
}

#[test]
fn sqlite_allocates_through_the_process_allocator() {
    // store::memory::configure, called first thing in main (a 20% faster import): if a change made it
    // run after SQLite's first use, SQLite would refuse it and fall back to its defaults.
    let mut w = Workspace::new();
    w.set_env("RUST_LOG", "alipay_recon=debug");
    let r = w.run(&["demo"]).expect_code(1);
    let line = r.stderr.lines().find(|l| l.contains("sqlite memory")).unwrap_or_else(|| panic!("{}", r.stderr));
    assert!(line.contains(r#""allocator":"process""#), "{line}");
}

#[test]
fn version_names_the_commit() {
    let w = Workspace::new();
    let r = w.run(&["--version"]).expect_code(0);
    assert!(r.stdout.starts_with(&format!("alipay-recon {} (", env!("CARGO_PKG_VERSION"))), "{}", r.stdout);
    assert!(r.stdout.contains("commit "), "{}", r.stdout);
}

#[test]
fn status_with_nothing_in_range_names_the_range_and_the_loaded_dates() {
    let w = Workspace::new();
    w.run(&["demo"]).expect_code(1);
    let cfg = w.file("alipay-recon-demo/alipay-recon.toml");
    let r =
        w.run(&["-c", cfg.to_str().unwrap(), "status", "--from", "2026-01-01", "--to", "2026-01-07"]).expect_code(0);
    assert!(r.stdout.contains("nothing loaded from 2026-01-01 to 2026-01-07"), "{}", r.stdout);
    assert!(r.stdout.contains("loaded: 2 dates from 2026-11-24 to 2026-11-25"), "{}", r.stdout);
    assert!(r.stdout.contains("status --from 2026-11-24 --to 2026-11-25"), "{}", r.stdout);
}

#[test]
fn a_mistyped_config_key_names_the_line_and_the_nearest_key() {
    let w = Workspace::new();
    w.run(&["init", "alipay-recon.toml"]).expect_code(0);
    let text = std::fs::read_to_string(w.file("alipay-recon.toml")).unwrap();
    let line = text.lines().position(|l| l.starts_with("grace_minutes = ")).unwrap() + 1;
    w.write("alipay-recon.toml", text.replacen("grace_minutes = ", "grace_minuts = ", 1));
    let r = w.run(&["status"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("alipay-recon.toml:{line}:1: unknown field `grace_minuts`")), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `grace_minutes`?"), "{}", r.stderr);
}

#[test]
fn doctor_flags_the_placeholders_init_writes() {
    let mut w = Workspace::new();
    w.run(&["init", "alipay-recon.toml"]).expect_code(0);
    // A closed local port instead of Alipay's host: no network, the SFTP checks fail fast.
    w.set_env("ALIPAY_RECON__ENVIRONMENTS__PRODUCTION__SFTP__HOST", "127.0.0.1");
    w.set_env("ALIPAY_RECON__ENVIRONMENTS__PRODUCTION__SFTP__PORT", "1");
    let r = w.run(&["doctor", "--date", "2026-11-24"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let line =
        r.stdout.lines().find(|l| l.starts_with("[FAIL] placeholders: ")).unwrap_or_else(|| panic!("{}", r.stdout));
    for key in [
        "merchant_id is still",
        "sftp.user is still \"your-sftp-user\"",
        "sftp.host_key_sha256 is still \"SHA256:REPLACE",
    ] {
        assert!(line.contains(&format!("environments.production.{key}")), "{key}: {line}");
    }
}
