//! The outbox table (sql/0004_outbox.sql): every message is stored here before any delivery attempt
//! and stays until a server accepted it. Keys make enqueueing idempotent, so a retried run that
//! composes the same alert again adds nothing; [`plan_daily`] turns "once per date, a rerun only
//! when asked" into a version number.

use super::{Kind, Message, Part};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

/// Result of [`enqueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored as a new pending message with this outbox id.
    New(i64),
    /// A message with the same key already exists (pending or sent): nothing added.
    Exists(i64),
}

/// Whether a day's report email is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DailyPlan {
    /// Compose and enqueue with this version (1 the first time, n+1 on a requested resend).
    Send { version: u32 },
    /// Version `version` is already in the outbox (`status` pending or sent): send nothing.
    /// `changed` tells whether the new message would differ (worth a resend, which the user asks for).
    AlreadyQueued { version: u32, status: String, changed: Option<bool> },
}

/// Decides the daily email of `date`: once per date; with `resend` (the user asked, e.g. a rerun
/// with `--resend-email`) a new version. `fingerprint` of a freshly composed message, when known,
/// fills `changed`.
pub fn plan_daily(conn: &Connection, date: NaiveDate, resend: bool, fingerprint: Option<&str>) -> Result<DailyPlan> {
    let last: Option<(u32, String, String)> = conn
        .query_row(
            "SELECT version, status, fingerprint FROM outbox WHERE kind = 'daily' AND business_date = ?1 ORDER BY version DESC LIMIT 1",
            [date.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .context("cannot read the outbox")?;
    Ok(match last {
        None => DailyPlan::Send { version: 1 },
        Some((v, _, _)) if resend => DailyPlan::Send { version: v + 1 },
        Some((version, status, fp)) => {
            DailyPlan::AlreadyQueued { version, status, changed: fingerprint.map(|f| f != fp) }
        }
    })
}

/// Stores `msg` as pending unless a message with its key exists. One transaction: the row and its
/// attachments land together or not at all.
pub fn enqueue(conn: &mut Connection, msg: &Message) -> Result<Enqueued> {
    let tx = conn.transaction().context("cannot write to the outbox")?;
    if let Some(id) =
        tx.query_row("SELECT id FROM outbox WHERE msg_key = ?1", [&msg.key], |r| r.get::<_, i64>(0)).optional()?
    {
        return Ok(Enqueued::Exists(id));
    }
    tx.execute(
        "INSERT INTO outbox (msg_key, kind, business_date, version, merchant, subject, text_body, html_body, fingerprint, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            msg.key,
            msg.kind.as_str(),
            msg.business_date.map(|d| d.to_string()),
            msg.version,
            msg.merchant,
            msg.subject,
            msg.text,
            msg.html,
            msg.fingerprint(),
            crate::store::now_text()
        ],
    )
    .with_context(|| format!("cannot store message {} in the outbox", msg.key))?;
    let id = tx.last_insert_rowid();
    for (i, p) in msg.parts.iter().enumerate() {
        tx.execute(
            "INSERT INTO outbox_parts (outbox_id, position, name, content_type, inline, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, i as i64, p.name, p.content_type, p.inline, p.bytes],
        )?;
    }
    tx.commit().with_context(|| format!("cannot store message {} in the outbox", msg.key))?;
    Ok(Enqueued::New(id))
}

/// One outbox row, without its content (for `outbox list`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub business_date: Option<String>,
    pub subject: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub sent_via: Option<String>,
    pub attachments: i64,
    pub bytes: i64,
}

