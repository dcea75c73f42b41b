//! Undelivered mail is never a silent success (issue 15 item 2, contracts.md v3 §5), against the real
//! SMTP server (aiosmtpd): a run whose daily email or alert stays in the outbox — server down, message
//! refused, certificate refused — exits 1, says what waits and how it will be sent (stdout, stderr, the
//! log and the `runs` table), and never prints "all clear". The shipped cron and systemd schedules retry
//! the outbox hourly: their command lines are run as shipped (paths substituted) and deliver. A
//! certificate failure names `email.smtp.ca_file`, not "could not be reached".

use crate::email::{smtp_email, workspace};
use crate::harness::smtp::{self, Mode, SmtpServer};
use crate::harness::Workspace;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A day with no local sales and no Alipay file, long past its deadline: clean (contracts.md §2).
const CLEAN_DAY: &str = "2020-01-02";

fn runs(w: &Workspace) -> serde_json::Value {
    let r = w.run(&["runs", "--json"]).expect_code(0);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("runs --json: {e}\n{}", r.stdout))
}

/// The newest `runs` row of `command`.
fn last_run(w: &Workspace, command: &str) -> serde_json::Value {
    let all = runs(w);
    all.as_array().unwrap().iter().find(|r| r["command"] == command).cloned().expect("a recorded run")
}

fn outbox(w: &Workspace) -> Vec<serde_json::Value> {
    let r = w.run(&["outbox", "list", "--json"]).expect_code(0);
    serde_json::from_str(&r.stdout).unwrap()
}

fn add_ca_file(w: &Workspace, cert: &Path) {
    let mut cfg = std::fs::read_to_string(w.file("alipay-recon.toml")).unwrap();
    cfg.push_str(&format!("ca_file = {:?}\n", cert.display().to_string()));
    w.write("alipay-recon.toml", cfg);
}

/// A shipped schedule file, with the example paths replaced by the workspace and the binary under test.
fn shipped(name: &str, w: &Workspace) -> String {
    let text = std::fs::read_to_string(crate::harness::repo().join("schedules").join(name)).unwrap();
    text.replace("/usr/local/bin/alipay-recon", crate::harness::bin().to_str().unwrap())
        .replace("/srv/alipay-recon", w.path().to_str().unwrap())
}

fn clean_env(c: &mut Command, w: &Workspace) {
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", w.path())
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1");
}

