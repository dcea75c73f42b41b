//! ARCHITECTURE.md's import rules and table owners, checked against the code: the `use` lines and the
//! `crate::…`/`super::…` paths of every `src/**/*.rs` (test code left out). The rules are read from
//! ARCHITECTURE.md itself, so the document and the check cannot drift apart.

use crate::harness::repo;
use std::path::Path;

/// One source file: its path from the repository root (`src/store/runs.rs`), its code without comments
/// and test code, and that code with its string literals blanked (for paths: an error message may
/// name `store::window`).
struct Source {
    path: String,
    code: String,
    bare: String,
}

impl Source {
    fn new(path: &str, text: &str) -> Source {
        let code = strip(text);
        Source { path: path.to_string(), bare: blank_strings(&code), code }
    }
}

/// The code with the contents of its string literals (plain and raw) replaced by spaces.
fn blank_strings(code: &str) -> String {
    let b = code.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\'' && i + 2 < b.len() && b[i + 2] == b'\'' {
            i += 3; // a char literal such as '"'
            continue;
        }
        if b[i] == b'"' {
            // A raw string r#"…"#: its end is `"` and as many #.
            let mut hashes = 0;
            while hashes < i && b[i - 1 - hashes] == b'#' {
                hashes += 1;
            }
            let raw = i > hashes && b[i - 1 - hashes] == b'r';
            let mut j = i + 1;
            while j < b.len() {
                if !raw && b[j] == b'\\' {
                    out[j] = b' ';
                    if j + 1 < b.len() {
                        out[j + 1] = b' ';
                    }
                    j += 2;
                    continue;
                }
                if b[j] == b'"' && b[j + 1..].iter().take(hashes).filter(|&&c| c == b'#').count() == hashes {
                    break;
                }
                if b[j] != b'\n' {
                    out[j] = b' ';
                }
                j += 1;
            }
            i = j + 1;
            continue;
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A line of ARCHITECTURE.md's "Import rules" or owners list.
#[derive(Debug, Clone)]
enum Rule {
    /// `scope` must not import: items.
    MustNot { scope: String, items: Vec<String>, enabled: bool },
    /// `scope` imports of `target` only: allowed paths.
    OnlyVia { scope: String, target: String, allowed: Vec<String> },
    /// `crate_name` only in: modules.
    OnlyIn { name: String, modules: Vec<String> },
    /// `owner` owns tables: names.
    Owns { owner: String, tables: Vec<String> },
    /// No two files import each other, except: pairs `a` ↔ `b`.
    NoCircles { except: Vec<(String, String)> },
}

fn ticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

fn rules(doc: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    for line in doc.lines() {
        let Some(l) = line.strip_prefix("- ") else { continue };
        let enabled = !l.starts_with("(disabled");
        let l = if enabled { l } else { l.split_once(") ").map(|(_, r)| r).unwrap_or(l) };
        if let Some((head, rest)) = l.split_once(" must not import: ") {
            out.push(Rule::MustNot { scope: ticked(head).remove(0), items: ticked(rest), enabled });
        } else if let Some((head, rest)) = l.split_once(" only: ") {
            let h = ticked(head);
            if h.len() == 2 && head.contains(" imports of ") {
                out.push(Rule::OnlyVia { scope: h[0].clone(), target: h[1].clone(), allowed: ticked(rest) });
            }
        } else if let Some((head, rest)) = l.split_once(" only in: ") {
            out.push(Rule::OnlyIn { name: ticked(head).remove(0), modules: ticked(rest) });
        } else if let Some(rest) = l.strip_prefix("No two files import each other") {
            let t = ticked(rest);
            out.push(Rule::NoCircles { except: t.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect() });
        } else if let Some((head, rest)) = l.split_once(" owns tables: ") {
            out.push(Rule::Owns { owner: ticked(head).remove(0), tables: ticked(rest.split(" (").next().unwrap()) });
        }
    }
    out
}

/// The module path of a file: `src/store/runs.rs` → `["store", "runs"]`, `src/store/mod.rs` →
/// `["store"]`, `src/lib.rs` → `[]`.
fn module_path(path: &str) -> Vec<String> {
    let rel = path.strip_prefix("src/").unwrap_or(path).trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The top module of a file (`store` for `src/store/window/active.rs`, `archive` for `src/archive.rs`).
fn top_module(path: &str) -> String {
    module_path(path).first().cloned().unwrap_or_default()
}

/// Whether a file is in `scope`: a module path (`store`, `sys::os`) or one file's path.
fn in_scope(path: &str, scope: &str) -> bool {
    if scope.ends_with(".rs") {
        path == scope
    } else {
        names(&module_path(path).join("::"), scope)
    }
}

/// The module a scope names: itself, or for one file's path its top module.
fn scope_module(scope: &str) -> String {
    if scope.ends_with(".rs") {
        top_module(scope)
    } else {
        scope.to_string()
    }
}

/// Removes comments and test code (`#[cfg(test)]` items: inline `mod tests { … }`, helper functions).
fn strip(text: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("//") {
            code.push('\n');
            continue;
        }
        let line = match line.find(" // ") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    // Drop each `#[cfg(test)]` item: through its `;` (a `mod x;` in its own file) or its braces.
    while let Some(at) = code.find("#[cfg(test)]") {
        let rest = &code[at..];
        let semi = rest.find(';');
        let brace = rest.find('{');
        let end = match (semi, brace) {
            (Some(s), Some(b)) if s < b => at + s + 1,
            (_, Some(b)) => {
                let mut depth = 0usize;
                let mut end = code.len();
                for (i, c) in rest[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = at + b + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (Some(s), None) => at + s + 1,
            (None, None) => code.len(),
        };
        code.replace_range(at..end, "");
    }
    code
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Every path the code names (`crate::store::runs::start`, `rusqlite::Connection`, `std::fs`), with
/// `super::`/`self::` resolved against the file's module and `crate::` dropped; a group
/// `a::{b, c::d}` names `a::b` and `a::c::d`.
fn paths(s: &Source) -> Vec<String> {
    rooted_paths(s).into_iter().map(|(p, _)| p).collect()
}

/// [`paths`], each with whether it was written from the crate's root (`crate::`, `super::`, `self::`).
fn rooted_paths(s: &Source) -> Vec<(String, bool)> {
    let here = module_path(&s.path);
    let code = &s.bare;
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let prev = if i == 0 { ' ' } else { chars[i - 1].1 };
        if !(c.is_ascii_alphabetic() || c == '_') || is_path_char(prev) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && is_path_char(chars[j].1) {
            j += 1;
        }
        let end = chars.get(j).map(|x| x.0).unwrap_or(code.len());
        let token = &code[start..end];
        i = j;
        if !token.contains("::") {
            continue;
        }
        let mut bases = vec![token.trim_end_matches(':').to_string()];
        if token.ends_with("::") && code[end..].starts_with('{') {
            if let Some(close) = code[end..].find('}') {
                bases = code[end + 1..end + close]
                    .split(',')
                    .map(|p| p.trim().split(" as ").next().unwrap_or("").trim())
                    .filter(|p| !p.is_empty() && *p != "self")
                    .map(|p| format!("{token}{p}"))
                    .collect();
            }
        }
        if token.ends_with("::") && code[end..].starts_with('{') {
            // Past the group: its names were expanded above.
            let close = code[end..].find('}').map(|c| end + c).unwrap_or(code.len());
            while i < chars.len() && chars[i].0 <= close {
                i += 1;
            }
        }
        for b in bases {
            let rooted = ["crate::", "super::", "self::"].iter().any(|r| b.starts_with(r));
            out.push((resolve(&b, &here), rooted));
        }
    }
    out
}

fn resolve(path: &str, here: &[String]) -> String {
    let mut segs: Vec<&str> = path.split("::").collect();
    if segs[0] == "crate" {
        segs.remove(0);
        return segs.join("::");
    }
    if segs[0] != "super" && segs[0] != "self" {
        return path.to_string();
    }
    // A file `a/b.rs` is module a::b: its `self` is a::b and its `super` is a. `a/mod.rs` is a.
    let mut base: Vec<String> = here.to_vec();
    while let Some(first) = segs.first() {
        match *first {
            "super" => {
                base.pop();
            }
            "self" => {}
            _ => break,
        }
        segs.remove(0);
    }
    base.extend(segs.iter().map(|s| s.to_string()));
    base.join("::")
}

/// The crate's own top modules (`src/<name>.rs` or `src/<name>/`), as on disk.
fn crate_modules() -> Vec<String> {
    let mut m: Vec<String> = std::fs::read_dir(repo().join("src"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().trim_end_matches(".rs").to_string())
        .filter(|n| !matches!(n.as_str(), "lib" | "main"))
        .collect();
    m.sort();
    m.dedup();
    m
}

fn names(path: &str, item: &str) -> bool {
    path == item || path.starts_with(&format!("{item}::"))
}

/// Pairs of files that import each other (through `crate::`/`super::`/`self::` paths), but `except`.
fn circles(sources: &[Source], except: &[(String, String)]) -> Vec<String> {
    let module_of: Vec<(String, &str)> =
        sources.iter().map(|s| (module_path(&s.path).join("::"), s.path.as_str())).collect();
    let file_of = |path: &str| -> Option<&str> {
        let segs: Vec<&str> = path.split("::").collect();
        (1..=segs.len()).rev().find_map(|k| {
            let key = segs[..k].join("::");
            module_of.iter().find(|(m, _)| *m == key).map(|(_, f)| *f)
        })
    };
    let edges: Vec<(&str, Vec<&str>)> = sources
        .iter()
        .map(|s| {
            let mut to: Vec<&str> = rooted_paths(s)
                .iter()
                .filter(|(_, rooted)| *rooted)
                .filter_map(|(p, _)| file_of(p))
                .filter(|f| *f != s.path)
                .collect();
            to.sort();
            to.dedup();
            (s.path.as_str(), to)
        })
        .collect();
    let imports = |a: &str, b: &str| edges.iter().any(|(f, to)| *f == a && to.contains(&b));
    let mut bad = Vec::new();
    for (a, to) in &edges {
        for b in to.iter().filter(|b| *a < **b && imports(b, a)) {
            let allowed = except.iter().any(|(x, y)| (x == a && y == b) || (x == b && y == a));
            if !allowed {
                bad.push(format!("{a}: imports {b}, which imports it back (a file circle)"));
            }
        }
    }
    bad
}

fn violations(sources: &[Source], rules: &[Rule]) -> Vec<String> {
    let modules = crate_modules();
    let clock = regex::Regex::new(r"\b(Utc|Local|SystemTime)::now\b").unwrap();
    let table_use = regex::Regex::new(r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+([a-z_]+)").unwrap();
    let mut bad = Vec::new();
    for rule in rules {
        match rule {
            Rule::MustNot { enabled: false, .. } => {}
            Rule::MustNot { scope, items, .. } => {
                for s in sources.iter().filter(|s| in_scope(&s.path, scope)) {
                    let own = scope_module(scope);
                    for item in items {
                        let hit = match item.as_str() {
                            "clock" => clock.find(&s.bare).map(|m| m.as_str().to_string()),
                            "crate" => paths(s).into_iter().find(|p| {
                                let first = p.split("::").next().unwrap_or("");
                                !names(p, &own) && modules.iter().any(|m| m == first)
                            }),
                            _ => paths(s).into_iter().find(|p| names(p, item)),
                        };
                        if let Some(h) = hit {
                            bad.push(format!("{}: `{scope}` must not import `{item}`, but names `{h}`", s.path));
                        }
                    }
                }
            }
            Rule::OnlyVia { scope, target, allowed } => {
                for s in sources.iter().filter(|s| in_scope(&s.path, scope)) {
                    for p in paths(s).into_iter().filter(|p| names(p, target)) {
                        if !allowed.iter().any(|a| names(&p, a)) {
                            bad.push(format!(
                                "{}: `{scope}` reaches `{target}` only through {allowed:?}, not `{p}`",
                                s.path
                            ));
                        }
                    }
                }
            }
            Rule::OnlyIn { name, modules } => {
                for s in sources.iter().filter(|s| !modules.iter().any(|m| in_scope(&s.path, m))) {
                    if let Some(p) = paths(s).into_iter().find(|p| names(p, name)) {
                        bad.push(format!("{}: `{name}` belongs only in {modules:?}, but this names `{p}`", s.path));
                    }
                }
            }
            Rule::Owns { .. } => {}
            Rule::NoCircles { except } => bad.extend(circles(sources, except)),
        }
    }
    // Each owned table's statements are in its owner's files only.
    let owners: Vec<(&String, &String)> = rules
        .iter()
        .filter_map(|r| match r {
            Rule::Owns { owner, tables } => Some(tables.iter().map(move |t| (t, owner))),
            _ => None,
        })
        .flatten()
        .collect();
    for s in sources {
        for c in table_use.captures_iter(&s.code) {
            let table = &c[1];
            if let Some((_, owner)) = owners.iter().find(|(t, _)| t.as_str() == table) {
                if !s.path.starts_with(owner.as_str()) {
                    bad.push(format!("{}: a statement on table `{table}`, which only {owner} may hold", s.path));
                }
            }
        }
    }
    bad
}

fn sources_under(root: &Path, dir: &Path, out: &mut Vec<Source>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "tests") {
                sources_under(root, &p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            let path = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            let name = p.file_name().unwrap().to_string_lossy();
            if name == "tests.rs" || name.ends_with("_tests.rs") {
                continue;
            }
            out.push(Source::new(&path, &std::fs::read_to_string(&p).unwrap()));
        }
    }
}

fn the_rules() -> Vec<Rule> {
    let doc = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let r = rules(&doc);
    assert!(r.len() >= 20, "ARCHITECTURE.md's import rules and owners were not found: {r:?}");
    r
}

#[test]
fn architecture_import_rules_and_table_owners_hold() {
    let root = repo();
    let mut sources = Vec::new();
    sources_under(&root, &root.join("src"), &mut sources);
    let rules = the_rules();
    // Every scope names something that exists: a typo would make its rule vacuous.
    for r in &rules {
        let scopes: Vec<&String> = match r {
            Rule::MustNot { scope, .. } | Rule::OnlyVia { scope, .. } => vec![scope],
            Rule::OnlyIn { modules, .. } => modules.iter().collect(),
            Rule::Owns { owner, .. } => vec![owner],
            Rule::NoCircles { except } => except.iter().flat_map(|(a, b)| [a, b]).collect(),
        };
        for sc in scopes {
            assert!(
                sources.iter().any(|s| in_scope(&s.path, sc) || s.path.starts_with(sc.as_str())),
                "ARCHITECTURE.md names `{sc}`, which is no module or file under src/"
            );
        }
    }
    let bad = violations(&sources, &rules);
    assert!(bad.is_empty(), "ARCHITECTURE.md's rules are broken:\n{}", bad.join("\n"));
}

#[test]
fn architecture_check_catches_forbidden_imports_and_foreign_sql() {
    let rules = the_rules();
    let src = Source::new;
    let ok = [
        src("src/domain/money.rs", "use super::Currency;\nuse std::fmt;\n"),
        src(
            "src/store/runs.rs",
            "fn f() { crate::sys::os::hostname(); c.execute(\"INSERT INTO runs (id) VALUES (1)\"); }",
        ),
        src("src/report/summary.rs", "use super::Prepared;\n// super::folder::SUMMARY in a comment\n"),
        src(
            "src/payment/local.rs",
            "use crate::store::local::write_ledger_records;\n\
             #[cfg(test)]\nmod tests {\n    use crate::store::sales::upsert_records;\n}\n",
        ),
        src(
            "src/store/window/mod.rs",
            "use crate::domain::rows::{AlipayRow, RowColumns};\n\
             #[cfg(test)]\nmod tests {\n    use crate::formats::DetailRow;\n}\n",
        ),
        src("src/store/handoff.rs", "use super::window::{local_on_reader, Handoff};\n"),
    ];
    assert_eq!(violations(&ok, &rules), Vec::<String>::new());
    let bad = [
        src("src/domain/money.rs", "use crate::store::files;\n"),
        src("src/sys/lock.rs", "fn h() -> String { crate::store::runs::hostname() }\n"),
        src("src/archive.rs", "use crate::source::dir::{part_path, rename_synced};\n"),
        src("src/report/summary.rs", "fn f() { let _ = super::folder::SUMMARY; }\n"),
        src("src/payment/local.rs", "use crate::store::{local, sales::upsert_records};\n"),
        src("src/cli/status.rs", "fn f() { conn.prepare(\"SELECT COUNT(*) FROM local_records\"); }\n"),
        src("src/report/html.rs", "use polars::prelude::DataFrame;\n"),
        src("src/formats/intl.rs", "fn f() { let _ = chrono::Utc::now(); }\n"),
        src("src/config/mod.rs", "fn f() { crate::sales::parse(); }\n"),
        src("src/sales/mod.rs", "use crate::config::SalesConfig;\n"),
        src("src/store/window/mod.rs", "use crate::reconcile::{input::Id, AlipayRow};\nuse super::handoff::Handoff;\n"),
        src("src/store/handoff.rs", "use super::window::local_on_reader;\n"),
        src("src/store/files.rs", "use crate::formats::{ParsedFile, Rows};\n"),
        src("src/store/sales.rs", "fn f(p: &crate::sales::ParsedSales) {}\n"),
    ];
    let found = violations(&bad, &rules);
    for (file, what) in [
        ("src/domain/money.rs", "store::files"),
        ("src/sys/lock.rs", "store::runs::hostname"),
        ("src/archive.rs", "source::dir::part_path"),
        ("src/report/summary.rs", "report::folder::SUMMARY"),
        ("src/payment/local.rs", "store::sales::upsert_records"),
        ("src/cli/status.rs", "local_records"),
        ("src/report/html.rs", "polars::prelude::DataFrame"),
        ("src/formats/intl.rs", "Utc::now"),
        ("src/config/mod.rs", "imports src/sales/mod.rs, which imports it back"),
        ("src/store/window/mod.rs", "must not import `reconcile`, but names `reconcile::input::Id`"),
        ("src/store/handoff.rs", "imports src/store/window/mod.rs, which imports it back"),
        ("src/store/files.rs", "must not import `formats`, but names `formats::ParsedFile`"),
        ("src/store/sales.rs", "must not import `sales`, but names `sales::ParsedSales`"),
    ] {
        assert!(
            found.iter().any(|v| v.starts_with(file) && v.contains(what)),
            "{file} ({what}) not caught: {found:#?}"
        );
    }
}
