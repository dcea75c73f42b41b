//! Shared text handling for the parsers: encoding detection, line splitting, header normalisation
//! with per-layout alias tables, field trimming, and the amount / currency / time cell readers.
//!
//! Every layout reads its file as a [`Table`]: an optional preamble, one header row found by its
//! columns (never by position), then data rows checked for their field count. What a row *means* is
//! the layout's business; this module only knows text.

use super::{ParseContext, ParseError, Reject};
use crate::domain::parsed::Extra;
use crate::domain::{parse_major, parse_timestamp, BusinessZone, Currency};
use chrono::{DateTime, FixedOffset};
use std::borrow::Cow;
use std::sync::Arc;

/// The canonical columns the parsers understand. Each layout maps its own header names to these
/// through an alias table; a header that maps to nothing is kept in `extra`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Col {
    Type,
    Status,
    /// The merchant's id of this row (payment id, or refund id on refund rows where the layout says so).
    MerchantId,
    /// The merchant's id of the original payment (antom originalTransactionRequestId).
    OrigMerchantId,
    AlipayId,
    OrigAlipayId,
    /// Pricing (order) amount and currency.
    Amount,
    Currency,
    /// Amount in the settlement currency (gross, or net where the layout only has one column).
    SettleAmount,
    SettleCurrency,
    /// Net settlement amount when the layout has gross and net columns (classic `Settlement`).
    NetSettle,
    Fee,
    FeeCurrency,
    TransTime,
    SettleTime,
    BatchRef,
    Remark,
    StoreId,
    ProductCode,
    Count,
}

/// A layout's alias table: canonical column → header spellings (normalised by [`norm`] on use).
pub type Aliases = [(Col, &'static [&'static str])];

/// Header normalisation: case-insensitive, spaces and underscores removed
/// (`Partner_transaction_ id` and `partnerTransactionId` are the same column).
pub fn norm(h: &str) -> String {
    h.chars().filter(|c| !c.is_whitespace() && *c != '_').flat_map(|c| c.to_lowercase()).collect()
}

/// Decodes a file: UTF-8 BOM, then strict UTF-8, then GB18030 (classic files carry GBK remarks).
pub fn decode(bytes: &[u8]) -> (String, &'static str) {
    let (s, enc) = decode_cow(bytes);
    (s.into_owned(), enc)
}

/// [`decode`] without copying a valid UTF-8 file (a day's file can be hundreds of MB).
pub fn decode_cow(bytes: &[u8]) -> (Cow<'_, str>, &'static str) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return (String::from_utf8_lossy(rest), "utf-8-bom");
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), "utf-8"),
        Err(_) => {
            // GB18030 maps every byte sequence; malformed ones become U+FFFD and stay visible in `raw`.
            let (s, _) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            (s, "gb18030")
        }
    }
}