/// The crontab line that retries the outbox, run by `sh` as cron would; returns its exit status.
fn run_crontab_outbox_line(w: &Workspace) -> i32 {
    let cron = shipped("crontab", w);
    let line = cron
        .lines()
        .find(|l| !l.starts_with('#') && l.contains("outbox send"))
        .unwrap_or_else(|| panic!("schedules/crontab has no `outbox send` line:\n{cron}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[1..5], ["*", "*", "*", "*"], "hourly (a fixed minute, every hour): {line}");
    assert!(fields[0].parse::<u32>().is_ok_and(|m| m < 60), "{line}");
    let command = fields[5..].join(" ");
    std::fs::create_dir_all(w.file("log")).unwrap();
    let mut c = Command::new("/bin/sh");
    clean_env(&mut c, w);
    let status = c.arg("-c").arg(&command).status().unwrap();
    status.code().unwrap_or(-1)
}

/// The systemd outbox service's ExecStart, run in its WorkingDirectory; the timer fires it hourly.
fn run_systemd_outbox_unit(w: &Workspace) -> (i32, String) {
    let timer = shipped("alipay-recon-outbox.timer", w);
    assert!(timer.lines().any(|l| l.trim() == "OnCalendar=*-*-* *:05:00"), "{timer}");
    let service = shipped("alipay-recon-outbox.service", w);
    let value = |key: &str| -> String {
        service
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in alipay-recon-outbox.service:\n{service}"))
            .trim()
            .to_string()
    };
    let exec = value("ExecStart=");
    assert!(exec.ends_with("outbox send"), "{exec}");
    let argv: Vec<&str> = exec.split_whitespace().collect();
    let mut c = Command::new(argv[0]);
    clean_env(&mut c, w);
    let o = c.args(&argv[1..]).current_dir(PathBuf::from(value("WorkingDirectory="))).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
    )
}

#[test]
fn smtp_down_on_a_clean_day_exits_1_says_what_waits_and_the_hourly_cron_line_delivers_it() {
    let port = smtp::free_port();
    let tmp = tempfile::tempdir().unwrap();
    let maildir = tmp.path().join("maildir");
    let w = workspace(&smtp_email(port, "plain", ""));
    // Paths as the shipped schedules use them: a config named alipay-recon.toml in the working folder.
    let r = w.run(&["run", "--date", CLEAN_DAY]).expect_code(1);
    let waits = format!("the daily email for {CLEAN_DAY}");
    assert!(!r.stdout.contains("all clear"), "the email was not delivered:\n{}", r.stdout);
    assert!(r.stdout.contains(&waits) && r.stdout.contains("waiting in the outbox"), "{}", r.stdout);
    assert!(r.stdout.contains("alipay-recon outbox send") && r.stdout.contains("hourly"), "{}", r.stdout);
    assert!(r.stdout.contains("no discrepancies"), "the reconciliation itself is still reported: {}", r.stdout);
    // stderr: the warning with the cause, and the log line (JSON when not on a terminal).
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{port}")) && r.stderr.contains("could not be reached"),
        "{}",
        r.stderr
    );
    let log = r.stderr.lines().find(|l| l.contains("\"level\":\"WARN\"") && l.contains("waiting in the outbox"));
    assert!(log.is_some_and(|l| l.contains(&waits)), "a WARN log line saying what waits:\n{}", r.stderr);
    let run = last_run(&w, "run");
    assert_eq!((run["outcome"].as_str(), run["exit_code"].as_i64()), (Some("attention"), Some(1)), "{run}");
    let msg = run["message"].as_str().unwrap_or_default();
    assert!(msg.contains(&waits) && msg.contains("outbox send"), "{run}");
    assert_eq!(outbox(&w).len(), 1);

    // A rerun that finds the email still waiting says so again (and is still not 0).
    let r = w.run(&["reconcile", "--date", CLEAN_DAY]).expect_code(1);
    assert!(r.stdout.contains(&waits) && !r.stdout.contains("all clear"), "{}", r.stdout);

    // The server is back: the shipped hourly cron line delivers the waiting email, once.
    let server = SmtpServer::start_on(port, &maildir, Mode::Plain);
    assert_eq!(
        run_crontab_outbox_line(&w),
        0,
        "{}",
        std::fs::read_to_string(w.file("log/cron.log")).unwrap_or_default()
    );
    let mails = server.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject.contains(&format!("{CLEAN_DAY} HK-Store: all clear")), "{}", mails[0].subject);
    assert!(outbox(&w).is_empty(), "nothing waits any more");
    assert_eq!(run_crontab_outbox_line(&w), 0);
    assert_eq!(server.mails().len(), 1, "delivered once");

    // Delivered: a rerun of the clean day is 0 and all clear again.
    let r = w.run(&["reconcile", "--date", CLEAN_DAY]).expect_code(0);
    assert!(r.stdout.contains("all clear"), "{}", r.stdout);
}

