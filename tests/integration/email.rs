//! Email delivery against a real SMTP server (aiosmtpd on a free loopback port): the daily report
//! with both alternatives, attachments and the inline chart; the all-clear; alerts; the outbox
//! surviving a server outage; STARTTLS and SMTPS with a self-signed certificate; AUTH; hostile
//! strings. Messages are composed and enqueued through the library (as the pipeline does) and sent
//! through the real binary's `outbox send` where the CLI is the subject.

use crate::harness::smtp::{self, Mail, Mode, SmtpServer};
use crate::harness::Workspace;
use alipay_recon::domain::{Category, Currency, CurrencyTotals, DaySummary, Finding};
use alipay_recon::notify::{self, Alert, DailyReport, Enqueued};
use chrono::{DateTime, NaiveDate};
use std::path::PathBuf;

const DATE: &str = "2026-11-25";

fn date() -> NaiveDate {
    DATE.parse().unwrap()
}

/// A workspace with a config whose `[email]` section is `email` (the rest minimal and valid).
pub(crate) fn workspace(email: &str) -> Workspace {
    let w = Workspace::new();
    std::fs::create_dir_all(w.file("sftp")).unwrap();
    w.write(
        "alipay-recon.toml",
        format!(
            "environment = \"sandbox\"\n[merchant]\nname = \"HK-Store\"\n[environments.sandbox]\nmerchant_id = \"2188000000000001\"\n\
             [source]\nkind = \"dir\"\ndir = \"sftp\"\n[store]\ndatabase = \"alipay-recon.db\"\narchive_dir = \"archive\"\nreports_dir = \"reports\"\n\
             [email]\n{email}\n"
        ),
    );
    w
}

pub(crate) fn smtp_email(port: u16, security: &str, extra: &str) -> String {
    format!(
        "transport = \"smtp\"\nfrom = \"Recon <recon@shop.example>\"\nto = [\"fin@shop.example\"]\ncc = [\"boss@shop.example\"]\n\
         attempts = 2\nbackoff_ms = 50\n{extra}\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"{security}\"\ntimeout_secs = 5\n"
    )
}

fn config(w: &Workspace) -> alipay_recon::config::Config {
    alipay_recon::config::Config::load(&w.file("alipay-recon.toml"), &[]).unwrap()
}

fn db(w: &Workspace) -> rusqlite::Connection {
    alipay_recon::store::open(&w.file("alipay-recon.db")).unwrap()
}

fn hkd() -> Currency {
    Currency::parse("HKD").unwrap()
}

/// A payment attempt left in manual review after four unanswered cancels (HKD `minor`, made at `created`).
pub(crate) fn stuck_attempt(
    id: &str,
    minor: i64,
    title: &str,
    created: DateTime<chrono::FixedOffset>,
) -> alipay_recon::payment::Attempt {
    use alipay_recon::payment::{Amount, Attempt, PayState};
    Attempt {
        merchant_trans_id: id.into(),
        protocol: "intl".into(),
        environment: "sandbox".into(),
        merchant_id: "2188000000000001".into(),
        code_hint: "2800…".into(),
        amount: Amount { minor, currency: hkd() },
        title: title.into(),
        state: PayState::ManualReview,
        result_status: Some("U".into()),
        result_code: Some("UNKNOWN_EXCEPTION".into()),
        result_msg: None,
        alipay_id: None,
        paid_at: None,
        queries: 15,
        cancel_tries: 4,
        void_refund_id: None,
        last_error: Some("cancel answered U 4 times".into()),
        created_at: created,
    }
}

/// Bytes that survive only a binary-safe transfer: every byte value, NULs, bare CR and LF.
fn binary(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8).collect()
}

struct ReportFiles {
    folder: PathBuf,
    csv: Vec<u8>,
    xlsx: Vec<u8>,
    html: String,
    png: Vec<u8>,
}

