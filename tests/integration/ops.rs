//! Operations commands through the real binary, with a folder source (no sshd needed):
//! `doctor`'s SMTP check against a real SMTP server (aiosmtpd, with AUTH) and a closed port, its RSA
//! key checks with real keys and broken ones (and its one signed call to the sandbox API); and `retention` (deletion-risk alert once per date,
//! pruning of old attachments and stale downloads, nothing else deleted).

use crate::harness::smtp::{free_port, Mode, SmtpServer};
use crate::harness::{copy_tree, fixtures, Workspace};
use alipay_recon::notify::{self, Kind, Message, Part};
use sha2::{Digest, Sha256};

const MID: &str = "2188000000000001";

/// A folder-source config; `env_extra` goes into `[environments.sandbox]`, `tail` after `[store]`.
fn workspace(env_extra: &str, tail: &str) -> Workspace {
    let w = Workspace::new();
    std::fs::create_dir_all(w.file("sftp")).unwrap();
    w.write(
        "alipay-recon.toml",
        format!(
            "environment = \"sandbox\"\n[merchant]\nname = \"HK-Store\"\n[environments.sandbox]\nmerchant_id = \"{MID}\"\n{env_extra}\n\
             [source]\nkind = \"dir\"\ndir = \"sftp\"\nformats = [\"intl\"]\n\
             [store]\ndatabase = \"data/recon.db\"\narchive_dir = \"data/archive\"\nreports_dir = \"reports\"\n{tail}\n"
        ),
    );
    w
}

fn smtp_section(port: u16, auth: &str) -> String {
    format!(
        "[email]\ntransport = \"smtp\"\nfrom = \"Recon <recon@shop.example>\"\nto = [\"fin@shop.example\"]\n\
         [email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\ntimeout_secs = 5\n{auth}\n"
    )
}

/// `doctor` for 2026-11-25, with that day's fixture files in the source folder (doctor fails when
/// none of the last days has a transaction file).
fn doctor(w: &Workspace) -> crate::harness::Run {
    let day = format!("download/{MID}/20261125");
    copy_tree(&fixtures().join("sftp").join(&day), &w.file(&format!("sftp/{day}")));
    w.run(&["doctor", "--date", "2026-11-25"])
}

const PASSWORD: &str = "Sm7p-pa55-word";

#[test]
fn doctor_smtp_login_ok_then_wrong_password_then_server_down() {
    let server = SmtpServer::start(Mode::Auth { user: "recon".into(), password: PASSWORD.into() });
    let auth = "user = \"recon\"\npassword = { env = \"TEST_SMTP_PASSWORD\" }";
    let mut w = workspace("", &smtp_section(server.port, auth));
    w.set_env("TEST_SMTP_PASSWORD", PASSWORD);
    let r = doctor(&w).expect_code(0);
    let want = format!(
        "[ OK ] SMTP: 127.0.0.1:{} (security = \"plain\"): connected, EHLO accepted, logged in as 'recon'",
        server.port
    );
    assert!(r.stdout.contains(&want), "missing {want:?} in\n{}", r.stdout);
    assert!(
        r.stdout.contains("[ OK ] source folder:") && r.stdout.contains("info: source is a folder"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("DNS") && !r.stdout.contains("merchant private key"), "{}", r.stdout);
    assert!(r.stdout.contains("all checks passed"));
    assert!(server.mails().is_empty(), "doctor must not send mail");

    let mut bad = workspace("", &smtp_section(server.port, auth));
    bad.set_env("TEST_SMTP_PASSWORD", "wrong-Pa55-999");
    let r = doctor(&bad).expect_code(2);
    assert!(r.stdout.contains(&format!("[FAIL] SMTP: 127.0.0.1:{}", server.port)), "{}", r.stdout);
    assert!(r.stdout.contains("authentication failed: check email.smtp.user"), "{}", r.stdout);
    assert!(!r.stdout.contains("wrong-Pa55-999") && !r.stderr.contains("wrong-Pa55-999"));

    // The password's variable is not set: the key and the variable are named, exit 2.
    let unset = workspace("", &smtp_section(server.port, auth));
    let r = doctor(&unset).expect_code(2);
    assert!(r.stdout.contains("email.smtp.password") && r.stdout.contains("TEST_SMTP_PASSWORD"), "{}", r.stdout);

    // Nobody listens.
    let closed = free_port();
    let down = workspace("", &smtp_section(closed, ""));
    let r = doctor(&down).expect_code(2);
    let want = format!("[FAIL] SMTP: 127.0.0.1:{closed} (security = \"plain\"): ");
    assert!(r.stdout.contains(&want), "missing {want:?} in\n{}", r.stdout);
    assert!(r.stdout.contains("check email.smtp.host and email.smtp.port"), "{}", r.stdout);
    assert!(r.stderr.contains("checks failed"), "{}", r.stderr);
    assert!(!r.stdout.contains(PASSWORD) && !r.stderr.contains(PASSWORD));
}

#[test]
fn doctor_smtp_starttls_needs_the_private_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = crate::harness::smtp::self_signed_cert(tmp.path());
    let server = SmtpServer::start(Mode::StartTls { cert: cert.clone(), key });
    let section = smtp_section(server.port, "").replace("security = \"plain\"", "security = \"starttls\"");
    let w = workspace("", &section);
    let r = doctor(&w).expect_code(2);
    let want = format!("[FAIL] SMTP: 127.0.0.1:{} (security = \"starttls\"): ", server.port);
    assert!(r.stdout.contains(&want), "missing {want:?} in\n{}", r.stdout);
    assert!(r.stdout.contains("the TLS handshake failed") && r.stdout.contains("email.smtp.ca_file"), "{}", r.stdout);

    let trusted = workspace("", &format!("{section}ca_file = \"{}\"\n", cert.display()));
    let r = doctor(&trusted).expect_code(0);
    let want = format!("[ OK ] SMTP: 127.0.0.1:{} (security = \"starttls\"): connected, EHLO accepted\n", server.port);
    assert!(r.stdout.contains(&want), "missing {want:?} in\n{}", r.stdout);
}

