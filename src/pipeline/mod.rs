//! The driver: runs the data path for a date — source → archive → parse → store → reconcile → report
//! → notify. [`run_days`] (`runner`) owns the order of a day's steps; this file holds the import
//! steps and the run records; each step's logic lives in its own module.

use crate::archive::{sha256_hex, Archive};
use crate::config::{Config, SourceKind};
use crate::domain::FileKind;
use crate::formats::{self, BatchError, ParseContext, ParsedFile, Reject, Rows};
use crate::source::{dir::DirSource, FileSource, RemoteFile};
use crate::store::{self, files::FileMeta, files::Imported};
use crate::sys::exit::NotReady;
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, SendError};

pub mod day;
pub mod email;
pub mod runner;

pub use runner::{run_days, DayObserver, DayOptions, DayRun, Phase};

/// Everything a command needs: the config, the open database and the archive.
pub struct Workspace {
    pub cfg: Config,
    pub conn: Connection,
    pub archive: Archive,
    /// Fetch files again even when one with the same name, size and remote mtime was imported
    /// (`--refetch`).
    pub refetch: bool,
    /// Copies imported pages from the WAL into the database beside the next step.
    pub checkpoint: store::Checkpointer,
    /// Set by `run` for the date it imports and then reconciles: imports keep the rows they store
    /// here, and the reconciliation's window load takes them instead of reading them back.
    pub handoff: Option<store::handoff::Handoff>,
}

impl Workspace {
    pub fn open(cfg: Config) -> Result<Workspace> {
        let conn = store::open(&cfg.path(&cfg.store.database))?;
        let archive = Archive::new(cfg.path(&cfg.store.archive_dir));
        Ok(Workspace { cfg, conn, archive, refetch: false, checkpoint: Default::default(), handoff: None })
    }
}

/// The configured file source.
pub fn open_source(cfg: &Config) -> Result<Box<dyn FileSource>> {
    let mid = &cfg.active().merchant_id;
    match cfg.source.kind {
        SourceKind::Dir => {
            let dir = cfg.path(cfg.source.dir.as_deref().expect("validated: dir source has a dir"));
            anyhow::ensure!(
                dir.is_dir(),
                "source.dir {} is not a folder: check the `source.dir` setting",
                dir.display()
            );
            Ok(Box::new(DirSource::new(dir, mid)))
        }
        SourceKind::Sftp => Ok(Box::new(crate::source::sftp::SftpSource::from_config(cfg)?)),
    }
}

/// What happened to one listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    Imported {
        file_id: i64,
        rows: usize,
        rejects: usize,
        warnings: usize,
    },
    Restated {
        file_id: i64,
        version: i64,
        rows: usize,
    },
    Unchanged {
        file_id: i64,
    },
    /// Incomplete before the deadline (antom without `<END>`): fetch again later.
    Deferred {
        reason: String,
    },
}

#[derive(Debug, Clone, Default)]
pub struct DayImport {
    pub date: Option<NaiveDate>,
    pub files: Vec<(RemoteFile, FileOutcome)>,
    pub missing_dirs: Vec<String>,
    pub refused: Vec<(String, String)>,
    /// Files skipped as still being written (fetched on a later run).
    pub unstable: Vec<(String, String)>,
    /// Matching names that could not be read: not a regular file, or the download failed for a
    /// reason of the file (permission denied, gone, changed while fetched), with the reason.
    pub skipped: Vec<(String, String)>,
    /// Where the transaction files were looked for ([`crate::source::searched`]), for messages.
    pub searched: Vec<String>,
}

impl DayImport {
    /// Every matching file of the day that was seen but not read, with why (contracts.md §2): a
    /// refused name, still being written, not a regular file, unreadable, incomplete before the
    /// deadline. Any makes the day incomplete.
    pub fn incomplete(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        out.extend(self.refused.iter().cloned());
        out.extend(self.unstable.iter().cloned());
        out.extend(self.skipped.iter().cloned());
        for (f, o) in &self.files {
            if let FileOutcome::Deferred { reason } = o {
                out.push((f.name.to_string(), reason.clone()));
            }
        }
        out
    }