fn report_folder(w: &Workspace) -> ReportFiles {
    let csv = "business_date,category,merchant_trans_id,detail\n2026-11-25,MISSING_AT_ALIPAY,P-1,\"商户 remark, with \"\"quotes\"\"\"\n"
        .as_bytes()
        .to_vec();
    let mut xlsx = b"PK\x03\x04".to_vec();
    xlsx.extend(binary(7, 5000));
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(binary(99, 3000));
    let html = "<!DOCTYPE html>\n<html><body><h1>HK-Store 2026-11-25 — 3 discrepancies</h1>\n<img src=\"cid:trend.png\" alt=\"trend\">\n</body></html>\n".to_string();
    let folder = w.write("reports/2026-11-25/discrepancies.csv", &csv).parent().unwrap().to_path_buf();
    w.write("reports/2026-11-25/report.xlsx", &xlsx);
    w.write("reports/2026-11-25/report.html", &html);
    w.write("reports/2026-11-25/trend.png", &png);
    ReportFiles { folder, csv, xlsx, html, png }
}

fn summary(discrepancies: bool) -> DaySummary {
    let mut s = DaySummary { business_date: Some(date()), matched: 118, ..Default::default() };
    if discrepancies {
        s.counts.insert(Category::MissingAtAlipay, 2);
        s.counts.insert(Category::AmountMismatch, 1);
        s.at_stake.insert("HKD".into(), 123_400);
    }
    s.currencies.insert(
        "HKD".into(),
        CurrencyTotals {
            alipay_payments: 5_432_100,
            alipay_payment_count: 120,
            local_payments: 5_432_100,
            local_payment_count: 120,
            ..Default::default()
        },
    );
    s
}

fn enqueue_daily(w: &Workspace, s: &DaySummary, folder: &std::path::Path, findings: &[Finding], merchant: &str) {
    let mut conn = db(w);
    let notify::DailyPlan::Send { version } = notify::plan_daily(&conn, date(), false, None).unwrap() else {
        panic!("first daily email of the date must be due")
    };
    let msg =
        notify::daily_message(&DailyReport { date: date(), merchant, version, summary: s, folder, findings }).unwrap();
    assert!(matches!(notify::enqueue(&mut conn, &msg).unwrap(), Enqueued::New(_)));
}

fn one(server: &SmtpServer) -> Mail {
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "expected exactly one delivered message, got {}", mails.len());
    mails.into_iter().next().unwrap()
}

/// Text bodies travel with CRLF line ends; compare content, not line-end convention.
fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

#[test]
fn daily_report_arrives_with_both_alternatives_inline_chart_and_exact_attachments() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", ""));
    let files = report_folder(&w);
    enqueue_daily(&w, &summary(true), &files.folder, &[], "HK-Store");

    let r = w.run(&["outbox", "list"]).expect_code(0);
    assert!(r.stdout.contains("daily/2026-11-25/v1") && r.stdout.contains("pending"), "{}", r.stdout);
    let r = w.run(&["outbox", "send"]).expect_code(0);
    assert!(r.stdout.contains("sent daily/2026-11-25/v1"), "{}", r.stdout);

    let m = one(&server);
    assert_eq!(m.subject, "[alipay-recon] 2026-11-25 HK-Store: 3 discrepancies, HKD 1,234.00");
    assert_eq!(m.from, "Recon <recon@shop.example>");
    assert_eq!((m.to.as_str(), m.cc.as_str()), ("fin@shop.example", "boss@shop.example"));
    assert!(m.rcpt_to.contains("fin@shop.example") && m.rcpt_to.contains("boss@shop.example"), "{}", m.rcpt_to);
    assert!(
        m.message_id.starts_with("<daily.2026-11-25.v1.") && m.message_id.ends_with("@shop.example>"),
        "{}",
        m.message_id
    );
    assert_eq!(
        m.structure,
        "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,image/png)),text/csv,\
         application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)"
    );
    let text = m.part("text/plain").text();
    assert!(text.contains("3 discrepancies need attention. Amount at stake: HKD 1,234.00."), "{text}");
    assert!(text.contains("MISSING_AT_ALIPAY") && text.contains("Attached: discrepancies.csv, report.xlsx."), "{text}");
    assert_eq!(lf(&m.part("text/html").text()), files.html);
    assert_eq!(m.attachment("discrepancies.csv").bytes, files.csv);
    assert_eq!(m.attachment("discrepancies.csv").disposition.as_deref(), Some("attachment"));
    assert_eq!(m.attachment("report.xlsx").bytes, files.xlsx);
    let chart = m.parts.iter().find(|p| p.content_type == "image/png").unwrap();
    assert_eq!(chart.content_id.as_deref(), Some("<trend.png>"));
    assert_eq!(chart.disposition.as_deref(), Some("inline"));
    assert_eq!(chart.bytes, files.png);

    // Delivered once: a second send finds nothing; the list shows nothing waiting.
    let r = w.run(&["outbox", "send"]).expect_code(0);
    assert!(r.stdout.contains("nothing to send"), "{}", r.stdout);
    assert_eq!(server.mails().len(), 1);
    let r = w.run(&["outbox", "list"]).expect_code(0);
    assert!(r.stdout.contains("nothing waiting"), "{}", r.stdout);
    let r = w.run(&["outbox", "list", "--all", "--json"]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0]["status"], "sent");
    assert_eq!(v[0]["sent_via"], format!("smtp://127.0.0.1:{}", server.port));
}

