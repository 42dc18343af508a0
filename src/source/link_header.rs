//! The `Link` header (RFC 8288), read leniently: the next page of a `link_header` source is the
//! target of its `rel="next"` link, as GitHub, GitLab and json-server send it.
//!
//! A target is whatever lies between `<` and `>`, commas included; parameter values may be
//! quoted (with `\` escapes) or bare; `rel` holds a space-separated list of relation types,
//! compared without case. A malformed link is skipped, not fatal: the others still count.

/// One link of a `Link` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URI reference, as written (possibly relative).
    pub target: String,
    /// Relation types, lower-cased.
    pub rels: Vec<String>,
}

/// Every well-formed link of one `Link` header value, in order.
pub fn parse(value: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            return links;
        }
        let Some(after_open) = rest.strip_prefix('<') else {
            rest = skip_link(rest);
            continue;
        };
        let Some(close) = after_open.find('>') else { return links };
        let target = after_open[..close].trim().to_owned();
        rest = &after_open[close + 1..];
        let mut rels: Option<Vec<String>> = None;
        // Parameters: `; name=value` or `; name="quoted, value"` or a bare `; name`.
        loop {
            rest = rest.trim_start();
            let Some(after_semicolon) = rest.strip_prefix(';') else { break };
            let (name, value, after) = parameter(after_semicolon);
            rest = after;
            // RFC 8288 §3.3: occurrences of `rel` after the first are ignored.
            if name.eq_ignore_ascii_case("rel") && rels.is_none() {
                rels = Some(value.split_whitespace().map(str::to_ascii_lowercase).collect());
            }
        }
        // Anything else before the next comma is debris of a malformed link.
        let well_formed = rest.is_empty() || rest.starts_with(',');
        rest = skip_link(rest);
        if well_formed {
            links.push(Link { target, rels: rels.unwrap_or_default() });
        }
    }
}

/// The target of the first `rel="next"` link among one response's `Link` header values.
pub fn next_target<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values.into_iter().flat_map(parse).find(|link| link.rels.iter().any(|rel| rel == "next")).map(|link| link.target)
}

/// One parameter after its `;`: its name, its value (unquoted) and what follows it.
fn parameter(input: &str) -> (&str, String, &str) {
    let input = input.trim_start();
    let name_end = input.find(|c: char| c == '=' || c == ';' || c == ',' || c.is_whitespace()).unwrap_or(input.len());
    let (name, rest) = input.split_at(name_end);
    let rest = rest.trim_start();
    let Some(rest) = rest.strip_prefix('=') else { return (name, String::new(), rest) };
    let rest = rest.trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (name, value, &quoted[at + 1..]),
                c => value.push(c),
            }
        }
        // An unterminated quote runs to the end.
        return (name, value, "");
    }
    // A bare value is a token: it ends at a space too.
    let end = rest.find(|c: char| c == ';' || c == ',' || c.is_whitespace()).unwrap_or(rest.len());
    (name, rest[..end].to_owned(), &rest[end..])
}

/// Skips to the comma that ends the current link (outside quotes and angle brackets).
fn skip_link(input: &str) -> &str {
    let (mut quoted, mut bracketed, mut escaped) = (false, false, false);
    for (at, c) in input.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !bracketed => quoted = !quoted,
            '<' if !quoted => bracketed = true,
            '>' if !quoted => bracketed = false,
            ',' if !quoted && !bracketed => return &input[at..],
            _ => {}
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(target: &str, rels: &[&str]) -> Link {
        Link { target: target.into(), rels: rels.iter().map(|r| r.to_string()).collect() }
    }

    #[test]
    fn githubs_header_gives_each_link_and_its_rel() {
        let github = "<https://api.github.com/repositories/1300192/issues?page=2>; rel=\"prev\", \
                      <https://api.github.com/repositories/1300192/issues?page=4>; rel=\"next\", \
                      <https://api.github.com/repositories/1300192/issues?page=515>; rel=\"last\", \
                      <https://api.github.com/repositories/1300192/issues?page=1>; rel=\"first\"";
        let links = parse(github);
        assert_eq!(links.len(), 4);
        assert_eq!(links[1], link("https://api.github.com/repositories/1300192/issues?page=4", &["next"]));
        assert_eq!(next_target([github]).as_deref(), Some("https://api.github.com/repositories/1300192/issues?page=4"));
    }

    #[test]
    fn rel_may_be_bare_quoted_a_list_or_in_any_case() {
        assert_eq!(parse("</p/2>;rel=next"), [link("/p/2", &["next"])]);
        assert_eq!(parse("</p/9> ; REL = \"Next   Last\" "), [link("/p/9", &["next", "last"])]);
        assert_eq!(next_target(["</p/9>; rel=\"last next\""]).as_deref(), Some("/p/9"));
        assert_eq!(next_target(["</p/1>; rel=\"prev\"; title=\"next\""]), None, "only rel counts");
        // Only the first rel counts (RFC 8288 §3.3).
        assert_eq!(parse("</x>; rel=prev; rel=next"), [link("/x", &["prev"])]);
    }

    #[test]
    fn commas_and_semicolons_inside_targets_or_quotes_do_not_split_links() {
        let value = "<https://api.example.com/items?ids=1,2,3;v=2>; rel=\"next\"; title=\"a, b; \\\"c\\\"\", \
                     <https://api.example.com/items?ids=0>; rel=prev";
        let links = parse(value);
        assert_eq!(
            links,
            [
                link("https://api.example.com/items?ids=1,2,3;v=2", &["next"]),
                link("https://api.example.com/items?ids=0", &["prev"])
            ]
        );
    }

    #[test]
    fn several_header_lines_and_odd_spacing_are_read_together() {
        let lines = ["<https://a.example/p1>; rel=\"first\"", "  <https://a.example/p3> ;rel=\"next\"  ,  "];
        assert_eq!(next_target(lines).as_deref(), Some("https://a.example/p3"));
        assert_eq!(parse(" , ,"), []);
        assert_eq!(parse(""), []);
    }

    #[test]
    fn a_malformed_link_is_skipped_and_the_others_still_count() {
        let value = "https://no-brackets.example; rel=next, <https://ok.example/2>; rel=\"next\"";
        assert_eq!(next_target([value]).as_deref(), Some("https://ok.example/2"));
        assert_eq!(parse("<https://ok.example/1>; rel=next junk, </two>; rel=next"), [link("/two", &["next"])]);
        assert_eq!(parse("<https://unterminated.example; rel=next"), []);
        // A link without rel is a link without relation types.
        assert_eq!(parse("</plain>"), [link("/plain", &[])]);
        // A parameter without a value, and an unterminated quote.
        assert_eq!(parse("</a>; crossorigin; rel=next"), [link("/a", &["next"])]);
        assert_eq!(parse("</b>; rel=\"next"), [link("/b", &["next"])]);
    }
}
