//! The cash bridge per currency (issue 17 §1): what the day's settlement files say Alipay pays and
//! what its summaries say it paid, with the difference broken into named parts that add up exactly.
//!
//! Two views of a currency, told apart:
//! - **Captured** (transaction files, *pricing* currency): gross payments − refunds − cancels = net
//!   captured. A pricing currency whose money settles in another one says so, and gets no 0.00
//!   settlement lines of its own.
//! - **Settlement** (settlement-detail rows dated on the day, *settlement* currency): gross payments −
//!   refunds − cancels − fees ± other lines (settlement fees, adjustments, reserves) = expected net;
//!   settled net is what the settlement summaries state. `settled − expected` = the sum of the parts:
//!   summaries that disagree with their detail rows, detail files no summary covers, and — only if the
//!   data leaves one — an explicit unexplained remainder.
//!
//! - **Roll-forward** ([`Roll`], per currency): net captured today → the engine's parts
//!   (`reconcile::flow`: fees, settlement mismatches, settled in another currency, pending, settles on
//!   a later day, settlement amount not known yet, cancels, earlier days' captures settled today,
//!   priced in another currency, voided pairs, other lines) → expected net → the settlement's parts
//!   above → settled net; exact, with an `unexplained` part only if the data leaves a remainder. The
//!   rules it relies on are cited in `reconcile::flow` (contracts.md §0, §2, §3); none is added here.
//!
//! UNSETTLED rows are earlier captures (contracts.md §0 "unsettled after"), outside the day's roll: they
//! are listed beside it ("to follow up"), each count with its rows. Pure: a function of the report
//! input's totals and rows.

use super::text::html_escape as esc;
use crate::domain::{
    display_money, Category, Currency, CurrencyTotals, DaySummary, Finding, PendingItem, PendingState,
};
use std::fmt::Write;

/// One named amount of the bridge, with the rows (or files) it stands for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Part {
    /// Stable machine name (`summary_mismatch`, `no_summary`, `unexplained`, `pending`, …); also the
    /// HTML anchor `bridge-<currency>-<key>` of the list of its rows.
    pub key: &'static str,
    #[serde(skip)]
    pub label: String,
    /// Signed, minor units of the bridge's currency.
    pub amount: i64,
    /// How many rows (or files) make it up.
    pub count: i64,
    /// What the count links to: one line per row or file.
    #[serde(skip)]
    pub rows: Vec<String>,
    /// Where all its rows are, when the page lists only the first [`LISTED_ROWS`].
    #[serde(skip)]
    pub file: &'static str,
    /// What `count` counts: `row` or `file`.
    #[serde(skip)]
    pub unit: &'static str,
}

impl Part {
    /// `3 rows`, `1 file`.
    pub fn counted(&self) -> String {
        format!("{} {}{}", self.count, self.unit, if self.count == 1 { "" } else { "s" })
    }
}

/// Rows listed under a part on the page (the email's HTML must stay small; the files have them all).
pub const LISTED_ROWS: usize = 10;

/// Payments, refunds and cancels with their counts: the captured view of a pricing currency, and the
/// gross lines of a settlement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Activity {
    pub payments: i64,
    pub payment_count: i64,
    pub refunds: i64,
    pub refund_count: i64,
    pub cancels: i64,
    pub cancel_count: i64,
}

impl Activity {
    /// Payments − refunds − cancels.
    pub fn net(&self) -> i64 {
        self.payments - self.refunds - self.cancels
    }
}

/// The settlement view of one settlement currency.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settlement {
    /// Gross of fees, in the settlement currency.
    pub gross: Activity,
    pub fees: i64,
    pub other: i64,
    pub other_count: i64,
    pub expected_net: i64,
    pub settled_net: i64,
    /// Whether any settlement summary stated the payout (else settled net is the detail rows' sum).
    pub has_summary: bool,
    /// The parts of `settled_net − expected_net`, in report order; they sum to it exactly.
    pub parts: Vec<Part>,
}

impl Settlement {
    pub fn difference(&self) -> i64 {
        self.settled_net - self.expected_net
    }
}