#[test]
fn clean_day_sends_an_all_clear_with_the_totals() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", ""));
    let files = report_folder(&w);
    std::fs::remove_file(files.folder.join("trend.png")).unwrap();
    enqueue_daily(&w, &summary(false), &files.folder, &[], "HK-Store");
    let rep = notify::deliver_pending(&db(&w), &config(&w)).unwrap();
    assert_eq!(rep.sent, vec!["daily/2026-11-25/v1".to_string()]);
    let m = one(&server);
    assert_eq!(m.subject, "[alipay-recon] 2026-11-25 HK-Store: all clear, HKD 54,321.00 in 120 payments");
    let text = m.part("text/plain").text();
    assert!(text.contains("All clear") && text.contains("HKD: Alipay 120 payments HKD 54,321.00"), "{text}");
    assert!(text.contains("trend.png"), "the missing chart is named: {text}");
    // Without the chart there is no multipart/related.
    assert!(m.structure.starts_with("multipart/mixed(multipart/alternative(text/plain,text/html),"), "{}", m.structure);

    // A retry of the same day that finds nothing new sends nothing; a resend must be asked for.
    let conn = db(&w);
    assert!(matches!(
        notify::plan_daily(&conn, date(), false, None).unwrap(),
        notify::DailyPlan::AlreadyQueued { version: 1, .. }
    ));
    assert_eq!(notify::plan_daily(&conn, date(), true, None).unwrap(), notify::DailyPlan::Send { version: 2 });
}

#[test]
fn alert_goes_to_the_alert_route_as_a_short_email() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", "[email.routes.alert]\nto = [\"ops@shop.example\"]\ncc = []"));
    let deadline = DateTime::parse_from_rfc3339("2026-11-26T18:00:00+08:00").unwrap();
    let a =
        Alert::FilesMissing { date: date(), deadline, missing: vec!["intl transactions HKD".into()], local_sales: 12 };
    let msg = notify::alert("HK-Store", &a).unwrap();
    let mut conn = db(&w);
    notify::enqueue(&mut conn, &msg).unwrap();
    // The same alert composed again by a retried run adds nothing.
    assert!(matches!(
        notify::enqueue(&mut conn, &notify::alert("HK-Store", &a).unwrap()).unwrap(),
        Enqueued::Exists(_)
    ));
    w.run(&["outbox", "send"]).expect_code(0);
    let m = one(&server);
    assert_eq!(m.subject, "[alipay-recon] ALERT 2026-11-25 HK-Store: Alipay files for 2026-11-25 still missing");
    assert_eq!((m.to.as_str(), m.cc.as_str()), ("ops@shop.example", ""));
    assert!(!m.rcpt_to.contains("fin@shop.example"), "{}", m.rcpt_to);
    assert_eq!(m.structure, "multipart/alternative(text/plain,text/html)");
    let text = m.part("text/plain").text();
    assert!(
        text.contains("intl transactions HKD") && text.contains("12 local sales") && text.contains("What to do"),
        "{text}"
    );
    // No local sales that day: no alert at all.
    let quiet = Alert::FilesMissing { date: date(), deadline, missing: vec![], local_sales: 0 };
    assert!(notify::alert("HK-Store", &quiet).is_none());
}