    pub fn has_transactions(&self) -> bool {
        self.files.iter().any(|(f, o)| f.kind == FileKind::Transactions && !matches!(o, FileOutcome::Deferred { .. }))
    }
    /// Files to fetch again later: incomplete (no `<END>`) or still being written on the server.
    pub fn deferred(&self) -> usize {
        self.files.iter().filter(|(_, o)| matches!(o, FileOutcome::Deferred { .. })).count() + self.unstable.len()
    }
}

/// "Not ready" (exit 3): before the deadline, no complete transaction file of `date` was fetched now
/// and none is stored from an earlier fetch (Alipay may already have deleted a file we imported).
pub fn not_ready(ws: &Workspace, day: &DayImport, date: NaiveDate, now: DateTime<Utc>) -> Result<Option<NotReady>> {
    let deadline = deadline(&ws.cfg, date);
    if now >= deadline {
        return Ok(None);
    }
    let local = deadline.with_timezone(&ws.cfg.business.timezone.offset_at(deadline));
    // A matching file seen but not read (now or by an earlier run) makes the day incomplete.
    let skipped = store::skipped::list(&ws.conn, date, date)?;
    if !skipped.is_empty() {
        let what: Vec<String> = skipped.iter().map(|s| format!("{} ({})", s.name.escape_debug(), s.reason)).collect();
        return Ok(Some(NotReady(format!(
            "{} of {date} could not be read yet, so the day is incomplete: {}; retry later (deadline {}; after it \
             the report names each such file as FILE_INTEGRITY and keeps the day's sales pending)",
            if skipped.len() == 1 { "1 file".to_string() } else { format!("{} files", skipped.len()) },
            what.join("; "),
            local.format("%Y-%m-%d %H:%M %:z")
        ))));
    }
    if day.has_transactions() && day.deferred() == 0 {
        return Ok(None);
    }
    let stored =
        store::files::list(&ws.conn, date, date, true)?.iter().any(|f| f.kind == "transactions" && !f.truncated);
    if stored {
        return Ok(None);
    }
    let missing =
        if day.deferred() > 0 { "incomplete (no <END> yet, or still being written)" } else { "not there yet" };
    Ok(Some(NotReady(format!(
        "the transaction files of {date} are {missing} (searched {}); retry later (deadline {}); if they should be \
         there, {}",
        day.searched.join("; "),
        local.format("%Y-%m-%d %H:%M %:z"),
        crate::source::where_to_look_hint(&ws.cfg)
    ))))
}

/// After the deadline, when `date` has no complete transaction file (fetched now or stored before):
/// the warning naming where it was looked for and what to check.
pub fn no_transactions_warning(ws: &Workspace, day: &DayImport, date: NaiveDate) -> Result<Option<String>> {
    if day.has_transactions() && day.deferred() == 0 {
        return Ok(None);
    }
    if store::files::list(&ws.conn, date, date, true)?.iter().any(|f| f.kind == "transactions" && !f.truncated) {
        return Ok(None);
    }
    Ok(Some(format!(
        "no complete Alipay transaction file for {date} after the deadline (searched {}): the reconciliation reports \
         it and keeps the day's sales pending; {}",
        day.searched.join("; "),
        crate::source::where_to_look_hint(&ws.cfg)
    )))
}

/// The instant after which day `date`'s missing or incomplete files are final.
pub fn deadline(cfg: &Config, date: NaiveDate) -> DateTime<Utc> {
    let t = cfg.business.deadline().expect("validated deadline");
    let next = date.succ_opt().expect("date in range");
    cfg.business.timezone.localize(next.and_time(t)).expect("deadline exists in zone").with_timezone(&Utc)
}

