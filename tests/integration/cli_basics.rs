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