#[test]
fn a_refused_alert_on_a_clean_day_exits_1_and_the_systemd_outbox_unit_delivers_it() {
    use alipay_recon::payment::ledger;
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = smtp::self_signed_cert(tmp.path());
    let server = SmtpServer::start(Mode::StartTls { cert: cert.clone(), key });
    // A plain client: the server refuses MAIL FROM before STARTTLS (530).
    let w = workspace(&smtp_email(server.port, "plain", ""));
    let created = chrono::DateTime::parse_from_rfc3339("2026-11-25T15:00:00+08:00").unwrap();
    let attempt = crate::email::stuck_attempt("POS-STUCK-9", 5_600, "tea", created);
    ledger::insert_attempt(&alipay_recon::store::open(&w.file("alipay-recon.db")).unwrap(), &attempt).unwrap();

    // The day itself is clean; the manual-review alert and the daily email are refused: exit 1.
    let r = w.run(&["reconcile", "--date", CLEAN_DAY]).expect_code(1);
    let out = format!("{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("all clear"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("the manual review alert for {CLEAN_DAY}")), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("the daily email for {CLEAN_DAY}")), "{}", r.stdout);
    assert!(out.contains("530") && out.contains("STARTTLS"), "{out}");
    let run = last_run(&w, "reconcile");
    assert_eq!(run["exit_code"].as_i64(), Some(1), "{run}");
    assert!(run["message"].as_str().unwrap_or_default().contains("manual review alert"), "{run}");
    assert!(server.mails().is_empty());
    assert_eq!(outbox(&w).len(), 2);

    // Fixed (STARTTLS with the server's CA): the shipped systemd outbox unit delivers both.
    let cfg = std::fs::read_to_string(w.file("alipay-recon.toml"))
        .unwrap()
        .replace("security = \"plain\"", "security = \"starttls\"");
    w.write("alipay-recon.toml", cfg);
    add_ca_file(&w, &cert);
    let (code, out) = run_systemd_outbox_unit(&w);
    assert_eq!(code, 0, "{out}");
    let mails = server.mails();
    assert_eq!(mails.len(), 2, "{out}");
    assert!(mails.iter().any(|m| m.subject.contains("stuck in manual review")));
    assert!(outbox(&w).is_empty());
}

/// A certificate for `dns` only (no IP), valid from `from_days` to `to_days` relative to now
/// (negative = in the past); CA:TRUE so it can be trusted as its own root via email.smtp.ca_file.
fn cert_for(dir: &Path, dns: &str, from_days: i64, to_days: i64, ip: bool) -> (PathBuf, PathBuf) {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509NameBuilder, X509};
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", dns).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&openssl::bn::BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    let now = chrono::Utc::now().timestamp();
    b.set_not_before(&Asn1Time::from_unix(now + from_days * 86_400).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + to_days * 86_400).unwrap()).unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
    let mut san = SubjectAlternativeName::new();
    san.dns(dns);
    if ip {
        san.ip("127.0.0.1");
    }
    let san = san.build(&b.x509v3_context(None, None)).unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = dir.join(format!("{dns}-{to_days}.pem"));
    let keyf = dir.join(format!("{dns}-{to_days}.key"));
    std::fs::write(&cert, b.build().to_pem().unwrap()).unwrap();
    std::fs::write(&keyf, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (cert, keyf)
}

fn assert_names_ca_file(text: &str) {
    assert!(text.contains("email.smtp.ca_file"), "names email.smtp.ca_file:\n{text}");
    assert!(text.contains("certificate"), "says it is the certificate:\n{text}");
    assert!(!text.contains("could not be reached"), "not a reachability problem:\n{text}");
}

#[test]
fn an_unknown_ca_on_starttls_keeps_the_run_at_1_and_names_email_smtp_ca_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = smtp::self_signed_cert(tmp.path());
    let server = SmtpServer::start(Mode::StartTls { cert, key });
    let w = workspace(&smtp_email(server.port, "starttls", ""));
    let r = w.run(&["run", "--date", CLEAN_DAY]).expect_code(1);
    assert!(!r.stdout.contains("all clear"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("the daily email for {CLEAN_DAY}")), "{}", r.stdout);
    assert_names_ca_file(&r.stderr);
    let out = outbox(&w);
    assert_eq!(out.len(), 1);
    assert_names_ca_file(out[0]["last_error"].as_str().unwrap());
    assert_names_ca_file(last_run(&w, "run")["message"].as_str().unwrap());
    assert!(server.mails().is_empty());
}