/// Fetches, archives, parses and stores every file of `date` from `source`. Each file imports in its
/// own transaction; an error on one file stops the day with a message naming that file.
pub fn import_day(
    ws: &mut Workspace,
    source: &mut dyn FileSource,
    date: NaiveDate,
    now: DateTime<Utc>,
    run_id: Option<i64>,
) -> Result<DayImport> {
    import_day_with(ws, source, date, now, run_id, &mut runner::Unobserved)
}

/// [`import_day`] with a callback before each file (index, total, file) — `import` draws its bar with it.
pub fn import_day_observed(
    ws: &mut Workspace,
    source: &mut dyn FileSource,
    date: NaiveDate,
    now: DateTime<Utc>,
    run_id: Option<i64>,
    on_file: &mut dyn FnMut(usize, usize, &RemoteFile),
) -> Result<DayImport> {
    /// Passes the files' fetch steps to the callback.
    struct OnFile<'a>(&'a mut dyn FnMut(usize, usize, &RemoteFile));
    impl DayObserver for OnFile<'_> {
        fn file(&mut self, phase: Phase, done: usize, total: usize, file: &RemoteFile) {
            if phase == Phase::Fetch {
                (self.0)(done, total, file)
            }
        }
    }
    import_day_with(ws, source, date, now, run_id, &mut OnFile(on_file))
}

/// [`import_day`] reporting to `obs`: [`Phase::Fetch`] before the listing, [`Phase::Import`] after it,
/// then each file as the import waits for it (`Phase::Fetch`) and as its import starts. Files are
/// imported in the listing's order; the next one is fetched on a second thread while one imports.
pub fn import_day_with(
    ws: &mut Workspace,
    source: &mut dyn FileSource,
    date: NaiveDate,
    now: DateTime<Utc>,
    run_id: Option<i64>,
    obs: &mut dyn DayObserver,
) -> Result<DayImport> {
    obs.phase(date, Phase::Fetch);
    let layouts = ws.cfg.layouts_in_use();
    let listing = source
        .list_day(date, &layouts)
        .with_context(|| format!("cannot list the files of {date} on {}", source.describe()))?;
    let staging = ws.archive.root().join("incoming");
    std::fs::create_dir_all(&staging).with_context(|| {
        format!(
            "cannot create the staging folder {}: check `store.archive_dir`, permissions and free disk space",
            staging.display()
        )
    })?;
    let past_deadline = now >= deadline(&ws.cfg, date);
    let mut out = DayImport {
        date: Some(date),
        searched: crate::source::searched(&ws.cfg, date, &listing.missing_dirs),
        missing_dirs: listing.missing_dirs,
        refused: listing.refused,
        unstable: listing.unstable,
        skipped: listing.not_files,
        ..Default::default()
    };
    // Room for the rows a run keeps for its reconciliation, made once (they are not copied as they come).
    if let Some(h) = ws.handoff.as_mut() {
        h.reserve_for(listing.files.iter().filter(|f| f.kind != FileKind::SettlementSummary).map(|f| f.size).sum());
    }
    let total = listing.files.len();
    obs.phase(date, Phase::Import);
    // Already fetched with the same name, size and mtime: not downloaded again (unless --refetch).
    let mut plan: Vec<(RemoteFile, Option<i64>)> = Vec::with_capacity(total);
    for file in listing.files {
        let known = if ws.refetch { None } else { store::files::find_fetched(&ws.conn, &file)? };
        plan.push((file, known));
    }
    let describe = source.describe();
    // The next file downloads on a thread of its own while this one imports (a day's two detail
    // files are hundreds of MB each: over SFTP their transfers, from a folder their copy and flush,
    // overlap the parse and store of the one before). Two files ahead at most (one waiting, one being
    // fetched: the small settlement summary is listed between the two detail files), so the staging
    // folder holds at most three of the day's files.
    let ahead: Vec<(RemoteFile, std::path::PathBuf)> = plan
        .iter()
        .filter(|(_, known)| known.is_none())
        .map(|(file, _)| (file.clone(), staging.join(file.name.as_str())))
        .collect();
    // Set when the day stops on a file: the fetcher fetches nothing more.
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| -> Result<()> {
        let (fetched_tx, fetched_rx) = sync_channel::<(std::path::PathBuf, Result<()>)>(1);
        let stopped = &stop;
        let fetcher = std::thread::Builder::new().name("fetch".into());
        // The fetch logs (retries, resumed downloads) go where this thread's do, in the same span.
        let (logs, span) = (tracing::dispatcher::get_default(Clone::clone), tracing::Span::current());
        fetcher
            .spawn_scoped(scope, move || {
                tracing::dispatcher::with_default(&logs, || {
                    let _span = span.enter();
                    for (file, dest) in ahead {
                        if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                            return;
                        }
                        let fetched = source.fetch(&file, &dest);
                        // Refused only when the importing thread is gone (it panicked).
                        if let Err(std::sync::mpsc::SendError((dest, _))) = fetched_tx.send((dest, fetched)) {
                            let _ = std::fs::remove_file(&dest);
                            return;
                        }
                    }
                })
            })
            .context("cannot start the thread that fetches the day's files: the system refused a new thread (check the process and memory limits, `ulimit -u` and free memory), then run the date again")?;
        let imported = import_fetched(ws, plan, &fetched_rx, date, &describe, past_deadline, run_id, obs, &mut out);
        if imported.is_err() {
            // The day stops here: the files fetched ahead leave the staging folder.
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            for (dest, _) in fetched_rx.iter() {
                let _ = std::fs::remove_file(&dest);
            }
        }
        imported
    })?;
    // What the listing saw but did not fetch stays recorded until the same name is imported.
    for (name, why) in out.refused.iter().chain(&out.unstable).chain(&out.skipped) {
        store::skipped::record(&ws.conn, date, name, name, why, run_id)?;
    }
    Ok(out)
}

