//! The crate's own Rust files read the way the documentation tests need them, without a parser:
//! each file's code with comments and literals blanked out, its test modules set apart, and the
//! top-level modules of the crate its paths name.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// One file of `src/`.
pub struct SourceFile {
    /// Relative to `src/`, with `/` separators: `export/sink/local.rs`.
    pub path: String,
    /// The text with every comment, string and character literal blanked out (newlines kept, so
    /// line numbers are the file's).
    pub code: String,
    /// Byte ranges of `#[cfg(test)]` items written inline (`mod tests { … }`), attribute included.
    pub test_items: Vec<std::ops::Range<usize>>,
}

impl SourceFile {
    fn read(src: &Path, path: &Path) -> SourceFile {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{} is unreadable: {e}", path.display()));
        let code = blank_comments_and_literals(&text);
        let test_items =
            test_items(&code).into_iter().filter_map(|(range, file_mod)| file_mod.is_none().then_some(range)).collect();
        let path = path.strip_prefix(src).unwrap().to_string_lossy().replace('\\', "/");
        SourceFile { path, code, test_items }
    }

    /// The top-level module this file belongs to (`export` for `export/sink/local.rs`), or the
    /// crate root's own name (`lib`, `main`).
    pub fn top_level(&self) -> &str {
        let first = self.path.split('/').next().unwrap();
        first.strip_suffix(".rs").unwrap_or(first)
    }

    /// How many `super::` lead from this file's module to the crate root: 1 for `run.rs` or
    /// `api/mod.rs`, 2 for `api/state.rs`.
    fn depth(&self) -> usize {
        let parts: Vec<&str> = self.path.split('/').collect();
        match parts.last() {
            Some(&"mod.rs") => parts.len() - 1,
            _ => parts.len(),
        }
    }

    /// The code outside the inline test items.
    pub fn code_outside_tests(&self) -> String {
        let mut code = self.code.clone();
        for range in &self.test_items {
            let blank: String = code[range.clone()].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
            code.replace_range(range.clone(), &blank);
        }
        code
    }

    /// Lines of the file outside its inline test items.
    pub fn lines_outside_tests(&self) -> usize {
        let in_tests: usize = self.test_items.iter().map(|r| self.code[r.clone()].lines().count()).sum();
        self.code.lines().count() - in_tests
    }

    /// The top-level modules among `modules` that the code outside tests names through
    /// `crate::…` (or `prefix::…`, the library's name in the binary), `crate::{…}` groups, or
    /// enough `super::` to reach the crate root; the file's own module aside.
    pub fn imports(&self, modules: &BTreeSet<String>, prefix: &str) -> BTreeSet<String> {
        let code = self.code_outside_tests();
        let mut named = BTreeSet::new();
        for root in [prefix, "crate"] {
            for (at, _) in code.match_indices(&format!("{root}::")) {
                if code[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue; // the end of a longer name
                }
                named.extend(first_segments(&code[at + root.len() + 2..]));
            }
        }
        let depth = self.depth();
        let supers = "super::".repeat(depth);
        for (at, _) in code.match_indices(&supers) {
            let before = &code[..at];
            if before.ends_with("super::")
                || before.chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let rest = &code[at + supers.len()..];
            if !rest.starts_with("super::") {
                named.extend(first_segments(rest));
            }
        }
        let own = self.top_level().to_string();
        named.into_iter().filter(|m| modules.contains(m) && *m != own).collect()
    }
}