/// The roll-forward of one currency: from the net of the day's captures priced in it to what settled
/// in it, `captured_net + Σ parts = settled_net` exactly (the engine's `reconcile::flow` parts, then
/// the settlement's own parts; an `unexplained` part only if the data leaves a remainder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roll {
    /// The day's captures priced in this currency: (count, net).
    pub captured: (i64, i64),
    /// From the captures to the expected net of the settlement detail.
    pub to_expected: Vec<Part>,
    /// (expected net, settled net); `None` for a currency that nothing settled in today.
    pub settled: Option<(i64, i64)>,
    /// What the parts leave of `settled_net − captured_net`: zero on every day the engine computed.
    pub unexplained: Option<Part>,
}

impl Roll {
    pub fn captured_count(&self) -> i64 {
        self.captured.0
    }
    pub fn captured_net(&self) -> i64 {
        self.captured.1
    }
    pub fn expected_net(&self) -> Option<i64> {
        self.settled.map(|s| s.0)
    }
    /// What settled in this currency today (0 when nothing did).
    pub fn settled_net(&self) -> i64 {
        self.settled.map_or(0, |s| s.1)
    }
    /// `settled_net − expected_net`: the settlement block's difference, whose parts are listed there.
    pub fn to_settled(&self) -> i64 {
        self.settled.map_or(0, |s| s.1 - s.0)
    }

    /// `settled_net − captured_net`.
    pub fn difference(&self) -> i64 {
        self.settled_net() - self.captured_net()
    }

    /// The parts' sum: equal to [`Roll::difference`] by construction.
    pub fn sum(&self) -> i64 {
        self.to_expected.iter().chain(&self.unexplained).map(|p| p.amount).sum::<i64>() + self.to_settled()
    }
}

/// The bridge of one currency code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyBridge {
    pub currency: Currency,
    pub captured: Option<Activity>,
    /// Settlement currencies this pricing currency's money settles in (other than itself).
    pub settles_in: Vec<String>,
    pub settlement: Option<Settlement>,
    /// From the day's captures to the settled net; `None` when the currency has neither.
    pub roll: Option<Roll>,
    /// Money to follow up that is not in the day's payout: pending items, UNSETTLED and
    /// SETTLEMENT_MISMATCH rows in this currency (summary.json's `follow_up`). The page shows the
    /// UNSETTLED ones beside the roll-forward, whose parts hold the pending and mismatched money.
    pub follow_up: Vec<Part>,
}

/// The bridge of every currency of `summary` (sorted by code); `findings` and `pending` give the rows
/// the parts link to. Currency codes that do not parse are skipped (the report checks them first).
pub fn bridge(summary: &DaySummary, findings: &[&Finding], pending: &[&PendingItem]) -> Vec<CurrencyBridge> {
    summary
        .currencies
        .iter()
        .filter_map(|(code, t)| Currency::parse(code).ok().map(|c| (c, t)))
        .map(|(c, t)| {
            let settlement = settlement(c, t, findings);
            CurrencyBridge {
                currency: c,
                captured: captured(t),
                settles_in: t.settles_in.clone(),
                roll: roll(c, t, settlement.as_ref()),
                settlement,
                follow_up: follow_up(c, findings, pending),
            }
        })
        .collect()
}