#[test]
fn server_down_keeps_the_message_and_the_next_send_delivers_it_once() {
    let port = smtp::free_port();
    let tmp = tempfile::tempdir().unwrap();
    let maildir = tmp.path().join("maildir");
    let w = workspace(&smtp_email(port, "plain", ""));
    let files = report_folder(&w);
    enqueue_daily(&w, &summary(true), &files.folder, &[], "HK-Store");

    let r = w.run(&["outbox", "send"]).expect_code(2);
    assert!(r.stderr.contains(&format!("127.0.0.1:{port}")) && r.stderr.contains("outbox send"), "{}", r.stderr);
    let r = w.run(&["outbox", "list"]).expect_code(0);
    assert!(r.stdout.contains("daily/2026-11-25/v1") && r.stdout.contains("attempts 2"), "{}", r.stdout);
    assert!(r.stdout.contains("last error"), "{}", r.stdout);

    let server = SmtpServer::start_on(port, &maildir, Mode::Plain);
    let r = w.run(&["outbox", "send"]).expect_code(0);
    assert!(r.stdout.contains("sent daily/2026-11-25/v1"), "{}", r.stdout);
    w.run(&["outbox", "send"]).expect_code(0);
    let m = one(&server);
    assert_eq!(m.attachment("report.xlsx").bytes, files.xlsx);
}

#[test]
fn starttls_with_a_self_signed_certificate_needs_its_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = smtp::self_signed_cert(tmp.path());
    let server = SmtpServer::start(Mode::StartTls { cert: cert.clone(), key });

    // Without trusting the certificate the handshake fails and the message stays.
    let w = workspace(&smtp_email(server.port, "starttls", ""));
    let files = report_folder(&w);
    enqueue_daily(&w, &summary(true), &files.folder, &[], "HK-Store");
    let r = w.run(&["outbox", "send"]).expect_code(2);
    assert!(r.stderr.to_lowercase().contains("tls") || r.stderr.contains("certificate"), "{}", r.stderr);
    assert!(server.mails().is_empty());

    // Trusting it via email.smtp.ca_file delivers over the encrypted channel (the server refuses
    // MAIL FROM before STARTTLS, so a delivery proves TLS was used).
    let mut cfg = std::fs::read_to_string(w.file("alipay-recon.toml")).unwrap();
    cfg.push_str(&format!("ca_file = {:?}\n", cert.display().to_string()));
    w.write("alipay-recon.toml", cfg);
    w.run(&["outbox", "send"]).expect_code(0);
    assert_eq!(one(&server).attachment("discrepancies.csv").bytes, files.csv);
}

#[test]
fn plain_client_is_refused_by_a_server_that_requires_starttls() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = smtp::self_signed_cert(tmp.path());
    let server = SmtpServer::start(Mode::StartTls { cert, key });
    let w = workspace(&smtp_email(server.port, "plain", ""));
    let msg = notify::alert(
        "HK-Store",
        &Alert::RunFailed { date: Some(date()), command: "run".into(), error: "e".into(), next_step: "n".into() },
    )
    .unwrap();
    notify::enqueue(&mut db(&w), &msg).unwrap();
    let rep = notify::deliver_pending(&db(&w), &config(&w)).unwrap();
    assert_eq!(rep.failed.len(), 1, "{rep:?}");
    assert!(rep.failed[0].1.contains("530") && rep.failed[0].1.contains("STARTTLS"), "{rep:?}");
    assert!(server.mails().is_empty());
    assert_eq!(notify::list(&db(&w), false).unwrap().len(), 1, "the refused message stays pending");
}