#[test]
fn doctor_email_file_and_none_transports() {
    let w = workspace("", "[email]\ntransport = \"file\"\ndir = \"mail\"");
    let r = doctor(&w).expect_code(0);
    assert!(r.stdout.contains("[ OK ] email folder:") && r.stdout.contains("mail is writable"), "{}", r.stdout);
    let w = workspace("", "[email]\ntransport = \"none\"");
    let r = doctor(&w).expect_code(0);
    assert!(r.stdout.contains("[WARN] email: email.transport = \"none\": no report or alert email"), "{}", r.stdout);
}

fn payment_env(key: &str) -> String {
    payment_env_at("https://open-sea.alipay.com", key)
}

fn payment_env_at(url: &str, key: &str) -> String {
    format!(
        "client_id = \"385XXXXXXXXX0001\"\napi_base_url = \"{url}\"\n{key}\n\
         alipay_public_key_file = \"keys/alipay.pem\""
    )
}

#[test]
fn doctor_rsa_keys_valid_missing_and_garbage() {
    // Keys made with OpenSSL directly; the fingerprint is computed here, independently of the binary.
    let merchant = openssl::rsa::Rsa::generate(2048).unwrap();
    let pkcs1 = String::from_utf8(merchant.private_key_to_pem().unwrap()).unwrap();
    let spki = openssl::pkey::PKey::from_rsa(merchant.clone()).unwrap().public_key_to_der().unwrap();
    let fingerprint = hex::encode(Sha256::digest(&spki));
    let alipay = openssl::rsa::Rsa::generate(2048).unwrap();
    let alipay_pem = openssl::pkey::PKey::from_rsa(alipay.clone()).unwrap().public_key_to_pem().unwrap();
    // The project's sandbox API plays Alipay with these two keys: doctor's one signed call must pass.
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("sandbox-private.pem"), alipay.private_key_to_pem().unwrap()).unwrap();
    let merchant_public = openssl::pkey::PKey::from_rsa(merchant.clone()).unwrap().public_key_to_pem().unwrap();
    let sandbox = alipay_recon::payment::sandbox::Sandbox::start(alipay_recon::payment::sandbox::Options {
        listen: "127.0.0.1:0".into(),
        state_dir: state.path().to_path_buf(),
        files_dir: None,
        merchant_key: Some(
            alipay_recon::payment::sign::PublicKey::parse(std::str::from_utf8(&merchant_public).unwrap(), "m").unwrap(),
        ),
        slow: std::time::Duration::from_secs(1),
    })
    .unwrap();

    let env = payment_env_at(&sandbox.url(), "private_key = { env = \"MERCHANT_KEY\" }");
    let mut w = workspace(&env, "[payment]\nenabled = true");
    w.write("keys/alipay.pem", &alipay_pem);
    w.set_env("MERCHANT_KEY", &pkcs1);
    let r = doctor(&w).expect_code(0);
    for want in [
        format!("[ OK ] payment API: {}: payQuery of the made-up id DOCTOR-", sandbox.url()),
        format!("[ OK ] merchant private key: RSA 2048 bits, public key SHA-256 {fingerprint}"),
        "[ OK ] Alipay public key:".to_string(),
        "all checks passed".to_string(),
    ] {
        assert!(r.stdout.contains(&want), "missing {want:?} in\n{}", r.stdout);
    }
    let secret_line = pkcs1.lines().nth(3).unwrap();
    assert!(!r.stdout.contains(secret_line) && !r.stderr.contains(secret_line), "key material printed");

    // The variable is not set: the config key and the variable are named.
    let mut missing = workspace(&payment_env("private_key = { env = \"MERCHANT_KEY\" }"), "[payment]\nenabled = true");
    missing.write("keys/alipay.pem", &alipay_pem);
    missing.set_env("UNRELATED", "1");
    let r = doctor(&missing).expect_code(2);
    assert!(
        r.stdout.contains(
            "[FAIL] merchant private key: environments.sandbox.private_key: environment variable MERCHANT_KEY"
        ),
        "{}",
        r.stdout
    );

    // A garbage key file, and no Alipay public key file.
    let garbage =
        workspace(&payment_env("private_key = { file = \"keys/merchant.pem\" }"), "[payment]\nenabled = true");
    garbage
        .write("keys/merchant.pem", "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n");
    let r = doctor(&garbage).expect_code(2);
    assert!(
        r.stdout.contains("[FAIL] merchant private key: environments.sandbox.private_key: not an RSA private key"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[FAIL] Alipay public key: environments.sandbox.alipay_public_key_file: cannot read"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("2 of"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// retention

fn retention_workspace() -> Workspace {
    let w = workspace("", "[email]\ntransport = \"file\"\ndir = \"mail\"\n[retention]\noutbox_attachments_days = 30");
    let day = format!("download/{MID}/20261124");
    copy_tree(&fixtures().join("sftp").join(&day), &w.file(&format!("sftp/{day}")));
    for d in ["2026-11-24", "2026-11-25"] {
        let f = fixtures().join(format!("sales/sales_{d}.csv"));
        let r = w.run(&["import-sales", f.to_str().unwrap()]);
        assert!(r.code == 0 || r.code == 1, "import-sales {d}: {}\n{}", r.stdout, r.stderr);
    }
    let r = w.run(&["import", "--date", "2026-11-24"]);
    assert!(r.code == 0 || r.code == 1, "import: {}\n{}", r.stdout, r.stderr);
    w
}

fn db(w: &Workspace) -> rusqlite::Connection {
    alipay_recon::store::open(&w.file("data/recon.db")).unwrap()
}

fn outbox_keys(w: &Workspace) -> Vec<(String, String)> {
    let c = db(w);
    let mut st = c.prepare("SELECT msg_key, status FROM outbox ORDER BY id").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn retention_alerts_a_missing_day_once_and_leaves_a_day_with_its_file_alone() {
    let w = retention_workspace();
    // 2026-11-25 is 5 days back with sales and no file; 2026-11-24 has its file.
    let r = w.run(&["retention", "--today", "2026-11-30"]).expect_code(1);
    assert!(
        r.stdout.contains("warning: 2026-11-25:")
            && r.stdout.contains("Alipay deletes it after 2026-12-02")
            && r.stdout.contains("alipay-recon import --date 2026-11-25")
            && r.stdout.contains("(alert queued)"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("2026-11-24"), "a day with its file is not mentioned:\n{}", r.stdout);
    assert!(r.stdout.contains("email sent: deletion_risk/2026-11-25"), "{}", r.stdout);
    assert_eq!(outbox_keys(&w), vec![("deletion_risk/2026-11-25".to_string(), "sent".to_string())]);
    let eml: Vec<_> = std::fs::read_dir(w.file("mail")).unwrap().collect();
    assert_eq!(eml.len(), 1);

    // Again: still at risk (exit 1), but no second alert.
    let r = w.run(&["retention", "--today", "2026-11-30"]).expect_code(1);
    assert!(r.stdout.contains("(alert already sent or queued earlier)"), "{}", r.stdout);
    assert!(!r.stdout.contains("email sent"), "{}", r.stdout);
    assert_eq!(outbox_keys(&w).len(), 1);

    // Two days later: 2026-11-24 is 8 days back (gone), 2026-11-25 is 7 back: its last day; the
    // same alert key, so still one message.
    w.run(&["retention", "--today", "2026-12-02"]).expect_code(1);
    assert_eq!(outbox_keys(&w).len(), 1);

    // Too early for the window (files of 2026-11-25 not due for deletion): listed, exit 0, no alert.
    let fresh = retention_workspace();
    let r = fresh.run(&["retention", "--today", "2026-11-27"]).expect_code(0);
    assert!(
        r.stdout.contains("2026-11-25: ") && r.stdout.contains("no Alipay transaction file stored yet"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("nothing needs attention"), "{}", r.stdout);
    assert!(outbox_keys(&fresh).is_empty());
}

#[test]
fn retention_prunes_old_attachments_and_stale_downloads_only() {
    let w = retention_workspace();
    let archived_before = count_files(&w.file("data/archive"));
    assert!(archived_before > 0, "the import archived its files");
    // An email with an attachment, sent 40 days ago (older than outbox_attachments_days = 30).
    let msg = Message {
        key: "daily/2026-10-01/v1".into(),
        kind: Kind::Daily,
        business_date: Some("2026-10-01".parse().unwrap()),
        version: 1,
        merchant: "HK-Store".into(),
        subject: "report".into(),
        text: "t".into(),
        html: None,
        parts: vec![Part {
            name: "d.csv".into(),
            content_type: "text/csv".into(),
            bytes: b"a,b\n".to_vec(),
            inline: false,
        }],
    };
    notify::enqueue(&mut db(&w), &msg).unwrap();
    let old = (chrono::Utc::now() - chrono::Duration::days(40)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    db(&w).execute("UPDATE outbox SET status = 'sent', sent_at = ?1, created_at = ?1", [&old]).unwrap();
    // Interrupted downloads: one 10 days old, one from today.
    let stale = w.write("data/archive/incoming/ALIPAY_TRANSACTION_DETAIL_HKD_20261115.csv.part", "x");
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(10 * 86_400))
        .unwrap();
    let recent = w.write("data/archive/incoming/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv.part", "x");

    let r = w.run(&["retention", "--today", "2026-11-26", "--no-email"]).expect_code(0);
    assert!(r.stdout.contains("pruned attachments of 1 email(s) sent more than 30 days ago"), "{}", r.stdout);
    assert!(r.stdout.contains("deleted 1 interrupted download(s) older than 7 days"), "{}", r.stdout);
    assert!(!stale.exists() && recent.exists());
    assert_eq!(count_files(&w.file("data/archive")), archived_before + 1, "only the stale .part went");
    let parts: i64 = db(&w).query_row("SELECT COUNT(*) FROM outbox_parts", [], |r| r.get(0)).unwrap();
    assert_eq!(parts, 0);
    assert_eq!(outbox_keys(&w), vec![("daily/2026-10-01/v1".to_string(), "sent".to_string())], "rows stay");
    let files: i64 = db(&w).query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0)).unwrap();
    assert!(files > 0, "file rows stay");
}

fn count_files(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            n += count_files(&e.path());
        } else {
            n += 1;
        }
    }
    n
}

// ---------------------------------------------------------------------------------------------
// a closed stdout (`… | head`)

/// Runs the binary with its stdout a pipe whose reader is already closed, as `| head` leaves it.
fn run_into_closed_pipe(w: &Workspace, args: &[&str]) -> crate::harness::Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = w.cmd(args).stdout(writer).stderr(std::process::Stdio::piped()).output().unwrap();
    crate::harness::Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn import_sales_into_a_closed_pipe_finishes_its_work_and_its_run() {
    let w = workspace("", "[email]\ntransport = \"file\"\ndir = \"mail\"");
    let f = fixtures().join("sales/sales_2026-11-25.csv");
    let r = run_into_closed_pipe(&w, &["import-sales", f.to_str().unwrap()]);
    assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let c = db(&w);
    let (outcome, code): (String, i64) = c
        .query_row("SELECT outcome, exit_code FROM runs WHERE command = 'import-sales'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(code, r.code as i64, "{outcome}");
    assert!(outcome == "ok" || outcome == "attention", "{outcome}");
    let loaded: i64 = c.query_row("SELECT COUNT(*) FROM local_records", [], |r| r.get(0)).unwrap();
    assert!(loaded > 0, "the sales were not loaded");
    // The same file again: the same code as with an open stdout, and nothing on stderr about the pipe.
    let again = w.run(&["import-sales", f.to_str().unwrap()]);
    assert_eq!(run_into_closed_pipe(&w, &["import-sales", f.to_str().unwrap()]).code, again.code);
}

#[test]
fn doctor_into_a_closed_pipe_exits_with_its_own_code() {
    let w = workspace("", "[email]\ntransport = \"file\"\ndir = \"mail\"");
    let open = doctor(&w);
    let closed = run_into_closed_pipe(&w, &["doctor", "--date", "2026-11-25"]);
    assert_eq!(closed.code, open.code, "{}\n--- open stdout:\n{}", closed.stderr, open.stdout);
    assert!(!closed.stderr.contains("panicked"), "{}", closed.stderr);
}

// ---------------------------------------------------------------------------------------------
// a source that finds nothing (wrong folder, merchant id or format)

#[test]
fn a_wrong_merchant_id_names_the_folder_and_pattern_searched_and_fails_doctor() {
    let w = workspace("", "[email]\ntransport = \"file\"\ndir = \"mail\"");
    // The files are there, but under another merchant id than the configured one.
    let wrong = "download/2188000000009999/20261125";
    copy_tree(&fixtures().join(format!("sftp/download/{MID}/20261125")), &w.file(&format!("sftp/{wrong}")));
    let folder = format!("/sftp/download/{MID}/20261125 (no such folder), intl transaction files named like `^ALIPAY_TRANSACTION_DETAIL_");
    let r = w.run(&["doctor", "--date", "2026-11-25"]).expect_code(2);
    let line =
        r.stdout.lines().find(|l| l.starts_with("[FAIL] recent files: ")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.contains("none of the last 3 dates up to 2026-11-25 has an Alipay transaction file"), "{line}");
    assert!(line.contains(&folder) && line.contains("`environments.sandbox.merchant_id`"), "{line}");
    for d in ["2026-11-25", "2026-11-24", "2026-11-23"] {
        assert!(
            r.stdout.contains(&format!("[WARN] recent files: {d}: no file found (searched dir:")),
            "{d}: {}",
            r.stdout
        );
    }
    // After the deadline `import` and `run` say where they looked.
    let r = w.run(&["import", "--date", "2026-11-25"]).expect_code(1);
    assert!(r.stderr.contains(&folder) && r.stderr.contains("`source.dir`"), "{}", r.stderr);
    let r = w.run(&["run", "--date", "2026-11-25"]);
    assert!(
        r.stderr.contains("no complete Alipay transaction file for 2026-11-25") && r.stderr.contains(&folder),
        "{}",
        r.stderr
    );
    // Before it: not ready (3), also naming the folder and the pattern.
    let today = chrono::Utc::now().date_naive();
    let r = w.run(&["import", "--date", &today.to_string()]).expect_code(3);
    let today_folder =
        format!("/sftp/download/{MID}/{} (no such folder), intl transaction files named like", today.format("%Y%m%d"));
    assert!(r.stderr.contains(&today_folder), "{}", r.stderr);
    // The right merchant id: doctor lists what it finds per date and passes.
    copy_tree(
        &fixtures().join(format!("sftp/download/{MID}/20261125")),
        &w.file(&format!("sftp/download/{MID}/20261125")),
    );
    let r = w.run(&["doctor", "--date", "2026-11-25"]).expect_code(0);
    assert!(
        r.stdout
            .contains("[ OK ] recent files: 2026-11-25: ALIPAY_SETTLEMENT_DETAIL_HKD_20261125.csv (settlement_detail)")
            && r.stdout.contains("ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv (transactions)"),
        "{}",
        r.stdout
    );
}