/// What a roll-forward part is, in the currency `c` (contracts.md sections in `reconcile::flow`).
fn flow_label(key: &str, c: Currency, settles_in: &[String]) -> (String, &'static str) {
    let elsewhere = if settles_in.is_empty() { "another currency".to_string() } else { settles_in.join(", ") };
    let (label, file) = match key {
        "fees" => {
            ("Fees of today's captures settled today (one count per settled capture)".into(), "the settlement files")
        }
        "settlement_mismatch" => (
            "Settlement lines that differ from their transaction, match none, or settle one twice".into(),
            "discrepancies.csv (SETTLEMENT_MISMATCH)",
        ),
        "settled_elsewhere" => (
            format!("Captures priced in {c} settled today in {elsewhere} (at their {c} amount)"),
            "the settlement files",
        ),
        "pending" => ("Pending: captured inside the grace, not settled yet".into(), "pending.csv"),
        "later_day" => (
            "Not settled yet: settles on a later day (gross; its fee is known when it settles)".into(),
            "the transaction files",
        ),
        "not_known_yet" => (
            format!(
                "Not settled yet: settles in {elsewhere} at an amount not known yet (its {c} amount, not converted)"
            ),
            "the transaction files",
        ),
        "cancels" => ("Cancels: no settlement line of their own".into(), "the transaction files"),
        "earlier_captures" => ("Settled today from earlier days' captures".into(), "the settlement files"),
        "priced_elsewhere" => {
            (format!("Settled today in {c} from captures priced in another currency"), "the settlement files")
        }
        "voided_settled" => {
            ("Cancelled payments settled as a payment and a refund that net to zero".into(), "the settlement files")
        }
        "other_lines" => ("Other lines (settlement fees, adjustments, reserves)".into(), "the settlement files"),
        _ => (key.to_string(), "the report folder"),
    };
    (label, file)
}

fn roll(c: Currency, t: &CurrencyTotals, settlement: Option<&Settlement>) -> Option<Roll> {
    let a = alipay_activity(t);
    let captured_count = a.payment_count + a.refund_count + a.cancel_count;
    if captured_count == 0 && t.flow.is_empty() && settlement.is_none() {
        return None;
    }
    let to_expected: Vec<Part> = t
        .flow
        .iter()
        .map(|f| {
            let (label, file) = flow_label(f.key, c, &t.settles_in);
            Part { key: f.key, label, amount: f.amount, count: f.count, rows: f.rows.clone(), file, unit: "row" }
        })
        .collect();
    let settled = settlement.map(|s| (s.expected_net, s.settled_net));
    let mut r = Roll { captured: (captured_count, a.net()), to_expected, settled, unexplained: None };
    r.unexplained = unexplained(r.difference() - r.sum());
    // The parts add up exactly, by construction: a failure here is a bug in this function.
    assert_eq!(r.sum(), r.difference(), "{c}: the roll-forward's parts must add up to settled - captured");
    Some(r)
}

/// The day's captured payments, refunds and cancels of a pricing currency (transaction files).
pub fn alipay_activity(t: &CurrencyTotals) -> Activity {
    Activity {
        payments: t.alipay_payments,
        payment_count: t.alipay_payment_count,
        refunds: t.alipay_refunds,
        refund_count: t.alipay_refund_count,
        cancels: t.alipay_cancels,
        cancel_count: t.alipay_cancel_count,
    }
}

fn captured(t: &CurrencyTotals) -> Option<Activity> {
    let c = alipay_activity(t);
    (c.payment_count + c.refund_count + c.cancel_count > 0).then_some(c)
}

