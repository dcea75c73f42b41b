//! alipay-recon: proves that every Alipay barcode payment a merchant took is money Alipay settles, and
//! says exactly which ones are not.
//!
//! The data path, one module each (see ARCHITECTURE.md):
//! `source` (where the day's files come from: a folder or Alipay's SFTP server) → `archive` (the
//! content-addressed long-term copy) → `formats` (pure parsers of Alipay's layouts) and `sales` (pure
//! parser of local sales CSVs) → `store` (SQLite) → `reconcile` (the matching engine) → `report`
//! (the report folder) → `notify` (email). `pipeline` drives them; `cli` is a thin layer over it.
//! `domain` holds the shared vocabulary (money, currencies, zones) and depends on nothing.

/// `print!` for command output: a closed stdout (`| head`) ends the output, not the command ([`cli::out`]).
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::out::stdout(format_args!($($t)*), false) };
}
/// `println!` for command output: a closed stdout (`| head`) ends the output, not the command ([`cli::out`]).
macro_rules! outln {
    () => { $crate::cli::out::stdout(format_args!(""), true) };
    ($($t:tt)*) => { $crate::cli::out::stdout(format_args!($($t)*), true) };
}
/// `eprintln!` that never panics on a closed stderr ([`cli::out`]).
macro_rules! errln {
    ($($t:tt)*) => { $crate::cli::out::stderr(format_args!($($t)*), true) };
}

// The data path, in order.
pub mod archive;
pub mod formats;
pub mod notify;
pub mod pipeline;
pub mod reconcile;
pub mod report;
pub mod sales;
pub mod source;
pub mod store;

// Shared vocabulary and settings.
pub mod config;
pub mod domain;

// The other users' modules: cashiers (payment), accountants (resolve).
pub mod payment;
pub mod resolve;

// Beside the data path: operators' services, the demo and synthetic days, process plumbing, the CLI.
pub mod cli;
pub mod demo;
pub mod ops;
pub mod sys;