#[test]
fn implicit_tls_smtps_delivers() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = smtp::self_signed_cert(tmp.path());
    let server = SmtpServer::start(Mode::Tls { cert: cert.clone(), key });
    let w = workspace(&smtp_email(server.port, "tls", ""));
    let mut cfg = std::fs::read_to_string(w.file("alipay-recon.toml")).unwrap();
    cfg.push_str(&format!("ca_file = {:?}\n", cert.display().to_string()));
    w.write("alipay-recon.toml", cfg);
    let a = Alert::DeletionRisk {
        missing_date: date(),
        deleted_after: "2026-12-02".parse().unwrap(),
        today: "2026-11-30".parse().unwrap(),
    };
    notify::enqueue(&mut db(&w), &notify::alert("HK-Store", &a).unwrap()).unwrap();
    w.run(&["outbox", "send"]).expect_code(0);
    let m = one(&server);
    assert!(m.subject.contains("will be deleted by Alipay in 2 days"), "{}", m.subject);
}

#[test]
fn smtp_auth_uses_the_password_from_the_environment_and_never_prints_it() {
    let password = "s3cret-Pa55-word";
    let server = SmtpServer::start(Mode::Auth { user: "recon".into(), password: password.into() });
    let extra = "";
    let mut w = workspace(&smtp_email(server.port, "plain", extra));
    let mut cfg = std::fs::read_to_string(w.file("alipay-recon.toml")).unwrap();
    cfg.push_str("user = \"recon\"\npassword = { env = \"TEST_SMTP_PASSWORD\" }\n");
    w.write("alipay-recon.toml", cfg);
    let msg = notify::alert(
        "HK-Store",
        &Alert::RunFailed {
            date: Some(date()),
            command: "run".into(),
            error: "disk full".into(),
            next_step: "free space".into(),
        },
    )
    .unwrap();
    notify::enqueue(&mut db(&w), &msg).unwrap();

    // A wrong password is refused by the server; the message stays and the password is not shown.
    w.set_env("TEST_SMTP_PASSWORD", "wrong-password-123");
    let r = w.run(&["outbox", "send", "-vv"]).expect_code(2);
    assert!(!r.stderr.contains("wrong-password-123") && !r.stdout.contains("wrong-password-123"), "{}", r.stderr);
    assert!(r.stderr.contains("535") && r.stderr.contains("email.smtp.user"), "{}", r.stderr);
    assert!(server.mails().is_empty());

    w.env.clear();
    w.set_env("TEST_SMTP_PASSWORD", password);
    let r = w.run(&["outbox", "send", "-vv"]).expect_code(0);
    assert!(!r.stderr.contains(password) && !r.stdout.contains(password));
    let m = one(&server);
    assert!(m.part("text/plain").text().contains("What to do: free space"));
}

#[test]
fn hostile_strings_are_escaped_in_html_and_cannot_inject_headers() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", ""));
    let files = report_folder(&w);
    // No report.html: the email's HTML is the escaped text rendering.
    std::fs::remove_file(files.folder.join("report.html")).unwrap();
    let finding = Finding {
        business_date: date(),
        item_date: date(),
        category: Category::MissingAtAlipay,
        merchant_trans_id: "P-1\r\nBcc: thief@evil.example".into(),
        merchant_refund_id: String::new(),
        acquirement_id: String::new(),
        currency: Some(hkd()),
        local_amount: Some(100),
        alipay_currency: None,
        alipay_amount: None,
        local_type: "PAYMENT SUCCESS".into(),
        alipay_type: String::new(),
        detail: "remark <script>alert('x')</script><img src=x onerror=alert(1)>\r\nX-Injected: yes".into(),
    };
    let merchant = "Evil\r\nBcc: thief@evil.example\r\nX-Injected: 1 <b>bold</b>";
    enqueue_daily(&w, &summary(true), &files.folder, &[finding], merchant);
    w.run(&["outbox", "send"]).expect_code(0);
    let m = one(&server);
    let lower: Vec<String> = m.header_names.iter().map(|h| h.to_ascii_lowercase()).collect();
    assert!(!lower.contains(&"bcc".to_string()) && !lower.contains(&"x-injected".to_string()), "{:?}", m.header_names);
    assert!(!m.rcpt_to.contains("evil.example"), "{}", m.rcpt_to);
    // No header line of the top-level block starts with an injected name (folded lines start with a space).
    let head = m.raw.replace("\r\n", "\n");
    let head = head.split("\n\n").next().unwrap();
    assert!(!head.lines().any(|l| l.starts_with("Bcc") || l.starts_with("X-Injected")), "{head}");
    assert!(
        m.subject.starts_with(
            "[alipay-recon] 2026-11-25 Evil Bcc: thief@evil.example X-Injected: 1 <b>bold</b>: 3 discrepancies"
        ),
        "{}",
        m.subject
    );
    let html = m.part("text/html").text();
    assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("<b>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "{html}");
    // In the text part the remark stays on its row.
    let text = m.part("text/plain").text();
    assert!(text.contains("<img src=x onerror=alert(1)>  X-Injected: yes"), "{text}");
}

