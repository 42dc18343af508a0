//! The fake server's generic mode, for source files: a resource's generated records as a
//! collection of `total` records (`?total=`, default 2,500), paged the ways other REST APIs
//! page them, and behind a token when `--generic-token` is set.
//!
//! - `/generic/offset/{resource}?offset=N&limit=M`: `{"data": [...], "meta": {"total": T}}`
//! - `/generic/cursor/{resource}?cursor=C&limit=M`: `{"data": [...], "next_cursor": "…" | null}`
//! - `/generic/next/{resource}?after=N&limit=M`: `{"items": [...], "links": {"next": "/generic/…" | null}}`
//!   (a relative next URL, as many APIs send)
//!
//! Record `i` of a collection is the same whatever page it comes in (it is rendered alone with
//! seed `i + 1`) and carries `"_index": i`, so a test can check that every record arrived once.
//! A token is accepted as `Authorization: Bearer T`, `X-Api-Key: T` or `?api_key=T`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use super::{FakeApi, json_response, render_page};
use crate::catalog::Resource;

/// Records in a collection when the request names no `total`.
const DEFAULT_TOTAL: u64 = 2_500;
/// The most a collection may hold.
const MAX_TOTAL: u64 = 1_000_000;
/// The most records a page may hold (and its size when none is asked for).
const MAX_LIMIT: u64 = 1_000;
const DEFAULT_LIMIT: u64 = 100;

pub(super) async fn page(
    State(api): State<FakeApi>,
    Path((paging, resource)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    // `--latency-ms` slows every API answer, the generic ones too (resume tests need slow pages).
    tokio::time::sleep(std::time::Duration::from_millis(api.inner.options.latency_ms)).await;
    if let Some(token) = &api.inner.options.generic_token
        && !authorised(token, &headers, param("api_key"))
    {
        // Echoing the credential it was given, as some APIs' errors do: the client must not
        // pass it on into its own errors and logs.
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let given = header("authorization").or(header("x-api-key")).or(param("api_key")).unwrap_or("nothing");
        let body = serde_json::json!({ "message": format!("Unauthenticated: {given} is not a valid key.") });
        return json_response(StatusCode::UNAUTHORIZED, Bytes::from(body.to_string()));
    }
    let Some(resource) = Resource::from_name(&resource).filter(|r| r.schema().is_some()) else {
        return json_response(StatusCode::NOT_FOUND, Bytes::from_static(br#"{"message":"Resource not found"}"#));
    };
    let number = |name: &str, default: u64, max: u64| -> Result<u64, String> {
        match param(name) {
            None | Some("") => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(format!("{name} must be a whole number up to {max}, got {v:?}")),
            },
        }
    };
    let read = || -> Result<(u64, u64), String> {
        Ok((number("total", DEFAULT_TOTAL, MAX_TOTAL)?, number("limit", DEFAULT_LIMIT, MAX_LIMIT)?.max(1)))
    };
    let (total, limit) = match read() {
        Ok(v) => v,
        Err(e) => return bad_request(&e),
    };
    let start = match paging.as_str() {
        "offset" => number("offset", 0, u64::MAX),
        "cursor" => match param("cursor") {
            None | Some("") => Ok(0),
            Some(c) => decode_cursor(c).ok_or_else(|| format!("cursor {c:?} is not one this server gave")),
        },
        "next" => number("after", 0, u64::MAX),
        _ => return json_response(StatusCode::NOT_FOUND, Bytes::from_static(br#"{"message":"Resource not found"}"#)),
    };
    let start = match start {
        Ok(s) => s.min(total),
        Err(e) => return bad_request(&e),
    };
    let end = (start + limit).min(total);
    let records = records(resource, start, end);
    let more = end < total;
    let body = match paging.as_str() {
        "offset" => format!(r#"{{"data":{records},"meta":{{"total":{total},"offset":{start},"limit":{limit}}}}}"#),
        "cursor" => {
            let next = if more { format!("\"{}\"", encode_cursor(end)) } else { "null".into() };
            format!(r#"{{"data":{records},"next_cursor":{next}}}"#)
        }
        _ => {
            let next = if more {
                format!("\"/generic/next/{}?after={end}&limit={limit}&total={total}\"", resource.name())
            } else {
                "null".into()
            };
            format!(r#"{{"items":{records},"links":{{"next":{next}}}}}"#)
        }
    };
    json_response(StatusCode::OK, body)
}

/// Records `start..end` as a JSON array, each rendered alone so that it does not depend on
/// the page it is in.
fn records(resource: Resource, start: u64, end: u64) -> String {
    let schema = resource.schema().expect("a resource with a schema");
    let mut out = String::from("[");
    for i in start..end {
        if i > start {
            out.push(',');
        }
        let body = render_page(resource, schema, 1, i + 1, "en_US", &[]);
        let body = String::from_utf8(body).expect("rendered JSON is UTF-8");
        // The envelope ends `"data":[{…}]}`: the record is between those brackets.
        let at = body.find("\"data\":[").expect("an envelope with data") + "\"data\":[".len();
        let record = &body[at..body.len() - 2];
        out.push_str(&format!("{{\"_index\":{i},{}", &record[1..]));
    }
    out.push(']');
    out
}

fn authorised(token: &str, headers: &HeaderMap, api_key: Option<&str>) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("authorization").and_then(|v| v.strip_prefix("Bearer ")) == Some(token)
        || header("x-api-key") == Some(token)
        || api_key == Some(token)
}

/// Cursors are opaque to clients; this one hides an offset.
fn encode_cursor(offset: u64) -> String {
    format!("c{:x}", offset ^ 0x5eed)
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    u64::from_str_radix(cursor.strip_prefix('c')?, 16).ok().map(|n| n ^ 0x5eed)
}

fn bad_request(message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    json_response(StatusCode::BAD_REQUEST, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_the_same_in_any_page_and_cursors_round_trip() {
        let whole: serde_json::Value = serde_json::from_str(&records(Resource::Users, 0, 10)).unwrap();
        let part: serde_json::Value = serde_json::from_str(&records(Resource::Users, 4, 7)).unwrap();
        assert_eq!(whole.as_array().unwrap()[4..7], part.as_array().unwrap()[..]);
        assert_eq!(part[0]["_index"], 4);
        assert!(part[0]["email"].is_string(), "{part}");
        assert_eq!(decode_cursor(&encode_cursor(1234)), Some(1234));
        assert_eq!(decode_cursor("nope"), None);
    }
}