/// Imports the day's files in the listing's order (`plan`: each with its file id when it was fetched
/// before), taking each new one from the fetch thread (`ready`, in the same order) as it is ready. Stops at the first
/// error that is not the file's own.
#[allow(clippy::too_many_arguments)]
fn import_fetched(
    ws: &mut Workspace,
    plan: Vec<(RemoteFile, Option<i64>)>,
    ready: &std::sync::mpsc::Receiver<(std::path::PathBuf, Result<()>)>,
    date: NaiveDate,
    describe: &str,
    past_deadline: bool,
    run_id: Option<i64>,
    obs: &mut dyn DayObserver,
    out: &mut DayImport,
) -> Result<()> {
    let total = plan.len();
    for (i, (file, known)) in plan.into_iter().enumerate() {
        obs.file(Phase::Fetch, i, total, &file);
        if let Some(file_id) = known {
            store::skipped::clear(&ws.conn, file.date, file.name.as_str())?;
            out.files.push((file, FileOutcome::Unchanged { file_id }));
            continue;
        }
        // Err: the fetching thread ended early, which only a panic does (the scope re-raises it).
        let Ok((dest, fetched)) = ready.recv() else {
            anyhow::bail!("the thread fetching {} stopped unexpectedly", file.remote_path)
        };
        let fetched = fetched.with_context(|| format!("cannot fetch {} from {describe}", file.remote_path));
        if let Err(e) = fetched {
            // A problem of this file (not of the connection or this machine): the day is incomplete.
            if !is_file_problem(&e) {
                return Err(e);
            }
            tracing::warn!(file = %file.name, error = %format!("{e:#}"), "file not read");
            store::skipped::record(
                &ws.conn,
                file.date,
                file.name.as_str(),
                &file.remote_path,
                &format!("{e:#}"),
                run_id,
            )?;
            out.skipped.push((file.name.to_string(), format!("{e:#}")));
            continue;
        }
        obs.file(Phase::Import, i, total, &file);
        tracing::debug!(file = %file.name, "importing");
        let bytes = std::fs::read(&dest).with_context(|| format!("cannot read {}", dest.display()))?;
        let fetched = Fetched { file: &file, source: describe, bytes: &bytes, staged: Some(&dest) };
        let outcome = import_bytes(ws, fetched, past_deadline, run_id)?;
        let _ = std::fs::remove_file(&dest);
        // The file's pages go from the WAL into the database while the next file imports (after the
        // last file the reconciliation starts one before its window loads).
        if i + 1 < total {
            ws.checkpoint.start(&ws.conn);
        }
        tracing::info!(file = %file.name, date = %date, outcome = ?outcome, "file processed");
        match &outcome {
            FileOutcome::Deferred { reason } => {
                store::skipped::record(&ws.conn, file.date, file.name.as_str(), &file.remote_path, reason, run_id)?
            }
            _ => store::skipped::clear(&ws.conn, file.date, file.name.as_str())?,
        }
        out.files.push((file, outcome));
    }
    Ok(())
}