#[test]
fn file_transport_writes_eml_files_by_default() {
    let w = workspace("transport = \"file\"");
    let files = report_folder(&w);
    enqueue_daily(&w, &summary(true), &files.folder, &[], "HK-Store");
    let r = w.run(&["outbox", "send"]).expect_code(0);
    assert!(r.stdout.contains("sent daily/2026-11-25/v1"), "{}", r.stdout);
    let mails = smtp::parse_mails(&w.file("outbox-eml"));
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].file, "daily_2026-11-25_v1.eml");
    assert_eq!(mails[0].attachment("report.xlsx").bytes, files.xlsx);
    assert_eq!(mails[0].parts.iter().find(|p| p.content_type == "image/png").unwrap().bytes, files.png);
}

#[test]
fn two_concurrent_senders_deliver_each_message_once() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", ""));
    let mut conn = db(&w);
    for i in 0..6 {
        let a = Alert::RunFailed {
            date: Some(date()),
            command: format!("run {i}"),
            error: "e".into(),
            next_step: "n".into(),
        };
        notify::enqueue(&mut conn, &notify::alert("HK-Store", &a).unwrap()).unwrap();
    }
    drop(conn);
    let a = w.cmd(&["outbox", "send"]).spawn().unwrap();
    let b = w.cmd(&["outbox", "send"]).spawn().unwrap();
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    let mails = server.mails();
    let mut ids: Vec<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((mails.len(), ids.len()), (6, 6), "each message exactly once");
}

/// The real chain: `gen` a day, import its sales, `run` it; the email carries the report folder's files.
#[test]
fn run_emails_the_real_report_once_and_resends_only_when_asked() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", ""));
    w.run(&["gen", "--date", DATE, "--payments", "40", "--out", w.path().to_str().unwrap()]).expect_code(0);
    let sales = w.file("sales/sales-2026-11-25.csv");
    let r = w.run(&["import-sales", sales.to_str().unwrap()]);
    assert!(r.code <= 1, "{}", r.stderr);
    let r = w.run(&["run", "--date", DATE]);
    assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("email sent: daily/2026-11-25/v1"), "{}", r.stdout);

    let m = one(&server);
    assert!(m.subject.starts_with("[alipay-recon] 2026-11-25 HK-Store: "), "{}", m.subject);
    let dir = w.file("reports/2026-11-25");
    let file = |n: &str| std::fs::read(dir.join(n)).unwrap();
    assert_eq!(m.attachment("discrepancies.csv").bytes, file("discrepancies.csv"));
    assert_eq!(m.attachment("report.xlsx").bytes, file("report.xlsx"));
    // The folder's page shows the chart as the file beside it; the email's copy, as the inline part.
    let page = String::from_utf8(file("report.html")).unwrap();
    assert!(page.contains("<img src=\"trend.png\"") && !page.contains("cid:"), "report.html opened from disk");
    let html = lf(&m.part("text/html").text());
    assert!(html.contains("<img src=\"cid:trend.png\""), "{html}");
    let cids = page
        .replace("<img src=\"trend.png\"", "<img src=\"cid:trend.png\"")
        .replace("srcset=\"trend-narrow.png\"", "srcset=\"cid:trend-narrow.png\"");
    assert_eq!(html, lf(&cids));
    for name in ["trend.png", "trend-narrow.png"] {
        let id = format!("<{name}>");
        let chart = m.parts.iter().find(|p| p.content_id.as_deref() == Some(id.as_str())).expect("inline chart");
        assert_eq!((chart.content_type.as_str(), &chart.bytes), ("image/png", &file(name)));
    }

    // A retry finds nothing new: no second email; --no-email and a plain rerun send nothing either.
    w.run(&["run", "--date", DATE]);
    w.run(&["reconcile", "--date", DATE, "--no-email"]);
    assert_eq!(server.mails().len(), 1);
    // Asked for: version 2, with its own Message-ID.
    let r = w.run(&["reconcile", "--date", DATE, "--resend-email"]);
    assert!(r.stdout.contains("email sent: daily/2026-11-25/v2"), "{}", r.stdout);
    let mails = server.mails();
    assert_eq!(mails.len(), 2);
    let v2 = mails.iter().find(|m| m.subject.contains("(v2, resent)")).expect("a v2 email");
    assert!(v2.message_id.starts_with("<daily.2026-11-25.v2."), "{}", v2.message_id);
}