fn settlement(c: Currency, t: &CurrencyTotals, findings: &[&Finding]) -> Option<Settlement> {
    let counts = t.settled_payment_count + t.settled_refund_count + t.settled_cancel_count + t.settled_other_count;
    if counts == 0 && t.settlement_sources.is_empty() && t.expected_net == 0 && t.settled_net == 0 && t.fees == 0 {
        return None;
    }
    let has_summary = t.settlement_sources.iter().any(|s| s.summary_net.is_some());
    let mut parts = Vec::new();
    if has_summary {
        let disagree: Vec<_> =
            t.settlement_sources.iter().filter(|s| s.summary_net.is_some_and(|v| v != s.detail_net)).collect();
        if !disagree.is_empty() {
            let rows: Vec<String> = findings
                .iter()
                .filter(|f| f.category == Category::SummaryMismatch && in_currency(f, c))
                .map(|f| f.detail.clone())
                .collect();
            let files: Vec<String> = disagree.iter().flat_map(|s| s.files.iter().cloned()).collect();
            parts.push(Part {
                key: "summary_mismatch",
                label: format!("Settlement summaries that disagree with their detail rows ({})", files.join(", ")),
                amount: disagree.iter().map(|s| s.summary_net.unwrap_or(0) - s.detail_net).sum(),
                count: rows.len() as i64,
                rows,
                file: "discrepancies.csv",
                unit: "row",
            });
        }
        let unstated: Vec<_> = t.settlement_sources.iter().filter(|s| s.summary_net.is_none()).collect();
        if unstated.iter().any(|s| s.detail_net != 0) {
            let rows: Vec<String> = unstated.iter().flat_map(|s| s.files.iter().cloned()).collect();
            parts.push(Part {
                key: "no_summary",
                label: "Settlement detail that no settlement summary states (its payout is not confirmed)".into(),
                amount: -unstated.iter().map(|s| s.detail_net).sum::<i64>(),
                count: rows.len() as i64,
                rows,
                file: "the report folder",
                unit: "file",
            });
        }
    }
    let explained: i64 = parts.iter().map(|p| p.amount).sum();
    parts.extend(unexplained((t.settled_net - t.expected_net) - explained));
    Some(Settlement {
        gross: Activity {
            payments: t.settled_payments,
            payment_count: t.settled_payment_count,
            refunds: t.settled_refunds,
            refund_count: t.settled_refund_count,
            cancels: t.settled_cancels,
            cancel_count: t.settled_cancel_count,
        },
        fees: t.fees,
        other: t.settled_other,
        other_count: t.settled_other_count,
        expected_net: t.expected_net,
        settled_net: t.settled_net,
        has_summary,
        parts,
    })
}

/// The part for what the other parts leave of a difference, if they leave anything.
fn unexplained(rest: i64) -> Option<Part> {
    (rest != 0).then(|| Part {
        key: "unexplained",
        label: "Unexplained (the data attributes it to nothing above)".into(),
        amount: rest,
        count: 0,
        rows: Vec::new(),
        file: "",
        unit: "row",
    })
}

/// Whether a row's money is in `c` (Alipay's currency when it has one, else the local one).
fn in_currency(f: &Finding, c: Currency) -> bool {
    f.alipay_currency.or(f.currency) == Some(c)
}

/// The row's amount in its currency: Alipay's when it has one, else the local one.
fn amount_of(f: &Finding) -> i64 {
    f.alipay_amount.or(f.local_amount).unwrap_or(0).abs()
}

/// One line of a part's row list: the ids and the amount, as the tables show them.
fn row_line(f: &Finding) -> String {
    let ids: Vec<&str> = [&f.merchant_trans_id, &f.merchant_refund_id]
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(String::as_str)
        .collect();
    let money = f.alipay_currency.or(f.currency).map(|c| display_money(amount_of(f), c)).unwrap_or_default();
    format!("{} {} {money} (item of {})", f.category.as_str(), ids.join(" / "), f.item_date)
}

fn follow_up(c: Currency, findings: &[&Finding], pending: &[&PendingItem]) -> Vec<Part> {
    let mut out = Vec::new();
    let mut add = |key: &'static str, label: &str, rows: Vec<&Finding>, file: &'static str| {
        if !rows.is_empty() {
            out.push(Part {
                key,
                label: label.into(),
                amount: rows.iter().map(|f| amount_of(f)).sum(),
                count: rows.len() as i64,
                rows: rows.iter().map(|f| row_line(f)).collect(),
                file,
                unit: "row",
            });
        }
    };
    let pend: Vec<&Finding> = pending
        .iter()
        .filter(|p| p.state == PendingState::Pending && in_currency(&p.finding, c))
        .map(|p| &p.finding)
        .collect();
    add("pending", "Pending: may settle or resolve with the next files", pend, "pending.csv");
    let of = |cat: Category| findings.iter().copied().filter(|f| f.category == cat && in_currency(f, c)).collect();
    add(
        "unsettled",
        "Unsettled: captured, past the settlement delay, in no settlement file",
        of(Category::Unsettled),
        "discrepancies.csv",
    );
    add(
        "settlement_mismatch",
        "Settlement mismatches: settlement lines that disagree with the transactions",
        of(Category::SettlementMismatch),
        "discrepancies.csv",
    );
    out
}