/// A fetch failure that belongs to the file, not to the connection or this machine: the server
/// answered (no such file, permission denied, it changed while fetched), or a local copy of a
/// source folder could not read it. The day is then incomplete instead of the run failing.
fn is_file_problem(e: &anyhow::Error) -> bool {
    use crate::source::sftp::SftpError;
    if let Some(s) = e.downcast_ref::<SftpError>() {
        return matches!(s, SftpError::Remote { retry: false, .. });
    }
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| matches!(io.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotFound))
}

/// Rows per batch handed from the parser thread to the store: big enough to amortise the channel,
/// small enough that the batches in flight stay a few MB.
const BATCH_ROWS: usize = 20_000;
/// Batches the parser may run ahead of the store.
const BATCHES_IN_FLIGHT: usize = 2;

/// One file's bytes to import: what the file is, where it came from, and — for a fetched download —
/// the flushed file the bytes were read from, which the archive links instead of writing a copy.
#[derive(Clone, Copy)]
pub struct Fetched<'a> {
    pub file: &'a RemoteFile,
    pub source: &'a str,
    pub bytes: &'a [u8],
    pub staged: Option<&'a Path>,
}

/// Archives, parses and stores one file's bytes. The parse runs on a second thread and streams its
/// rows in batches into ONE transaction held here, so parsing and inserting overlap and the file's
/// rows are never all in memory; any parse or SQL error rolls the whole file back. With a
/// `ws.handoff`, a stored file's rows are kept there for the reconciliation (others are dropped).
pub fn import_bytes(ws: &mut Workspace, f: Fetched, past_deadline: bool, run_id: Option<i64>) -> Result<FileOutcome> {
    // Rows kept for the reconciliation stay only with a stored file.
    let mark = ws.handoff.as_ref().map(|h| h.mark());
    let out = store_bytes(ws, f, past_deadline, run_id);
    if let (Some(h), Some(mark)) = (ws.handoff.as_mut(), mark) {
        match &out {
            Ok(FileOutcome::Imported { file_id, .. } | FileOutcome::Restated { file_id, .. }) => {
                h.commit(*file_id, mark)
            }
            _ => h.discard(mark),
        }
    }
    out
}