/// Non-blank lines with their 1-based physical line numbers; CRLF and LF both end a line.
pub fn lines(text: &str) -> Vec<(u32, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| ((i + 1) as u32, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect()
}

// The splitter against the `csv` crate (benches/csv_split.rs, BENCHMARKS.md "CSV splitter"; 1M-row
// intl file, 185 MB, release, medians of 7, two runs): here 241 / 215 ms; the crate reading
// `StringRecord`s with the fields trimmed as read 215 / 172 ms (0.89x / 0.80x: faster); the crate
// trimming itself (`Trim::All`) 551 / 430 ms (2.3x / 2.0x). Splitting is 7-9% of a whole parse. By
// the numbers the crate has earned the parsers; it is not in yet because it reads three inputs
// otherwise (test `odd_inputs_the_csv_crate_reads_otherwise`: a quote after blanks, a quote never
// closed, a line of blanks), so the switch has to rebuild `Table`'s framing around it (line numbers,
// raw text of rejects, `<END>`, the cut last line) with those rules kept: open in issue 19, item 4.

/// A quoted field may hold at most this many line breaks; a quote still open after that is taken as
/// a stray quote (each physical line is then read on its own) rather than swallowing the file.
const MAX_QUOTED_BREAKS: usize = 64;

/// The records of a file: like [`lines`], but for comma-separated files a line break inside a quoted
/// field (RFC 4180) continues the record on the next physical line. A record is named by its first
/// physical line; its text spans the lines it covers (the splitter reads the break as field content).
pub fn records(text: &str, delim: Delim) -> Vec<(u32, &str)> {
    if delim != Delim::Comma || !text.contains('"') {
        return lines(text);
    }
    // (line number, byte start, byte end without the line ending) of every physical line.
    let mut phys: Vec<(u32, usize, usize)> = Vec::new();
    let mut start = 0;
    for (i, l) in text.split('\n').enumerate() {
        let end = start + l.strip_suffix('\r').unwrap_or(l).len();
        phys.push(((i + 1) as u32, start, end));
        start += l.len() + 1;
    }
    let mut out = Vec::with_capacity(phys.len());
    let mut i = 0;
    while i < phys.len() {
        let (no, s, e) = phys[i];
        let mut last = i;
        if ends_in_quote(&text[s..e], false) {
            // Find the physical line that closes the quote.
            let mut open = true;
            let mut j = i + 1;
            while open && j < phys.len() && j - i <= MAX_QUOTED_BREAKS {
                open = ends_in_quote(&text[phys[j].1..phys[j].2], true);
                j += 1;
            }
            if !open {
                last = j - 1;
            }
        }
        let text_of = &text[s..phys[last].2];
        if !text_of.trim().is_empty() {
            out.push((no, text_of));
        }
        i = last + 1;
    }
    out
}

/// Whether a quoted field is still open at the end of `line`, read as [`split_csv`] reads it
/// (`quoted`: the line starts inside a quoted field).
fn ends_in_quote(line: &str, mut quoted: bool) -> bool {
    // `blank`: the field read so far is blank (split_csv's `cur.trim().is_empty()`).
    let mut blank = !quoted;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                blank = false;
            }
            '"' if quoted => quoted = false,
            '"' if blank => quoted = true,
            ',' if !quoted => blank = true,
            c if !c.is_whitespace() => blank = false,
            _ => {}
        }
    }
    quoted
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delim {
    /// Comma-separated with optional RFC 4180 quotes inside one line.
    Comma,
    /// Pipe-separated, no quoting (classic).
    Pipe,
}

/// Splits one line into trimmed fields.
pub fn split(line: &str, delim: Delim) -> Vec<String> {
    match delim {
        Delim::Pipe => line.split('|').map(|f| f.trim().to_string()).collect(),
        Delim::Comma if !line.contains('"') => line.split(',').map(|f| f.trim().to_string()).collect(),
        Delim::Comma => split_csv(line),
    }
}

/// [`split`] into a reused buffer, borrowing the fields from the line: the per-row path allocates
/// nothing unless a field is quoted.
pub fn split_into<'l>(line: &'l str, delim: Delim, out: &mut Vec<Cow<'l, str>>) {
    out.clear();
    match delim {
        Delim::Pipe => out.extend(line.split('|').map(|f| Cow::Borrowed(f.trim()))),
        Delim::Comma if !line.contains('"') => out.extend(line.split(',').map(|f| Cow::Borrowed(f.trim()))),
        Delim::Comma => out.extend(split_csv(line).into_iter().map(Cow::Owned)),
    }
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            // A quote opens a quoted section only at the start of a field (ignoring blanks).
            '"' if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// A header row resolved against an alias table.
#[derive(Debug, Clone)]
pub struct Header {
    /// Names as written (trimmed).
    pub names: Vec<String>,
    cols: Vec<Option<Col>>,
    /// The columns no alias names, sorted by (name, position): the order of a row's [`Extra`]. Each
    /// name is made once here and shared by every row.
    extra: Vec<(usize, Arc<str>)>,
}