#[test]
fn run_alerts_on_files_missing_after_the_deadline_when_there_were_sales() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", ""));
    let sales = w.write(
        "sales.csv",
        "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id\n\
         PAYMENT,P1,,10.00,HKD,SUCCESS,2020-01-01T10:00:00+08:00,,,\n",
    );
    w.run(&["import-sales", sales.to_str().unwrap()]).expect_code(0);
    w.run(&["run", "--date", "2020-01-01"]).expect_code(1);
    let mails = server.mails();
    let alert = mails.iter().find(|m| m.subject.contains("ALERT")).expect("a files-missing alert");
    assert_eq!(alert.subject, "[alipay-recon] ALERT 2020-01-01 HK-Store: Alipay files for 2020-01-01 still missing");
    assert!(alert.part("text/plain").text().contains("1 local sales"));
    assert!(
        mails.iter().any(|m| m.subject.starts_with("[alipay-recon] 2020-01-01 HK-Store: 1 discrepanc")),
        "daily too"
    );
    // No sales on a day without files: no alert.
    w.run(&["run", "--date", "2020-01-02"]);
    assert!(!server.mails().iter().any(|m| m.subject.contains("ALERT 2020-01-02")));
}

#[test]
fn a_failed_run_sends_an_alert_with_the_error_and_the_next_step() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", ""));
    // The reports folder is a file: writing the report fails after the data was loaded.
    w.write("reports", "not a folder");
    let r = w.run(&["reconcile", "--date", DATE]).expect_code(2);
    let m = one(&server);
    assert_eq!(m.subject, "[alipay-recon] ALERT 2026-11-25 HK-Store: run failed: reconcile", "{}", r.stderr);
    let text = m.part("text/plain").text();
    assert!(text.contains("cannot write the report of 2026-11-25") && text.contains("What to do:"), "{text}");
    // The same failure again (cron retry) does not alert twice.
    w.run(&["reconcile", "--date", DATE]).expect_code(2);
    assert_eq!(server.mails().len(), 1);
}