/// [`import_bytes`] without the hand-over bookkeeping.
fn store_bytes(ws: &mut Workspace, f: Fetched, past_deadline: bool, run_id: Option<i64>) -> Result<FileOutcome> {
    let Fetched { file, source, bytes, staged } = f;
    let sha = sha256_hex(bytes);
    if let Some(id) = store::files::find_same(&ws.conn, file.name.as_str(), file.date, &sha)? {
        return Ok(FileOutcome::Unchanged { file_id: id });
    }
    let ctx = ParseContext {
        file_name: file.name.to_string(),
        format: file.format,
        kind: file.kind,
        zone: ws.cfg.business.timezone,
        name_currency: file.currency.as_deref().and_then(|c| crate::domain::Currency::parse(c).ok()),
    };
    let meta = FileMeta {
        source: source.to_string(),
        source_path: file.remote_path.clone(),
        name: file.name.to_string(),
        format: file.format,
        kind: file.kind,
        business_date: file.date,
        currency: file.currency.clone(),
        size: bytes.len() as u64,
        sha256: sha,
        // Set by `finish` once the file is archived (and only if it is imported at all).
        archive_path: String::new(),
        remote_mtime: file.mtime,
    };
    let archive = &ws.archive;
    // The parser thread archives the file once it has read it (the end marker decides whether it is
    // imported at all), while this thread is still inserting: the archive write costs no wall time.
    let mut archived = None;
    let keep = ws.handoff.as_mut().map(|h| h.rows_mut());
    let streamed = stream_into(&mut ws.conn, &meta, run_id, keep, |emit| {
        let res = formats::parse_batched(bytes, &ctx, BATCH_ROWS, emit);
        // Incomplete (no `<END>`, or cut inside its last line) before the deadline: fetched again later.
        let deferred =
            matches!(&res, Ok(s) if (s.file.has_end_marker == Some(false) || s.file.is_cut()) && !past_deadline);
        // Emit failed: the store failed and nothing will be imported.
        if !deferred && !matches!(res, Err(BatchError::Emit(_))) {
            archived = Some(match staged {
                Some(staged) => archive.put_linked(bytes, meta.sha256.clone(), staged),
                None => archive.put_hashed(bytes, meta.sha256.clone()),
            });
        }
        res
    })
    .with_context(|| {
        format!("cannot import {}: nothing of it was stored; fix the cause and run again", file.remote_path)
    })?;
    let (imp, parsed, rows) = match streamed {
        StreamOutcome::Unchanged { file_id } => return Ok(FileOutcome::Unchanged { file_id }),
        StreamOutcome::Open { imp, parsed, rows } => (imp, parsed, rows),
    };
    // The end is known only at the end: an incomplete file before the deadline is rolled back
    // (dropping `imp`) and fetched again later.
    let Some(archived) = archived else {
        drop(imp);
        let reason = if parsed.is_cut() {
            "it ends inside its last line (no line ending, fewer fields than the header): cut, or still being written"
        } else {
            "it has no <END> line yet (still uploading or truncated)"
        };
        return Ok(FileOutcome::Deferred { reason: reason.to_string() });
    };
    let (_, archive_path) = archived?;
    let imported = imp.finish(&parsed, rows, &archive_path).with_context(|| {
        format!("cannot import {}: nothing of it was stored; fix the cause and run again", file.remote_path)
    })?;
    Ok(match imported {
        Imported::New { file_id } => {
            FileOutcome::Imported { file_id, rows, rejects: parsed.rejects.len(), warnings: parsed.warnings.len() }
        }
        Imported::Restated { file_id, version } => FileOutcome::Restated { file_id, version, rows },
        Imported::Unchanged { file_id } => FileOutcome::Unchanged { file_id },
    })
}

/// The outcome of [`stream_into`].
#[allow(clippy::large_enum_variant)] // one per file, moved once
pub enum StreamOutcome<'c> {
    Unchanged {
        file_id: i64,
    },
    /// Every row is stored in the still-open transaction; `parsed` has the file-level results.
    Open {
        imp: store::files::FileImport<'c>,
        parsed: ParsedFile,
        rows: usize,
    },
}

