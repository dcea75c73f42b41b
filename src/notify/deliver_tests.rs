use super::*;
use crate::notify::{enqueue, Part};

fn cfg(dir: &std::path::Path, extra: &str) -> Config {
    let text = format!(
        "environment = \"s\"\n[merchant]\nname = \"M\"\n[environments.s]\nmerchant_id = \"2188000000000001\"\n[source]\nkind = \"dir\"\ndir = \"x\"\n[store]\ndatabase = \"db\"\narchive_dir = \"a\"\nreports_dir = \"r\"\n[email]\n{extra}"
    );
    Config::from_toml(&text, "test.toml", dir.to_path_buf(), &[]).unwrap()
}

fn msg(key: &str, kind: Kind) -> Message {
    Message {
        key: key.into(),
        kind,
        business_date: Some("2026-11-25".parse().unwrap()),
        version: 1,
        merchant: "HK-Store".into(),
        subject: "Subject".into(),
        text: "plain".into(),
        html: Some("<p>html <img src=\"cid:trend.png\"></p>".into()),
        parts: vec![
            Part {
                name: "discrepancies.csv".into(),
                content_type: "text/csv".into(),
                bytes: b"a,b\n1,2\n".to_vec(),
                inline: false,
            },
            Part {
                name: "trend.png".into(),
                content_type: "image/png".into(),
                bytes: vec![0x89, b'P', b'N', b'G', 0, 1, 2],
                inline: true,
            },
        ],
    }
}

#[test]
fn file_transport_writes_one_eml_per_message_and_marks_it_sent() {
    let d = tempfile::tempdir().unwrap();
    let c = cfg(d.path(), "transport = \"file\"\nfrom = \"Recon <recon@shop.example>\"\nto = [\"fin@shop.example\"]");
    let mut conn = crate::store::open_in_memory().unwrap();
    enqueue(&mut conn, &msg("daily/2026-11-25/v1", Kind::Daily)).unwrap();
    let r = deliver_pending(&conn, &c).unwrap();
    assert_eq!(r.sent, vec!["daily/2026-11-25/v1".to_string()]);
    let eml = std::fs::read_to_string(d.path().join("outbox-eml/daily_2026-11-25_v1.eml")).unwrap();
    assert!(eml.contains("To: fin@shop.example\r\n"), "{eml}");
    assert!(eml.contains("Message-ID: <daily.2026-11-25.v1."), "{eml}");
    assert!(eml.contains("@shop.example>"), "{eml}");
    for ct in ["multipart/mixed", "multipart/alternative", "multipart/related", "Content-ID: <trend.png>"] {
        assert!(eml.contains(ct), "{ct} missing:\n{eml}");
    }
    // Sent once: a second pass finds nothing.
    assert_eq!(deliver_pending(&conn, &c).unwrap(), DeliveryReport::default());
    assert_eq!(outbox::list(&conn, true).unwrap()[0].status, "sent");
}

#[test]
fn message_id_is_stable_per_key_and_merchant() {
    let from: Mailbox = "R <r@ex.com>".parse().unwrap();
    let a = msg("daily/2026-11-25/v1", Kind::Daily);
    let mut b = a.clone();
    b.text = "changed".into();
    assert_eq!(message_id(&a, &from), message_id(&b, &from));
    b.merchant = "Other".into();
    assert_ne!(message_id(&a, &from), message_id(&b, &from));
    let v2 = msg("daily/2026-11-25/v2", Kind::Daily);
    assert_ne!(message_id(&a, &from), message_id(&v2, &from));
}