/// One line of a block as every output shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub label: String,
    pub count: Option<i64>,
    /// Minor units of the bridge's currency; `None` for a note.
    pub amount: Option<i64>,
    /// A result line (= expected net, settled net, difference), shown bold.
    pub total: bool,
    /// The part it shows, whose count links to its rows.
    pub part: Option<Part>,
}

/// A titled block of a currency's bridge: captured, settles in, settled, to follow up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub title: String,
    pub lines: Vec<Line>,
}

fn l(label: &str, count: Option<i64>, amount: i64) -> Line {
    Line { label: label.into(), count, amount: Some(amount), total: false, part: None }
}

fn total(label: &str, amount: i64) -> Line {
    Line { total: true, ..l(label, None, amount) }
}

fn gross_lines(a: &Activity) -> Vec<Line> {
    vec![
        l("Gross payments", Some(a.payment_count), a.payments),
        l("- Refunds", Some(a.refund_count), a.refunds),
        l("- Cancels", Some(a.cancel_count), a.cancels),
    ]
}

fn part_line(p: &Part, indent: &str) -> Line {
    // A remainder stands for no rows: no count.
    let count = (p.key != "unexplained").then_some(p.count);
    Line { part: Some(p.clone()), ..l(&format!("{indent}{}", p.label), count, p.amount) }
}

impl CurrencyBridge {
    /// The blocks of this currency in page order: the one layout of the page, text part and workbook.
    pub fn blocks(&self) -> Vec<Block> {
        let c = self.currency;
        let mut out = Vec::new();
        if let Some(k) = &self.captured {
            let mut lines = gross_lines(k);
            lines.push(total("= Net captured", k.net()));
            out.push(Block { title: format!("Captured today (transaction files, priced in {c})"), lines });
        }
        if !self.settles_in.is_empty() {
            let note = format!(
                "Payments priced in {c} settle in {}: fees and net are in that bridge.",
                self.settles_in.join(", ")
            );
            out.push(Block {
                title: "Settlement currency".into(),
                lines: vec![Line { label: note, count: None, amount: None, total: false, part: None }],
            });
        }
        if let Some(s) = &self.settlement {
            let mut lines = gross_lines(&s.gross);
            lines.push(l("- Fees", None, s.fees));
            if s.other_count > 0 || s.other != 0 {
                lines.push(l("+ Other lines (settlement fees, adjustments, reserves)", Some(s.other_count), s.other));
            }
            lines.push(total("= Expected net (settlement detail)", s.expected_net));
            lines.push(total(
                if s.has_summary {
                    "Settled net (settlement summaries)"
                } else {
                    "Settled net (no summary file: taken from the detail rows)"
                },
                s.settled_net,
            ));
            lines.push(total("Difference (settled - expected)", s.difference()));
            lines.extend(s.parts.iter().map(|p| part_line(p, "  ")));
            out.push(Block { title: format!("Settled today (settlement files, in {c})"), lines });
        }
        if let Some(r) = &self.roll {
            let mut lines =
                vec![l(&format!("Net captured today (priced in {c})"), Some(r.captured_count()), r.captured_net())];
            lines.extend(r.to_expected.iter().map(|p| part_line(p, "  ")));
            if let Some(e) = r.expected_net() {
                lines.push(total("= Expected net (settlement detail)", e));
                lines.push(l("  Settled - expected (its parts are above)", None, r.to_settled()));
            }
            lines.extend(r.unexplained.iter().map(|p| part_line(p, "  ")));
            if r.settled.is_some() {
                lines.push(total("= Settled net", r.settled_net()));
                out.push(Block { title: format!("Roll-forward: today's captures to the settled net (in {c})"), lines });
            } else {
                out.push(Block { title: format!("Where today's {c} captures went (nothing settled in {c})"), lines });
            }
        }
        // Pending and mismatched money are parts of the roll-forward; UNSETTLED rows are earlier
        // captures, outside today's flow (contracts.md §0 "unsettled after").
        let unsettled: Vec<Line> =
            self.follow_up.iter().filter(|p| p.key == "unsettled").map(|p| part_line(p, "")).collect();
        if !unsettled.is_empty() {
            out.push(Block {
                title: "To follow up (earlier captures, not in today's roll-forward)".into(),
                lines: unsettled,
            });
        }
        out
    }
}