/// Runs `parse` on a scoped thread, sending row batches over a bounded channel, and stores each batch
/// as it arrives in the transaction opened by [`store::files::begin`]. A file no parser can read is
/// recorded with one rejected "line 0" (as [`formats::parse`] callers always did). On any error the
/// transaction is dropped: nothing of the file stays. With `keep`, the parser thread also appends each
/// batch's detail rows to it as the window loader would read them back
/// ([`store::handoff::stored_rows`]); the caller drops them if the file is not stored.
pub fn stream_into<'c, P>(
    conn: &'c mut Connection,
    meta: &FileMeta,
    run_id: Option<i64>,
    mut keep: Option<&mut Vec<crate::reconcile::AlipayRow>>,
    parse: P,
) -> Result<StreamOutcome<'c>>
where
    P: FnOnce(
            &mut dyn FnMut(Rows) -> std::result::Result<(), SendError<Rows>>,
        ) -> std::result::Result<formats::Streamed, BatchError<SendError<Rows>>>
        + Send,
{
    let mut imp = match store::files::begin(conn, meta, run_id)? {
        store::files::Begun::Open(imp) => imp,
        store::files::Begun::Unchanged { file_id } => return Ok(StreamOutcome::Unchanged { file_id }),
    };
    let (file_id, kind, date) = (imp.file_id(), meta.kind, meta.business_date);
    let (parsed, stored) = std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<(Rows, store::files::BatchText)>(BATCHES_IN_FLIGHT);
        // Stored batches go back to the parser thread to be freed: a million rows' strings take
        // the inserting thread most of a second to free.
        let (used_tx, used_rx) = channel::<(Rows, store::files::BatchText)>();
        let parser = s.spawn(move || {
            let mut texts = crate::domain::rows::RowTexts::default();
            // The file's extra column names, numbered batch after batch (stored once, at the end).
            let mut columns = store::files::ExtraColumns::default();
            parse(&mut |rows| {
                while let Ok(used) = used_rx.try_recv() {
                    drop(used);
                }
                // Formatting the stored text here keeps it off the inserting thread.
                let text = store::files::row_text(&rows, &mut columns);
                if let (Rows::Detail(d), Some(keep)) = (&rows, keep.as_deref_mut()) {
                    store::handoff::stored_rows(keep, file_id, kind, date, d, &mut texts);
                }
                tx.send((rows, text)).map_err(|SendError((rows, _))| SendError(rows))
            })
        });
        let mut stored = Ok(());
        // Where this thread's time goes (a debug line): waiting for the parser, or inserting.
        let (mut waited, mut inserting) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        let mut t = std::time::Instant::now();
        for (batch, text) in rx.iter() {
            waited += t.elapsed();
            t = std::time::Instant::now();
            stored = imp.add_with_text(&batch, &text);
            inserting += t.elapsed();
            if stored.is_err() {
                break;
            }
            // Once the parser is done the batch is freed here.
            let _ = used_tx.send((batch, text));
            t = std::time::Instant::now();
        }
        tracing::debug!(
            file = %meta.name,
            wait_ms = waited.as_millis() as u64,
            insert_ms = inserting.as_millis() as u64,
            "rows stored"
        );
        // Hanging up makes the parser's next send fail, so it stops instead of parsing on.
        drop(rx);
        let parsed = parser.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (parsed, stored)
    });
    stored?;
    let (parsed, rows) = match parsed {
        Ok(s) => (s.file, s.row_count),
        Err(BatchError::Parse(e)) if imp.rows() == 0 => (unreadable(meta.kind, e.message), 0),
        Err(BatchError::Parse(e)) => {
            anyhow::bail!(
                "{}: the parse failed after {} rows were read: {e}; nothing was imported",
                meta.name,
                imp.rows()
            )
        }
        // Only a store failure hangs up the channel, and that error was returned above.
        Err(BatchError::Emit(_)) => anyhow::bail!("{}: the rows could not be stored; nothing was imported", meta.name),
    };
    Ok(StreamOutcome::Open { imp, parsed, rows })
}

/// A file no parser could read is still recorded (and archived) with one rejected "line 0".
fn unreadable(kind: FileKind, message: String) -> ParsedFile {
    ParsedFile {
        encoding: "unknown",
        header: Vec::new(),
        declared_count: None,
        has_end_marker: None,
        rows: if kind == FileKind::SettlementSummary { Rows::Summary(Vec::new()) } else { Rows::Detail(Vec::new()) },
        rejects: vec![Reject {
            line: 0,
            field: None,
            reason: format!("the whole file is unreadable: {message}"),
            raw: String::new(),
        }],
        warnings: Vec::new(),
    }
}