/// Through the real chain: a hostile id from a sales file and a merchant name with CR/LF.
#[test]
fn hostile_sales_ids_and_merchant_name_stay_inert_through_the_real_report() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", ""));
    let cfg = std::fs::read_to_string(w.file("alipay-recon.toml"))
        .unwrap()
        .replace("name = \"HK-Store\"", "name = \"HK\\r\\nBcc: thief@evil.example\"");
    w.write("alipay-recon.toml", cfg);
    let sales = w.write(
        "sales.csv",
        "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id\n\
         PAYMENT,<script>alert(1)</script>,,10.00,HKD,SUCCESS,2020-01-01T10:00:00+08:00,,,\n",
    );
    w.run(&["import-sales", sales.to_str().unwrap()]).expect_code(0);
    w.run(&["run", "--date", "2020-01-01"]).expect_code(1);
    let mails = server.mails();
    let daily = mails.iter().find(|m| !m.subject.contains("ALERT")).expect("the daily email");
    assert!(daily.subject.starts_with("[alipay-recon] 2020-01-01 HK Bcc: thief@evil.example: "), "{}", daily.subject);
    for m in &mails {
        assert!(!m.header_names.iter().any(|h| h.eq_ignore_ascii_case("bcc")), "{:?}", m.header_names);
        assert!(!m.rcpt_to.contains("evil.example"), "{}", m.rcpt_to);
    }
    let html = daily.part("text/html").text();
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "{html}");
}

#[test]
fn a_day_still_missing_its_files_near_alipays_deletion_gets_a_warning() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", ""));
    // Five days ago in the business zone (UTC+8): deleted after day+7, so 2 days are left.
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let day = today - chrono::Days::new(5);
    let sales = w.write(
        "sales.csv",
        format!(
            "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id\n\
             PAYMENT,P1,,10.00,HKD,SUCCESS,{day}T10:00:00+08:00,,,\n"
        ),
    );
    w.run(&["import-sales", sales.to_str().unwrap()]).expect_code(0);
    // Any later run notices it, e.g. the run of the day before today.
    w.run(&["reconcile", "--date", &(today - chrono::Days::new(1)).to_string()]);
    let mails = server.mails();
    let warn = mails.iter().find(|m| m.subject.contains("will be deleted")).expect("a deletion warning");
    assert_eq!(
        warn.subject,
        format!("[alipay-recon] ALERT {day} HK-Store: files of {day} will be deleted by Alipay in 2 days")
    );
    // Once per date.
    w.run(&["reconcile", "--date", &(today - chrono::Days::new(1)).to_string()]);
    assert_eq!(server.mails().iter().filter(|m| m.subject.contains("will be deleted")).count(), 1);
}

#[test]
fn starttls_is_not_silently_skipped_when_the_server_does_not_offer_it() {
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "starttls", ""));
    let a = Alert::RunFailed { date: None, command: "import".into(), error: "e".into(), next_step: "n".into() };
    notify::enqueue(&mut db(&w), &notify::alert("HK-Store", &a).unwrap()).unwrap();
    let r = w.run(&["outbox", "send"]).expect_code(2);
    assert!(r.stderr.to_lowercase().contains("starttls") || r.stderr.contains("TLS"), "{}", r.stderr);
    assert!(server.mails().is_empty(), "nothing may travel unencrypted when starttls is configured");
    assert_eq!(notify::list(&db(&w), false).unwrap().len(), 1);
}

#[test]
fn payments_stuck_in_manual_review_are_reported_by_the_daily_run() {
    use alipay_recon::payment::ledger;
    let server = SmtpServer::start(Mode::Plain);
    let w = workspace(&smtp_email(server.port, "plain", ""));
    let created = DateTime::parse_from_rfc3339("2026-11-25T15:00:00+08:00").unwrap();
    let attempt = stuck_attempt("POS-STUCK-1", 123_456, "coffee", created);
    ledger::insert_attempt(&db(&w), &attempt).unwrap();
    w.run(&["reconcile", "--date", DATE]);
    let mails = server.mails();
    let m = mails.iter().find(|m| m.subject.contains("manual review")).expect("a manual-review alert");
    assert_eq!(m.subject, "[alipay-recon] ALERT 2026-11-25 HK-Store: 1 payment stuck in manual review");
    let text = m.part("text/plain").text();
    assert!(text.contains("POS-STUCK-1 HKD 1,234.56") && text.contains("cancel answered U 4 times"), "{text}");
    // The same stuck set on the same date: no second alert.
    w.run(&["reconcile", "--date", DATE]);
    assert_eq!(server.mails().iter().filter(|m| m.subject.contains("manual review")).count(), 1);
}