/// Outbox rows, oldest first; `all = false` lists only those still waiting (pending).
pub fn list(conn: &Connection, all: bool) -> Result<Vec<OutboxEntry>> {
    let mut st = conn.prepare(
        "SELECT o.id, o.msg_key, o.kind, o.business_date, o.subject, o.status, o.attempts, o.last_error, o.created_at,
                o.sent_at, o.sent_via,
                (SELECT COUNT(*) FROM outbox_parts p WHERE p.outbox_id = o.id),
                length(o.text_body) + COALESCE(length(o.html_body), 0)
                  + COALESCE((SELECT SUM(length(p.bytes)) FROM outbox_parts p WHERE p.outbox_id = o.id), 0)
         FROM outbox o WHERE ?1 OR o.status = 'pending' ORDER BY o.id",
    )?;
    let rows = st.query_map([all], |r| {
        Ok(OutboxEntry {
            id: r.get(0)?,
            key: r.get(1)?,
            kind: r.get(2)?,
            business_date: r.get(3)?,
            subject: r.get(4)?,
            status: r.get(5)?,
            attempts: r.get(6)?,
            last_error: r.get(7)?,
            created_at: r.get(8)?,
            sent_at: r.get(9)?,
            sent_via: r.get(10)?,
            attachments: r.get(11)?,
            bytes: r.get(12)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Loads a stored message with its parts.
pub(crate) fn load(conn: &Connection, id: i64) -> Result<Message> {
    let (key, kind, date, version, merchant, subject, text, html): (
        String,
        String,
        Option<String>,
        u32,
        String,
        String,
        String,
        Option<String>,
    ) = conn.query_row(
        "SELECT msg_key, kind, business_date, version, merchant, subject, text_body, html_body FROM outbox WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
    )?;
    let mut st = conn
        .prepare("SELECT name, content_type, inline, bytes FROM outbox_parts WHERE outbox_id = ?1 ORDER BY position")?;
    let parts = st
        .query_map([id], |r| {
            Ok(Part { name: r.get(0)?, content_type: r.get(1)?, inline: r.get(2)?, bytes: r.get(3)? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let kind = Kind::parse(&kind).with_context(|| format!("outbox row {id} has unknown kind '{kind}'"))?;
    let business_date = date.as_deref().and_then(|d| d.parse().ok());
    Ok(Message { key, kind, business_date, version, merchant, subject, text, html, parts })
}

/// Ids of pending messages nobody else is sending right now, oldest first.
pub(crate) fn pending_ids(conn: &Connection, now_unix: i64) -> Result<Vec<i64>> {
    let mut st = conn.prepare(
        "SELECT id FROM outbox WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?1) ORDER BY id",
    )?;
    let ids = st.query_map([now_unix], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// The keys of outbox rows, in the order of `ids`.
pub(crate) fn keys(conn: &Connection, ids: &[i64]) -> Result<Vec<String>> {
    ids.iter().map(|id| Ok(conn.query_row("SELECT msg_key FROM outbox WHERE id = ?1", [id], |r| r.get(0))?)).collect()
}

/// What a message is, for a person: `the daily email for 2026-11-25 (daily/2026-11-25/v1)`,
/// `the manual review alert for 2026-11-25 (manual_review/2026-11-25/3f9a…)`.
pub fn describe(key: &str) -> String {
    let mut parts = key.split('/');
    let kind = parts.next().unwrap_or_default();
    let date = parts.next().filter(|d| d.parse::<NaiveDate>().is_ok()).map(|d| format!(" for {d}")).unwrap_or_default();
    match Kind::parse(kind) {
        Some(Kind::Daily) => format!("the daily email{date} ({key})"),
        Some(k) => format!("the {} alert{date} ({key})", k.as_str().replace('_', " ")),
        None => format!("the message {key}"),
    }
}

/// Claims a pending row until `until_unix` so a concurrent `outbox send` does not send it too.
/// Returns false when another process got it first.
pub(crate) fn claim(conn: &Connection, id: i64, now_unix: i64, until_unix: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE outbox SET claimed_until = ?3 WHERE id = ?1 AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?2)",
        params![id, now_unix, until_unix],
    )?;
    Ok(n == 1)
}

pub(crate) fn mark_sent(conn: &Connection, id: i64, via: &str, message_id: &str, attempts: u32) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?2, sent_via = ?3, message_id = ?4, attempts = attempts + ?5,
                last_attempt_at = ?2, last_error = NULL, claimed_until = NULL WHERE id = ?1",
        params![id, crate::store::now_text(), via, message_id, attempts],
    )
    .with_context(|| {
        format!("the server accepted outbox message {id} but it could not be marked sent: it may be sent twice")
    })?;
    Ok(())
}

pub(crate) fn mark_failed(conn: &Connection, id: i64, error: &str, attempts: u32) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET attempts = attempts + ?3, last_error = ?2, last_attempt_at = ?4, claimed_until = NULL WHERE id = ?1",
        params![id, error, attempts, crate::store::now_text()],
    )?;
    Ok(())
}

/// Deletes the attachments of messages sent (or suppressed) more than `days` days ago and returns
/// how many messages lost them. Rows stay: [`plan_daily`] needs them to never send a date twice.
pub fn prune_parts(conn: &Connection, days: u32) -> Result<usize> {
    let cutoff =
        (chrono::Utc::now() - chrono::Duration::days(days as i64)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let old = "SELECT id FROM outbox WHERE status != 'pending' AND COALESCE(sent_at, created_at) < ?1";
    let msgs: i64 = conn.query_row(
        &format!("SELECT COUNT(DISTINCT outbox_id) FROM outbox_parts WHERE outbox_id IN ({old})"),
        [&cutoff],
        |r| r.get(0),
    )?;
    let parts = conn.execute(&format!("DELETE FROM outbox_parts WHERE outbox_id IN ({old})"), [&cutoff])?;
    tracing::info!(messages = msgs, parts, "pruned outbox attachments");
    Ok(msgs as usize)
}

pub(crate) fn mark_suppressed(conn: &Connection, id: i64) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET status = 'suppressed', sent_via = 'transport none', claimed_until = NULL WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(key: &str, date: &str, version: u32) -> Message {
        Message {
            key: key.into(),
            kind: Kind::Daily,
            business_date: Some(date.parse().unwrap()),
            version,
            merchant: "M".into(),
            subject: "s".into(),
            text: "t".into(),
            html: Some("<p>h</p>".into()),
            parts: vec![Part {
                name: "a.csv".into(),
                content_type: "text/csv".into(),
                bytes: vec![0, 1, 255],
                inline: false,
            }],
        }
    }

    #[test]
    fn describe_names_the_kind_and_date_for_people() {
        assert_eq!(describe("daily/2026-11-25/v2"), "the daily email for 2026-11-25 (daily/2026-11-25/v2)");
        assert_eq!(
            describe("manual_review/2026-11-25/ab12"),
            "the manual review alert for 2026-11-25 (manual_review/2026-11-25/ab12)"
        );
        assert_eq!(describe("run_failed/no-date/1"), "the run failed alert (run_failed/no-date/1)");
        assert_eq!(describe("odd"), "the message odd");
    }

    #[test]
    fn enqueue_is_idempotent_and_round_trips() {
        let mut c = crate::store::open_in_memory().unwrap();
        let m = msg("daily/2026-11-25/v1", "2026-11-25", 1);
        let Enqueued::New(id) = enqueue(&mut c, &m).unwrap() else { panic!("first enqueue is new") };
        assert_eq!(enqueue(&mut c, &m).unwrap(), Enqueued::Exists(id));
        assert_eq!(load(&c, id).unwrap(), m);
        let l = list(&c, false).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].attachments, l[0].status.as_str()), (1, "pending"));
    }

    #[test]
    fn plan_daily_sends_once_and_resends_only_when_asked() {
        let mut c = crate::store::open_in_memory().unwrap();
        let d: NaiveDate = "2026-11-25".parse().unwrap();
        assert_eq!(plan_daily(&c, d, false, None).unwrap(), DailyPlan::Send { version: 1 });
        let m = msg("daily/2026-11-25/v1", "2026-11-25", 1);
        enqueue(&mut c, &m).unwrap();
        let fp = m.fingerprint();
        assert_eq!(
            plan_daily(&c, d, false, Some(&fp)).unwrap(),
            DailyPlan::AlreadyQueued { version: 1, status: "pending".into(), changed: Some(false) }
        );
        assert!(matches!(
            plan_daily(&c, d, false, Some("other")).unwrap(),
            DailyPlan::AlreadyQueued { changed: Some(true), .. }
        ));
        assert_eq!(plan_daily(&c, d, true, None).unwrap(), DailyPlan::Send { version: 2 });
        // Another date is independent.
        assert_eq!(plan_daily(&c, d.succ_opt().unwrap(), false, None).unwrap(), DailyPlan::Send { version: 1 });
    }

    #[test]
    fn claims_exclude_a_second_sender_until_they_expire() {
        let mut c = crate::store::open_in_memory().unwrap();
        let Enqueued::New(id) = enqueue(&mut c, &msg("k", "2026-11-25", 1)).unwrap() else { panic!() };
        assert!(claim(&c, id, 100, 200).unwrap());
        assert!(!claim(&c, id, 150, 250).unwrap());
        assert!(pending_ids(&c, 150).unwrap().is_empty());
        assert_eq!(pending_ids(&c, 201).unwrap(), vec![id]);
        mark_sent(&c, id, "test", "<x@y>", 1).unwrap();
        assert!(pending_ids(&c, 1000).unwrap().is_empty());
        assert!(list(&c, false).unwrap().is_empty());
        assert_eq!(list(&c, true).unwrap()[0].status, "sent");
    }

    #[test]
    fn prune_drops_only_old_sent_attachments() {
        let mut c = crate::store::open_in_memory().unwrap();
        let Enqueued::New(old) = enqueue(&mut c, &msg("old", "2026-01-01", 1)).unwrap() else { panic!() };
        let Enqueued::New(pending) = enqueue(&mut c, &msg("pending", "2026-01-02", 1)).unwrap() else { panic!() };
        mark_sent(&c, old, "t", "<m@x>", 1).unwrap();
        c.execute("UPDATE outbox SET sent_at = '2020-01-01T00:00:00Z', created_at = '2020-01-01T00:00:00Z'", [])
            .unwrap();
        assert_eq!(prune_parts(&c, 90).unwrap(), 1);
        assert!(load(&c, old).unwrap().parts.is_empty());
        assert_eq!(load(&c, pending).unwrap().parts.len(), 1, "pending messages keep everything");
        assert_eq!(list(&c, true).unwrap().len(), 2, "rows stay");
        assert_eq!(prune_parts(&c, 90).unwrap(), 0, "nothing left to prune");
    }
}