/// Imports local sales files (sales-v1 or mapped); each file in one transaction.
pub fn import_sales(
    ws: &mut Workspace,
    path: &Path,
    run_id: Option<i64>,
) -> Result<(crate::sales::ParsedSales, store::sales::SalesImport)> {
    use store::sales::{Begun, Chunk, Importer};
    let bytes = std::fs::read(path).with_context(|| format!("cannot read sales file {}", path.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let shown = path.display().to_string();
    let (conn, archive, zone, sales_cfg) = (&mut ws.conn, &ws.archive, &ws.cfg.business.timezone, &ws.cfg.sales);
    // Three threads beside this one's inserts: the parser, handing its records over in chunks with
    // their time texts as it reads them; the archive copy (write, flush) once the bytes are hashed;
    // this thread stores the chunks as they come. The import commits only after the archive copy is
    // written, so the database never refers to bytes the archive does not hold.
    let (parsed, archived, begun, failed) = std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<Chunk>(4);
        let parser = s.spawn(|| {
            crate::sales::parse_in_chunks(&bytes, &shown, zone, sales_cfg, SALES_CHUNK, move |records| {
                let _ = tx.send(Chunk::new(records));
            })
        });
        let sha = sha256_hex(&bytes);
        let archived = s.spawn({
            let (bytes, sha) = (&bytes, sha.clone());
            move || archive.put_hashed(bytes, sha)
        });
        let mut begun = Importer::begin(conn, &sha, run_id);
        let mut failed = None;
        for chunk in rx {
            if let (Ok(Begun::New(importer)), None) = (&mut begun, &failed) {
                failed = importer.add_chunk(&chunk).err();
            }
        }
        let parsed = parser.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (parsed, archived.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), begun, failed)
    });
    let parsed = parsed?;
    let (sha, archive_path) = archived?;
    let cannot =
        || format!("cannot import sales file {shown}: nothing of it was stored; fix the cause and import it again");
    let importer = match begun.with_context(cannot)? {
        Begun::Known(id) => return Ok((parsed, store::sales::SalesImport::known(id))),
        Begun::New(importer) => importer,
    };
    if let Some(e) = failed {
        return Err(e).with_context(cannot); // the importer is dropped: nothing is stored
    }
    let meta =
        store::sales::SalesFileMeta { path: shown.clone(), name, sha256: sha, size: bytes.len() as u64, archive_path };
    let res = importer.finish(&meta, &parsed).with_context(cannot)?;
    Ok((parsed, res))
}

/// Records per chunk that a sales file's parser hands to its import.
const SALES_CHUNK: usize = 8192;

/// Runs `f` as a recorded run: a `runs` row before, its outcome and exit code after (also on error).
pub fn recorded<T>(
    ws: &mut Workspace,
    command: &str,
    date: Option<NaiveDate>,
    f: impl FnOnce(&mut Workspace, i64) -> Result<(crate::sys::exit::Outcome, T)>,
) -> Result<(crate::sys::exit::Outcome, T)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run_id = store::runs::start(&ws.conn, command, &args, date)?;
    let result = f(ws, run_id);
    use crate::sys::exit::{code, code_of_error, Outcome};
    let (outcome, exit, message) = match &result {
        Ok((Outcome::Clean, _)) => ("ok", code::CLEAN, None),
        Ok((Outcome::Attention, _)) => ("attention", code::ATTENTION, None),
        Err(e) => {
            let c = code_of_error(e);
            let o = match c {
                code::NOT_READY => "not_ready",
                code::LOCKED => "locked",
                _ => "failed",
            };
            (o, c, Some(format!("{e:#}")))
        }
    };
    store::runs::finish(&ws.conn, run_id, outcome, exit, message.as_deref(), None)?;
    result
}

#[cfg(test)]
mod fetch_tests;
#[cfg(test)]
mod handoff_tests;
#[cfg(test)]
mod state_tests;
#[cfg(test)]
mod stream_tests;