#[test]
fn a_host_name_mismatch_or_an_expired_certificate_names_email_smtp_ca_file() {
    let tmp = tempfile::tempdir().unwrap();
    // Trusted (ca_file) but issued for another host name: SMTPS.
    let (cert, key) = cert_for(tmp.path(), "mail.other.example", -1, 30, false);
    let server = SmtpServer::start(Mode::Tls { cert: cert.clone(), key });
    let w = workspace(&smtp_email(server.port, "tls", ""));
    add_ca_file(&w, &cert);
    let a = alipay_recon::notify::Alert::RunFailed {
        date: None,
        command: "import".into(),
        error: "e".into(),
        next_step: "n".into(),
    };
    let msg = alipay_recon::notify::alert("HK-Store", &a).unwrap();
    alipay_recon::notify::enqueue(&mut alipay_recon::store::open(&w.file("alipay-recon.db")).unwrap(), &msg).unwrap();
    let r = w.run(&["outbox", "send"]).expect_code(2);
    assert_names_ca_file(&r.stderr);
    assert_names_ca_file(outbox(&w)[0]["last_error"].as_str().unwrap());
    assert!(server.mails().is_empty());
    drop(server);

    // Trusted and for 127.0.0.1, but expired: STARTTLS.
    let (cert, key) = cert_for(tmp.path(), "localhost", -10, -1, true);
    let server = SmtpServer::start(Mode::StartTls { cert: cert.clone(), key });
    let w = workspace(&smtp_email(server.port, "starttls", ""));
    add_ca_file(&w, &cert);
    alipay_recon::notify::enqueue(&mut alipay_recon::store::open(&w.file("alipay-recon.db")).unwrap(), &msg).unwrap();
    let r = w.run(&["outbox", "send"]).expect_code(2);
    assert_names_ca_file(&r.stderr);
    assert!(r.stderr.contains("expired"), "{}", r.stderr);
    assert!(server.mails().is_empty());
}

#[test]
fn shipped_schedules_retry_the_outbox_hourly() {
    let root = crate::harness::repo().join("schedules");
    let read = |n: &str| std::fs::read_to_string(root.join(n)).unwrap_or_else(|e| panic!("schedules/{n}: {e}"));
    // The daemon's schedule.
    let daemon = read("alipay-recon.toml");
    assert!(daemon.contains("command = [\"outbox\", \"send\"]"), "{daemon}");
    // cron: a line every hour (checked and run in the first test); systemd: a timer and its service.
    let cron = read("crontab");
    assert!(cron.lines().any(|l| !l.starts_with('#') && l.contains("outbox send")), "{cron}");
    let timer = read("alipay-recon-outbox.timer");
    assert!(timer.contains("[Timer]") && timer.contains("WantedBy=timers.target"), "{timer}");
    let service = read("alipay-recon-outbox.service");
    assert!(service.contains("Type=oneshot") && service.contains("outbox send"), "{service}");
    // The daily service's comments point at the outbox timer.
    assert!(read("alipay-recon.service").contains("alipay-recon-outbox.timer"));
}

#[test]
fn a_range_run_with_the_server_down_records_every_dates_waiting_email() {
    let port = smtp::free_port();
    let w = workspace(&smtp_email(port, "plain", ""));
    let r = w.run(&["reconcile", "--from", "2020-01-02", "--to", "2020-01-03"]).expect_code(1);
    assert!(!r.stdout.contains("all clear"), "{}", r.stdout);
    for d in ["2020-01-02", "2020-01-03"] {
        assert!(r.stdout.contains(&format!("the daily email for {d}")), "{d}: {}", r.stdout);
    }
    // The second date did not wait out the same connection failure again.
    assert!(r.stderr.contains("not tried again after the earlier failure"), "{}", r.stderr);
    let all = runs(&w);
    let rows: Vec<_> = all.as_array().unwrap().iter().filter(|r| r["command"] == "reconcile").collect();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!((row["outcome"].as_str(), row["exit_code"].as_i64()), (Some("attention"), Some(1)), "{row}");
        let date = row["business_date"].as_str().unwrap();
        assert!(row["message"].as_str().unwrap().contains(&format!("the daily email for {date}")), "{row}");
    }
    assert_eq!(outbox(&w).len(), 2);
}