impl Header {
    pub fn new(names: Vec<String>, aliases: &Aliases) -> Header {
        let mut cols: Vec<Option<Col>> = Vec::with_capacity(names.len());
        for n in &names {
            let k = norm(n);
            let c = aliases.iter().find(|(_, a)| a.iter().any(|x| norm(x) == k)).map(|(c, _)| *c);
            // The first column of a canonical kind wins; a second spelling of it goes to `extra`.
            cols.push(c.filter(|c| !cols.contains(&Some(*c))));
        }
        let mut extra: Vec<(usize, Arc<str>)> =
            (0..names.len()).filter(|&i| cols[i].is_none()).map(|i| (i, Arc::from(names[i].as_str()))).collect();
        extra.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
        Header { names, cols, extra }
    }

    pub fn has(&self, c: Col) -> bool {
        self.cols.contains(&Some(c))
    }

    /// How many columns the alias table recognised.
    pub fn known(&self) -> usize {
        self.cols.iter().filter(|c| c.is_some()).count()
    }

    fn index(&self, c: Col) -> Option<usize> {
        self.cols.iter().position(|x| *x == Some(c))
    }
}

/// One data row bound to its header. The fields live in a buffer reused from row to row.
#[derive(Debug, Clone)]
pub struct Record<'t> {
    pub line: u32,
    pub raw: &'t str,
    header: &'t Header,
    fields: &'t [Cow<'t, str>],
}

/// A cell that cannot be read; becomes a [`Reject`] naming the column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    pub field: String,
    pub reason: String,
}

impl<'t> Record<'t> {
    /// The trimmed cell of column `c`; `None` when the column is absent or the cell empty.
    pub fn get(&self, c: Col) -> Option<&'t str> {
        let i = self.header.index(c)?;
        self.fields.get(i).map(|s| s.as_ref()).filter(|s| !s.is_empty())
    }

    /// The header name of `c` as written in the file, for messages.
    pub fn name(&self, c: Col) -> String {
        self.header.index(c).map(|i| self.header.names[i].clone()).unwrap_or_else(|| format!("{c:?}"))
    }

    fn err(&self, c: Col, reason: String) -> CellError {
        CellError { field: self.name(c), reason }
    }

    /// The columns the alias table does not know, by header as written; empty cells are skipped. A
    /// name written twice keeps its last non-empty value (as a map filled column by column would).
    pub fn extra(&self) -> Extra {
        let mut pairs: Vec<(Arc<str>, String)> = Vec::new();
        for (i, name) in &self.header.extra {
            let Some(v) = self.fields.get(*i).filter(|v| !v.is_empty()) else { continue };
            match pairs.last_mut() {
                Some((last, value)) if last == name => *value = v.to_string(),
                _ => {
                    if pairs.capacity() == 0 {
                        pairs.reserve_exact(self.header.extra.len());
                    }
                    pairs.push((name.clone(), v.to_string()));
                }
            }
        }
        Extra::from_sorted(pairs)
    }

    pub fn currency(&self, c: Col) -> Result<Option<Currency>, CellError> {
        match self.get(c) {
            None => Ok(None),
            Some(s) => Currency::parse(s).map(Some).map_err(|e| self.err(c, e.to_string())),
        }
    }

    /// A signed amount in minor units of `cur` (empty → `None`; `+`/`-` accepted; no floats).
    pub fn amount(&self, c: Col, cur: Option<Currency>) -> Result<Option<i64>, CellError> {
        let Some(s) = self.get(c) else { return Ok(None) };
        let Some(cur) = cur else {
            return Err(
                self.err(c, format!("amount '{s}' has no currency (no currency column and none in the file name)"))
            );
        };
        parse_major(s, cur).map(Some).map_err(|e| self.err(c, e.to_string()))
    }

    /// A timestamp: its own offset kept, naive ones read in `zone`.
    pub fn time(&self, c: Col, zone: &BusinessZone) -> Result<Option<DateTime<FixedOffset>>, CellError> {
        match self.get(c) {
            None => Ok(None),
            Some(s) => parse_timestamp(s, zone).map(Some).map_err(|e| self.err(c, e.to_string())),
        }
    }

    /// A non-negative integer count.
    pub fn count(&self, c: Col) -> Result<Option<i64>, CellError> {
        match self.get(c) {
            None => Ok(None),
            Some(s) => s
                .trim_start_matches('+')
                .parse::<i64>()
                .map(Some)
                .map_err(|_| self.err(c, format!("'{s}' is not a whole number"))),
        }
    }

    pub fn reject(&self, e: CellError) -> Reject {
        let reason = format!("{}: row not imported; check it in Alipay's portal or ask for a corrected file", e.reason);
        reject(self.line, Some(e.field), reason, self.raw)
    }
}