/// The first path segment of `rest` (what follows `crate::`), or of each path in a `{…}` group.
fn first_segments(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut end = group.len();
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    end = i;
                    break;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        let group = &group[..end];
        let mut paths = Vec::new();
        let (mut depth, mut start) = (0, 0);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    paths.push(&group[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        paths.push(&group[start..]);
        return paths.into_iter().flat_map(|p| first_segments(p).into_iter().take(1)).collect();
    }
    let ident: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    if ident.is_empty() { Vec::new() } else { vec![ident] }
}

/// Every `.rs` file under `dir` (a module's folder, or `src/` itself), but those only tests
/// compile: a `#[cfg(test)] mod tests;` declared in its parent, and what is below it.
pub fn files_under(dir: &Path) -> Vec<SourceFile> {
    let src = Path::new(SRC);
    let mut files = Vec::new();
    let mut test_only = BTreeSet::new();
    let mut todo: Vec<PathBuf> = vec![dir.to_path_buf()];
    let mut found = Vec::new();
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                todo.push(entry.unwrap().path());
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found.sort();
    for path in &found {
        let text = std::fs::read_to_string(path).unwrap();
        // `a.rs` and `a/mod.rs` declare their modules in `a/`; `lib.rs` and `main.rs` in `src/`.
        let declared_in = match path.file_name().unwrap().to_str().unwrap() {
            "mod.rs" | "lib.rs" | "main.rs" => path.parent().unwrap().to_path_buf(),
            _ => path.with_extension(""),
        };
        for (_, file_mod) in test_items(&blank_comments_and_literals(&text)) {
            if let Some(name) = file_mod {
                test_only.insert(declared_in.join(format!("{name}.rs")));
                test_only.insert(declared_in.join(&name));
            }
        }
    }
    for path in found {
        if path.ancestors().any(|a| test_only.contains(a)) {
            continue;
        }
        files.push(SourceFile::read(src, &path));
    }
    files
}

/// The `#[cfg(test)]` items of `code` (comments and literals blanked): each one's byte range,
/// attribute included, and for a module kept in a file of its own (`mod tests;`) its name.
fn test_items(code: &str) -> Vec<(std::ops::Range<usize>, Option<String>)> {
    let mut items = Vec::new();
    for (at, _) in code.match_indices("#[cfg(test)]") {
        let mut end = at + "#[cfg(test)]".len();
        // Further attributes of the same item.
        loop {
            let rest = &code[end..];
            let trimmed = rest.trim_start();
            if !trimmed.starts_with("#[") {
                break;
            }
            end += rest.len() - trimmed.len();
            end += code[end..].find(']').expect("an attribute closes") + 1;
        }
        let (semicolon, brace) = (code[end..].find(';'), code[end..].find('{'));
        let item_end = match (semicolon, brace) {
            (Some(s), Some(b)) if b < s => end + b + matching_brace(&code[end + b..]) + 1,
            (None, Some(b)) => end + b + matching_brace(&code[end + b..]) + 1,
            (Some(s), _) => {
                let head = code[end..end + s].split_whitespace().collect::<Vec<_>>();
                let file_mod = match head.as_slice() {
                    ["mod", name] | ["pub", "mod", name] => Some(name.to_string()),
                    [vis, "mod", name] if vis.starts_with("pub(") => Some(name.to_string()),
                    _ => None,
                };
                items.push((at..end + s + 1, file_mod));
                continue;
            }
            (None, None) => code.len(),
        };
        items.push((at..item_end, None));
    }
    items
}

/// The offset of the `}` that closes the `{` that `code` starts with.
fn matching_brace(code: &str) -> usize {
    let mut depth = 0;
    for (i, c) in code.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    panic!("a `{{` that never closes");
}

/// `text` with comments, string literals (raw and byte strings too) and character literals
/// replaced by spaces, newlines kept.
pub fn blank_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if !prev_ident && (c == 'r' || (c == 'b' && next == Some('r'))) && raw_string_start(&chars, i).is_some()
        {
            let (hashes, body) = raw_string_start(&chars, i).unwrap();
            let closing: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            let mut j = body;
            while j < chars.len() && chars[j..].iter().take(closing.len()).ne(closing.iter()) {
                j += 1;
            }
            let end = (j + closing.len()).min(chars.len());
            for &c in &chars[i..end] {
                blank(&mut out, c);
            }
            i = end;
        } else if c == '"' {
            blank(&mut out, c);
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
            if i < chars.len() {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\u{1F600}'), not a lifetime ('a).
            let mut j = i + 1;
            if chars[j] == '\\' {
                j += 2;
            } else {
                j += 1;
            }
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            for &c in &chars[i..end] {
                blank(&mut out, c);
            }
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where a raw string's body starts and how many `#` close it, if one starts at `i`.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i + if chars[i] == 'b' { 2 } else { 1 };
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((hashes, j + 1))
}
