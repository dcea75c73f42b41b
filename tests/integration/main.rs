//! The one integration-test binary: runs the real `alipay-recon` binary against real SQLite files and
//! real servers (OpenSSH sshd, an SMTP server, the payment sandbox) started on random loopback ports.

mod harness;

mod architecture;
mod browser;
mod cli_basics;
mod demo;
mod email;
mod formats;
mod golden;
mod old_sqlite;
mod ops;
mod payment;
mod resolutions;
mod schedule;
mod sftp;
mod spine;
mod undelivered;