pub fn reject(line: u32, field: Option<String>, reason: String, raw: &str) -> Reject {
    Reject { line, field, reason, raw: raw.chars().take(1000).collect() }
}

/// How a layout's table looks.
pub struct TableSpec<'a> {
    pub delim: Delim,
    pub aliases: &'a Aliases,
    /// Columns a line must have to be taken as the header.
    pub required: &'a [Col],
    /// Non-blank lines allowed before the header (preambles).
    pub max_preamble: usize,
    /// The layout ends with a `<END>` line (antom).
    pub end_marker: bool,
    /// Documented headers to assume, by width, when a file has rows but no header line (classic
    /// settlement samples are headerless). Empty: no header is an error.
    pub fallback: &'a [&'a [&'a str]],
}

/// A decoded file split into preamble, header and data lines. The lines are split into fields only
/// when [`Table::scan`] reaches them, so a large file is never held as fields all at once.
pub struct Table<'t> {
    pub encoding: &'static str,
    pub preamble: Vec<(u32, &'t str)>,
    pub header: Header,
    /// (line, raw text) of the data lines before any `<END>`.
    pub data: Vec<(u32, &'t str)>,
    /// Lines rejected while finding the table (text after `<END>`); [`Table::scan`] adds the rows of
    /// the wrong width.
    pub rejects: Vec<Reject>,
    /// `Some` only for layouts with an end marker.
    pub has_end_marker: Option<bool>,
    /// No header line was found: the columns were taken from `TableSpec::fallback`.
    pub header_assumed: bool,
    /// The file ends inside its last data line: no line ending after it and fewer fields than the
    /// header (line, fields). The file was cut (contracts.md §2); it is incomplete.
    pub cut_line: Option<(u32, usize)>,
    delim: Delim,
}

impl<'t> Table<'t> {
    /// Calls `f` with each data line in file order — a record, or the reject of a line whose width
    /// is not the header's — stopping when it returns `false`. Returns `false` when `f` stopped it.
    pub fn scan(&self, mut f: impl FnMut(Result<&Record<'_>, Reject>) -> bool) -> bool {
        let width = self.header.names.len();
        let mut buf: Vec<Cow<'t, str>> = Vec::with_capacity(width + 1);
        for &(no, l) in &self.data {
            split_into(l, self.delim, &mut buf);
            // One trailing empty field beyond the header is a trailing delimiter, not data.
            if buf.len() == width + 1 && buf.last().is_some_and(|x| x.is_empty()) {
                buf.pop();
            }
            if buf.len() != width {
                let reason = format!("has {} fields but the header has {width}: not imported", buf.len());
                if !f(Err(reject(no, None, reason, l))) {
                    return false;
                }
                continue;
            }
            if !f(Ok(&Record { line: no, raw: l, header: &self.header, fields: &buf })) {
                return false;
            }
        }
        true
    }
}

/// Reads `text` (already decoded) as a table. Fails only when no header can be found.
pub fn read_table<'t>(
    text: &'t str,
    encoding: &'static str,
    spec: &TableSpec<'_>,
    ctx: &ParseContext,
) -> Result<Table<'t>, ParseError> {
    let mut ls = records(text, spec.delim);
    let found = ls.iter().take(spec.max_preamble + 1).position(|(_, l)| {
        let h = Header::new(split(l, spec.delim), spec.aliases);
        spec.required.iter().all(|c| h.has(*c))
    });
    let (header, data_from, assumed) = match found {
        Some(hi) => (Header::new(split(ls[hi].1, spec.delim), spec.aliases), hi, false),
        None => {
            let width = ls.first().map(|(_, l)| split(l, spec.delim).len()).unwrap_or(0);
            match spec.fallback.iter().find(|h| h.len() == width) {
                Some(h) => (Header::new(h.iter().map(|s| s.to_string()).collect(), spec.aliases), 0, true),
                None => return Err(no_header(spec, ctx)),
            }
        }
    };
    // With an assumed header every line is data; otherwise the data starts after the header line.
    let (pre_end, data_start) = if assumed { (0, 0) } else { (data_from, data_from + 1) };
    let preamble = ls[..pre_end].to_vec();
    // The line index becomes the data index in place (no second copy of a million-line index).
    ls.drain(..data_start);
    let mut t = Table {
        encoding,
        preamble,
        header,
        data: Vec::new(),
        rejects: Vec::new(),
        has_end_marker: spec.end_marker.then_some(false),
        header_assumed: assumed,
        cut_line: None,
        delim: spec.delim,
    };
    // The end marker is found before any row is read, so a streaming caller knows up front whether
    // the file is complete; everything after it is rejected.
    let end = if spec.end_marker { ls.iter().position(|(_, l)| l.trim() == "<END>") } else { None };
    if let Some(e) = end {
        t.has_end_marker = Some(true);
        let end_line = ls[e].0;
        for &(no, l) in &ls[e + 1..] {
            t.rejects.push(reject(no, None, format!("text after the <END> line {end_line}: not imported"), l));
        }
        ls.truncate(e);
    }
    t.data = ls;
    t.cut_line = cut_last_line(text, &t);
    Ok(t)
}