#[test]
fn routes_pick_kind_then_alert_then_defaults() {
    let d = tempfile::tempdir().unwrap();
    let c = cfg(
        d.path(),
        "to = [\"fin@x.y\"]\ncc = [\"boss@x.y\"]\n[email.routes.alert]\nto = [\"ops@x.y\"]\n[email.routes.run_failed]\nto = [\"dev@x.y\"]\ncc = []",
    );
    let addrs = |k| {
        let (to, cc) = recipients(&c.email, k).unwrap();
        (
            to.iter().map(|m| m.email.to_string()).collect::<Vec<_>>(),
            cc.iter().map(|m| m.email.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(addrs(Kind::Daily), (vec!["fin@x.y".into()], vec!["boss@x.y".into()]));
    assert_eq!(addrs(Kind::FilesMissing), (vec!["ops@x.y".into()], vec!["boss@x.y".into()]));
    assert_eq!(addrs(Kind::RunFailed), (vec!["dev@x.y".into()], vec![]));
}

#[test]
fn transport_none_suppresses_instead_of_piling_up() {
    let d = tempfile::tempdir().unwrap();
    let c = cfg(d.path(), "transport = \"none\"");
    let mut conn = crate::store::open_in_memory().unwrap();
    enqueue(&mut conn, &msg("k1", Kind::RunFailed)).unwrap();
    let r = deliver_pending(&conn, &c).unwrap();
    assert_eq!((r.suppressed, r.sent.len()), (1, 0));
    assert!(outbox::list(&conn, false).unwrap().is_empty());
}

#[test]
fn unreachable_server_keeps_messages_and_defers_the_rest() {
    // A port nobody listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let d = tempfile::tempdir().unwrap();
    let c = cfg(
        d.path(),
        &format!("transport = \"smtp\"\nfrom = \"r@x.y\"\nto = [\"f@x.y\"]\nattempts = 2\nbackoff_ms = 10\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\ntimeout_secs = 2"),
    );
    let mut conn = crate::store::open_in_memory().unwrap();
    enqueue(&mut conn, &msg("a", Kind::Daily)).unwrap();
    enqueue(&mut conn, &msg("b", Kind::Daily)).unwrap();
    let r = deliver_pending(&conn, &c).unwrap();
    assert_eq!((r.sent.len(), r.failed.len(), r.deferred.len()), (0, 1, 1));
    assert_eq!((r.waiting_keys(), r.waiting()), (vec!["a", "b"], 2), "the deferred message is named");
    assert!(
        r.failed[0].1.contains(&format!("127.0.0.1:{port}")) && r.failed[0].1.contains("outbox send"),
        "{}",
        r.failed[0].1
    );
    let l = outbox::list(&conn, false).unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!((l[0].attempts, l[1].attempts), (2, 0));
}

#[test]
fn missing_password_env_names_the_key_and_sends_nothing() {
    let d = tempfile::tempdir().unwrap();
    let c = cfg(
        d.path(),
        "transport = \"smtp\"\nfrom = \"r@x.y\"\nto = [\"f@x.y\"]\n[email.smtp]\nhost = \"127.0.0.1\"\nuser = \"u\"\npassword = { env = \"ALIPAY_RECON_TEST_UNSET_PW\" }",
    );
    let mut conn = crate::store::open_in_memory().unwrap();
    enqueue(&mut conn, &msg("a", Kind::Daily)).unwrap();
    let e = format!("{:#}", deliver_pending(&conn, &c).unwrap_err());
    assert!(e.contains("email.smtp.password") && e.contains("ALIPAY_RECON_TEST_UNSET_PW"), "{e}");
    assert_eq!(outbox::list(&conn, false).unwrap().len(), 1);
}

#[test]
fn a_message_that_cannot_be_built_does_not_block_the_others() {
    let d = tempfile::tempdir().unwrap();
    let c = cfg(d.path(), "transport = \"file\"");
    let mut conn = crate::store::open_in_memory().unwrap();
    let mut bad = msg("bad", Kind::Daily);
    bad.parts[0].content_type = "not a content type".into();
    enqueue(&mut conn, &bad).unwrap();
    enqueue(&mut conn, &msg("good", Kind::Daily)).unwrap();
    let r = deliver_pending(&conn, &c).unwrap();
    assert_eq!(r.sent, vec!["good".to_string()]);
    assert_eq!(r.failed.len(), 1);
    assert!(r.failed[0].1.contains("cannot build outbox message bad"), "{:?}", r.failed);
    let waiting = outbox::list(&conn, false).unwrap();
    assert_eq!((waiting.len(), waiting[0].key.as_str()), (1, "bad"));
}

#[test]
fn certificate_failures_are_told_apart_from_other_tls_and_network_errors() {
    // OpenSSL's texts as lettre (native-tls) reports them: a connection error, not `is_tls()`.
    let verify = "Connection error: error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889:";
    for why in [
        "(self-signed certificate)",
        "(unable to get local issuer certificate)",
        "(IP address mismatch)",
        "(hostname mismatch)",
        "(certificate has expired)",
    ] {
        let t = format!("{verify} {why}");
        assert!(looks_like_certificate(&t) && looks_like_tls(&t), "{t}");
    }
    let proto = "Connection error: error:0A00010B:SSL routines:ssl3_get_record:wrong version number";
    assert!(!looks_like_certificate(proto) && looks_like_tls(proto));
    let refused = "Connection error: Connection refused (os error 111)";
    assert!(!looks_like_certificate(refused) && !looks_like_tls(refused));
    assert!(CERTIFICATE_HINT.contains("email.smtp.ca_file"));
}
