//! `alipay-recon sandbox [--listen 127.0.0.1:8088] [--files DIR] [--state DIR] [--merchant-public-key FILE]`
//! — run a local Alipay that speaks the real `alipay.intl` protocol with RSA2 signatures, so cashiers
//! and integrators can pay, cancel and refund without Alipay, and the daily run can reconcile the
//! files it writes. Magic codes: docs/payment.md. Stops with Ctrl-C.

use crate::payment::sandbox::{Options, Sandbox};
use crate::payment::sign::{PrivateKey, PublicKey};
use crate::sys::exit::Outcome;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:8088")]
    pub listen: String,
    /// Write the day's reconciliation files here, laid out like the SFTP server (use it as `source.dir`).
    #[arg(long)]
    pub files: Option<PathBuf>,
    /// The sandbox's own key pair and state.
    #[arg(long, default_value = "sandbox-state")]
    pub state: PathBuf,
    /// The merchant's public key (PEM or Base64) to verify requests. Default: the one saved in the
    /// state folder, else derived from the active environment's private key in the config.
    #[arg(long)]
    pub merchant_public_key: Option<PathBuf>,
    /// Also copy the sandbox's public key here (point `alipay_public_key_file` at it).
    #[arg(long)]
    pub write_public_key: Option<PathBuf>,
    /// How long the "slow" magic codes take to answer, in milliseconds.
    #[arg(long, default_value_t = 20_000)]
    pub slow_ms: u64,
}

/// The merchant's public key from the config's private key, if the config and key are there.
fn from_config(g: &super::Globals) -> Option<PublicKey> {
    let cfg = g.load_config().ok()?;
    let name = format!("environments.{}.private_key", cfg.environment);
    let secret = cfg.active().private_key.resolve(&name, &cfg.base_dir).ok()??;
    PrivateKey::parse(secret.expose(), &name).ok()?.public().ok()
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let merchant_key = match &a.merchant_public_key {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --merchant-public-key {}", p.display()))?;
            Some(PublicKey::parse(&text, &p.display().to_string())?)
        }
        None => from_config(g),
    };
    let sb = Sandbox::start(Options {
        listen: a.listen.clone(),
        state_dir: a.state.clone(),
        files_dir: a.files.clone(),
        merchant_key,
        slow: Duration::from_millis(a.slow_ms),
    })?;
    if let Some(dest) = &a.write_public_key {
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::copy(&sb.public_key_file, dest).with_context(|| format!("cannot write {}", dest.display()))?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "sandbox listening on {}", sb.url())?;
    writeln!(
        out,
        "sandbox public key: {} (set alipay_public_key_file of the sandbox environment to it)",
        sb.public_key_file.display()
    )?;
    writeln!(out, "sandbox public key (Base64 SPKI): {}", sb.public_key()?.to_base64()?)?;
    if !sb.has_merchant_key() {
        writeln!(
            out,
            "warning: no merchant public key yet: every call will get KEY_NOT_FOUND; pass --merchant-public-key FILE"
        )?;
    }
    if let Some(f) = &a.files {
        writeln!(out, "reconciliation files: {}/download/<merchantId>/<yyyymmdd>/", f.display())?;
    }
    out.flush()?;
    drop(out);
    sb.wait();
    Ok(Outcome::Clean)
}