/// The last data line when the file ends inside it: no line ending after it, and fewer fields than
/// the header.
fn cut_last_line(text: &str, t: &Table<'_>) -> Option<(u32, usize)> {
    if text.ends_with('\n') || text.ends_with('\r') {
        return None;
    }
    let &(no, l) = t.data.last()?;
    let end = l.as_ptr() as usize - text.as_ptr() as usize + l.len();
    if end != text.len() {
        return None;
    }
    let fields = split(l, t.delim).len();
    (fields < t.header.names.len()).then_some((no, fields))
}

fn no_header(spec: &TableSpec<'_>, ctx: &ParseContext) -> ParseError {
    ParseError {
        file: ctx.file_name.clone(),
        message: format!(
            "no {} {} header found in the first {} non-blank lines (it needs the columns {}); check that the \
             file belongs to this format (source.formats) and kind (layouts.{})",
            ctx.format,
            ctx.kind,
            spec.max_preamble + 1,
            spec.aliases
                .iter()
                .filter(|(c, _)| spec.required.contains(c))
                .map(|(_, a)| a[0])
                .collect::<Vec<_>>()
                .join(", "),
            ctx.format
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_headers() {
        assert_eq!(norm("Partner_transaction_ id"), "partnertransactionid");
        assert_eq!(norm(" original_partner_transaction_ID"), "originalpartnertransactionid");
        assert_eq!(norm("Fee"), norm("fee"));
    }

    #[test]
    fn decodes_bom_utf8_gb18030() {
        assert_eq!(decode(b"\xEF\xBB\xBFa,b"), ("a,b".to_string(), "utf-8-bom"));
        assert_eq!(decode("备注".as_bytes()), ("备注".to_string(), "utf-8"));
        let (gbk, _, _) = encoding_rs::GB18030.encode("退款备注");
        assert_eq!(decode(&gbk), ("退款备注".to_string(), "gb18030"));
    }

    #[test]
    fn splits_and_trims() {
        assert_eq!(split("852.40 ,8.52 ,HKD", Delim::Comma), ["852.40", "8.52", "HKD"]);
        assert_eq!(split(r#"a,"b, c","say ""hi""",d"#, Delim::Comma), ["a", "b, c", "say \"hi\"", "d"]);
        assert_eq!(split("0001| x |", Delim::Pipe), ["0001", "x", ""]);
        assert_eq!(lines("a\r\n\r\n  \nb\n"), vec![(1, "a"), (4, "b")]);
    }

    /// A row's unknown columns come out as a map of them would: sorted by name, empty cells left
    /// out, and a name written twice keeping its last non-empty value.
    #[test]
    fn extra_columns_read_like_a_map_of_them() {
        let aliases: &Aliases = &[(Col::Type, &["type"])];
        let names = ["zeta", "type", "alpha", "mid", "alpha", "zeta", "mid"];
        let header = Header::new(names.iter().map(|s| s.to_string()).collect(), aliases);
        let read = |cells: [&str; 7]| {
            let fields: Vec<Cow<str>> = cells.iter().map(|c| Cow::Borrowed(*c)).collect();
            let rec = Record { line: 2, raw: "", header: &header, fields: &fields };
            let mut want = std::collections::BTreeMap::new();
            for (n, c) in names.iter().zip(cells) {
                if *n != "type" && !c.is_empty() {
                    want.insert(n.to_string(), c.to_string());
                }
            }
            assert_eq!(rec.extra(), Extra::from(want.clone()));
            assert_eq!(serde_json::to_string(&rec.extra()).unwrap(), serde_json::to_string(&want).unwrap());
            assert_eq!(
                rec.extra().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>(),
                want.into_iter().collect::<Vec<_>>()
            );
        };
        read(["z1", "P", "a1", "m1", "a2", "z2", "m2"]);
        read(["z1", "P", "a1", "", "", "", "m2"]);
        read(["", "P", "", "m1", "a2", "z2", ""]);
        read(["", "P", "", "", "", "", ""]);
    }

    /// The odd inputs the splitter reads differently from the `csv` crate (why it stays; see the
    /// comment at `records` and BENCHMARKS.md "CSV splitter"). If the crate ever reads them our way,
    /// these fail: time to measure again.
    #[test]
    fn odd_inputs_the_csv_crate_reads_otherwise() {
        let crate_reads = |text: &str| -> Vec<Vec<String>> {
            let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
            rd.records().map(|r| r.unwrap().iter().map(|f| f.trim().to_string()).collect()).collect()
        };
        // A quote after blanks opens a quoted field here; the crate takes it as text and splits inside.
        assert_eq!(split(r#"a, "b, c",d"#, Delim::Comma), ["a", "b, c", "d"]);
        assert_eq!(crate_reads("a, \"b, c\",d\n"), [["a", "\"b", "c\"", "d"]]);
        // A quote never closed: each line is read alone after MAX_QUOTED_BREAKS lines; the crate
        // swallows the rest of the file into one field.
        let mut file = "x,\"open,1\n".to_string();
        for i in 0..100 {
            file.push_str(&format!("y{i},2\n"));
        }
        assert_eq!(records(&file, Delim::Comma).len(), 101);
        assert_eq!(crate_reads(&file).len(), 1);
        // A line of blanks is no record here; the crate reads it as a one-field row (a reject).
        assert_eq!(records("a,b\n   \nc,d\n", Delim::Comma).len(), 2);
        assert_eq!(crate_reads("a,b\n   \nc,d\n").len(), 3);
    }
}