fn anchor(c: Currency, key: &str) -> String {
    format!("bridge-{c}-{key}")
}

const TABLE: &str = "border=\"1\" cellpadding=\"4\" cellspacing=\"0\" style=\"border-collapse:collapse;border-color:#cccccc;margin:8px 0 12px 0;font-size:13px;\"";
const TH: &str = "bgcolor=\"#eeeeee\"";

fn row_lists(out: &mut String, c: Currency, parts: &[Part]) {
    for p in parts.iter().filter(|p| !p.rows.is_empty()) {
        let _ =
            writeln!(out, "<div id=\"{}\" style=\"font-size:13px;\"><b>{}</b><ul>", anchor(c, p.key), esc(&p.label));
        let shown = p.rows.len().min(LISTED_ROWS);
        for r in &p.rows[..shown] {
            let _ = writeln!(out, "<li>{}</li>", esc(r));
        }
        let more = (p.count.max(p.rows.len() as i64) - shown as i64).max(0);
        if more > 0 {
            let _ = writeln!(out, "<li>… and {more} more: all are in {}.</li>", esc(p.file));
        }
        out.push_str("</div>\n");
    }
}

/// The `<section id="bridge">` of `report.html`: a table per block; a part's count links to the list
/// of its rows below the tables.
pub fn html(bridges: &[CurrencyBridge]) -> String {
    let mut out = String::new();
    if bridges.is_empty() {
        return out;
    }
    // Long ids and file names break rather than widen the page on a phone.
    out.push_str(
        "<section id=\"bridge\" style=\"overflow-wrap:anywhere;\">\n<h2 style=\"font-size:17px;\">Cash bridge</h2>\n",
    );
    for b in bridges {
        let c = b.currency;
        let _ = writeln!(out, "<h3 style=\"font-size:15px;\" id=\"bridge-{c}\">{c}</h3>");
        let mut parts = Vec::new();
        for block in b.blocks() {
            let _ = writeln!(out, "<table {TABLE}>");
            let _ = writeln!(
                out,
                "<tr><th align=\"left\" {TH}>{}</th><th align=\"right\" {TH} nowrap>Count</th><th align=\"right\" {TH} nowrap>Amount</th></tr>",
                esc(&block.title)
            );
            for line in block.lines {
                let (bo, bc) = if line.total { ("<b>", "</b>") } else { ("", "") };
                let count = match (&line.part, line.count) {
                    (Some(p), Some(n)) if !p.rows.is_empty() => format!("<a href=\"#{}\">{n}</a>", anchor(c, p.key)),
                    (_, Some(n)) => n.to_string(),
                    _ => String::new(),
                };
                // Negative amounts marked as in the rest of the page.
                let amount = line.amount.map(|v| super::text::amount(v, c)).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<tr><td>{bo}{}{bc}</td><td align=\"right\" nowrap>{count}</td><td align=\"right\" nowrap>{bo}{amount}{bc}</td></tr>",
                    esc(&line.label),
                );
                parts.extend(line.part);
            }
            out.push_str("</table>\n");
        }
        row_lists(&mut out, c, &parts);
    }
    out.push_str("</section>\n");
    out
}

/// The bridge for the email's text part: the page's blocks, a line each.
pub fn text(bridges: &[CurrencyBridge]) -> String {
    let mut t = String::new();
    for b in bridges {
        for block in b.blocks() {
            let _ = writeln!(t, "  {} {}:", b.currency, block.title);
            for line in block.lines {
                let count = match (&line.part, line.count) {
                    (Some(p), Some(_)) => format!(" ({})", p.counted()),
                    (None, Some(n)) => format!(" ({n})"),
                    _ => String::new(),
                };
                match line.amount {
                    Some(v) => {
                        let _ = writeln!(t, "    {}{count}: {}", line.label.trim_start(), display_money(v, b.currency));
                    }
                    None => {
                        let _ = writeln!(t, "    {}", line.label);
                    }
                }
            }
        }
    }
    t
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
