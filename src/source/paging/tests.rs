use std::path::Path;

use serde_json::json;

use super::*;
use crate::catalog::sources;

/// A shop source whose one resource pages as `pagination` says; `before` goes above the
/// resource (an `[auth]` table).
fn paging_with(before: &str, pagination: &str) -> Paging {
    let text = format!(
        "base_url = \"https://api.example.com/v2\"\n{before}\n[resources.orders]\npath = \"/orders\"\n\
         records = \"/data\"\nparams = {{ status = \"all\" }}\n[resources.orders.pagination]\n{pagination}"
    );
    let env = |variable: &str| (variable == "SHOP_KEY").then(|| "k3y-secret".to_owned());
    let source = sources::parse("shop", Path::new("shop.toml"), &text, &env).unwrap();
    Paging::new(&source, &source.resources[0])
}

fn paging(pagination: &str) -> Paging {
    paging_with("", pagination)
}

const PAGES: &str = "kind = \"page\"\npage_param = \"page\"\nsize_param = \"per_page\"\npage_size = 100";
const OFFSETS: &str = "kind = \"offset\"\noffset_param = \"offset\"\nlimit_param = \"limit\"\npage_size = 50";
const CURSORS: &str = "kind = \"cursor\"\ncursor = \"/meta/next_cursor\"\ncursor_param = \"cursor\"";
const NEXT_URLS: &str = "kind = \"next_url\"\nnext_url = \"/links/next\"";
const FIRST_URL: &str = "https://api.example.com/v2/orders?status=all";

fn rows(n: usize) -> Value {
    Value::Array((0..n).map(|id| json!({ "id": id })).collect())
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// What `paging` makes of an answer to the page at `position`.
fn read(
    paging: &Paging,
    position: &Position,
    headers: &[(&str, &str)],
    body: Value,
) -> Result<(usize, Option<u64>, Option<Position>), PagingError> {
    read_at(paging, position, FIRST_URL, headers, body)
}

fn read_at(
    paging: &Paging,
    position: &Position,
    url: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> Result<(usize, Option<u64>, Option<Position>), PagingError> {
    let headers = pairs(headers);
    let records = paging.records_in(&body)?.len();
    let bytes = serde_json::to_vec(&body).unwrap();
    let outcome = paging.read(position, &PageAnswer { url, headers: &headers, body: &bytes, records })?;
    Ok((records, outcome.total, outcome.next))
}

fn next(paging: &Paging, position: &Position, body: Value) -> Option<Position> {
    read(paging, position, &[], body).unwrap().2
}

#[test]
fn page_requests_carry_the_fixed_parameters_then_the_page_and_its_size() {
    let paging = paging(PAGES);
    assert_eq!(paging.first(), Position::Page { page: 1 });
    let first = paging.request(&paging.first()).unwrap();
    assert_eq!(first.url, "https://api.example.com/v2/orders");
    assert_eq!(first.query, pairs(&[("status", "all"), ("page", "1"), ("per_page", "100")]));
    assert_eq!(paging.request(&Position::Start).unwrap(), first);
    let seventh = paging.request(&Position::Page { page: 7 }).unwrap();
    assert_eq!(seventh.query, pairs(&[("status", "all"), ("page", "7"), ("per_page", "100")]));
}

#[test]
fn a_page_is_the_last_when_short_empty_or_when_the_total_is_reached() {
    let paging = paging(PAGES);
    let page = |page| Position::Page { page };
    assert_eq!(next(&paging, &page(1), json!({ "data": rows(100) })), Some(page(2)));
    assert_eq!(next(&paging, &page(3), json!({ "data": rows(99) })), None);
    assert_eq!(next(&paging, &page(3), json!({ "data": [] })), None);
    assert_eq!(next(&paging, &Position::Start, json!({ "data": rows(100) })), Some(page(2)));

    let with_total = self::paging(&format!("{PAGES}\ntotal = \"/meta/total\""));
    let answer = |n, total: Value| json!({ "data": rows(n), "meta": { "total": total } });
    assert_eq!(read(&with_total, &page(1), &[], answer(100, json!(250))).unwrap(), (100, Some(250), Some(page(2))));
    assert_eq!(read(&with_total, &page(3), &[], answer(50, json!(250))).unwrap(), (50, Some(250), None));
    // A full page that reaches the total is the last: no empty request after it.
    assert_eq!(read(&with_total, &page(2), &[], answer(100, json!(200))).unwrap(), (100, Some(200), None));
    assert_eq!(read(&with_total, &page(1), &[], answer(100, Value::Null)).unwrap(), (100, None, Some(page(2))));

    let from_zero = self::paging(&format!("{PAGES}\nfirst_page = 0\ntotal = \"/meta/total\""));
    assert_eq!(from_zero.first(), page(0));
    assert_eq!(next(&from_zero, &page(0), answer(100, json!(200))), Some(page(1)));
    assert_eq!(next(&from_zero, &page(1), answer(100, json!(200))), None);
}

#[test]
fn a_page_larger_than_asked_is_refused_rather_than_fetched_again() {
    let error = read(&paging(PAGES), &Position::Page { page: 1 }, &[], json!({ "data": rows(101) })).unwrap_err();
    assert_eq!(error, PagingError::PageTooLarge { records: 101, page_size: 100 });
    assert!(error.to_string().contains("does the upstream read the size parameter?"), "{error}");
}

#[test]
fn the_total_is_read_from_a_header_or_the_body_as_a_number_or_a_string() {
    let in_header = paging(&format!("{PAGES}\ntotal = \"header:X-Total-Count\""));
    let body = || json!({ "data": rows(100) });
    let page = Position::Page { page: 1 };
    let total = |headers: &[(&str, &str)]| read(&in_header, &page, headers, body()).map(|(_, total, _)| total);
    assert_eq!(total(&[("content-type", "application/json"), ("x-total-count", " 250 ")]), Ok(Some(250)));
    assert_eq!(total(&[("X-TOTAL-COUNT", "0")]), Ok(Some(0)));
    assert_eq!(total(&[]), Ok(None));
    let error = total(&[("X-Total-Count", "lots")]).unwrap_err();
    assert_eq!(error.to_string(), "the total (header:X-Total-Count) is not a count of records: \"lots\"");

    let in_body = paging(&format!("{PAGES}\ntotal = \"/meta/total\""));
    let total = |value: Value| {
        read(&in_body, &page, &[], json!({ "data": rows(100), "meta": { "total": value } })).map(|(_, t, _)| t)
    };
    assert_eq!(total(json!("250")), Ok(Some(250)));
    assert_eq!(total(json!(250.0)), Ok(Some(250)));
    assert!(matches!(total(json!(-1)), Err(PagingError::BadTotal { .. })));
    assert!(matches!(total(json!(2.5)), Err(PagingError::BadTotal { .. })));
    assert!(matches!(total(json!({ "value": 3 })), Err(PagingError::BadTotal { .. })));
}

#[test]
fn offsets_step_by_the_page_size_until_short_or_the_total() {
    let paging = paging(&format!("{OFFSETS}\ntotal = \"header:X-Total-Count\""));
    assert_eq!(paging.first(), Position::Offset { offset: 0 });
    let request = paging.request(&Position::Offset { offset: 200 }).unwrap();
    assert_eq!(request.query, pairs(&[("status", "all"), ("offset", "200"), ("limit", "50")]));
    let offset = |offset| Position::Offset { offset };
    let total = [("X-Total-Count", "120")];
    assert_eq!(read(&paging, &offset(0), &total, json!({ "data": rows(50) })).unwrap().2, Some(offset(50)));
    assert_eq!(read(&paging, &offset(100), &total, json!({ "data": rows(20) })).unwrap().2, None);
    let exact = [("X-Total-Count", "100")];
    assert_eq!(read(&paging, &offset(50), &exact, json!({ "data": rows(50) })).unwrap().2, None);
    assert_eq!(read(&paging, &offset(50), &[], json!({ "data": rows(50) })).unwrap().2, Some(offset(100)));
}

#[test]
fn the_records_pointer_must_find_an_array() {
    let body_is_array = {
        let text = "base_url = \"http://localhost:3000\"\n[resources.posts]\npath = \"/posts\"\nrecords = \"\"";
        let source = sources::parse("local", Path::new("local.toml"), text, &|_| None).unwrap();
        Paging::new(&source, &source.resources[0])
    };
    assert_eq!(read(&body_is_array, &Position::Start, &[], rows(3)).unwrap(), (3, None, None));

    let paging = paging(PAGES);
    let page = Position::Page { page: 1 };
    let error = read(&paging, &page, &[], json!({ "data": { "id": 1 } })).unwrap_err();
    assert_eq!(error.to_string(), "the records pointer \"/data\" found an object in the body, not an array");
    let error = read(&paging, &page, &[], json!({ "items": [] })).unwrap_err();
    assert_eq!(error, PagingError::NoRecords { pointer: "/data".into(), found: "nothing" });
    let error = read(&paging, &page, &[], json!({ "data": null })).unwrap_err();
    assert_eq!(error, PagingError::NoRecords { pointer: "/data".into(), found: "null" });
}

#[test]
fn a_cursor_is_sent_back_until_it_is_null_empty_or_absent() {
    let paging = paging(CURSORS);
    assert_eq!(paging.first(), Position::Start);
    assert_eq!(paging.request(&Position::Start).unwrap().query, pairs(&[("status", "all")]));
    let cursor = |cursor: &str| Position::Cursor { cursor: cursor.into() };
    assert_eq!(paging.request(&cursor("c2==")).unwrap().query, pairs(&[("status", "all"), ("cursor", "c2==")]));

    let answer = |cursor: Value| json!({ "data": rows(10), "meta": { "next_cursor": cursor } });
    assert_eq!(next(&paging, &Position::Start, answer(json!("c2=="))), Some(cursor("c2==")));
    assert_eq!(next(&paging, &cursor("c2=="), answer(json!(12345))), Some(cursor("12345")));
    assert_eq!(next(&paging, &cursor("c2=="), answer(Value::Null)), None);
    assert_eq!(next(&paging, &cursor("c2=="), answer(json!(""))), None);
    assert_eq!(next(&paging, &cursor("c2=="), json!({ "data": rows(10), "meta": {} })), None);
    // An empty page ends the run even with a cursor.
    assert_eq!(next(&paging, &cursor("c2=="), json!({ "data": [], "meta": { "next_cursor": "c3" } })), None);

    let error = read(&paging, &cursor("c2=="), &[], answer(json!("c2=="))).unwrap_err();
    assert_eq!(error, PagingError::Repeated(cursor("c2==")));
    let error = read(&paging, &cursor("c2=="), &[], answer(json!({ "id": "c3" }))).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the next-page cursor at \"/meta/next_cursor\" is an object, not a string or a number"
    );
}

#[test]
fn a_next_url_is_followed_absolute_or_relative_to_the_request() {
    let paging = paging(NEXT_URLS);
    let url = |url: &str| Position::Url { url: url.into() };
    let answer = |next: Value| json!({ "data": rows(10), "links": { "next": next } });
    let requested = "https://api.example.com/v2/orders?status=all&page=1";
    let follow = |next: Value| read_at(&paging, &Position::Start, requested, &[], answer(next)).map(|(_, _, n)| n);

    let absolute = "https://api.example.com/v2/orders?status=all&page=2";
    assert_eq!(follow(json!(absolute)), Ok(Some(url(absolute))));
    assert_eq!(follow(json!("?status=all&page=2")), Ok(Some(url(absolute))));
    assert_eq!(follow(json!("orders?page=2")), Ok(Some(url("https://api.example.com/v2/orders?page=2"))));
    assert_eq!(follow(json!("/v2/orders?page=2")), Ok(Some(url("https://api.example.com/v2/orders?page=2"))));
    assert_eq!(follow(Value::Null), Ok(None));
    assert_eq!(follow(json!("")), Ok(None));
    assert_eq!(read(&paging, &Position::Start, &[], json!({ "data": rows(10) })).unwrap().2, None);
    assert!(matches!(follow(json!(2)), Err(PagingError::NextUrlNotText { found: "a number", .. })));

    let error = follow(json!("https://evil.example/steal?page=2")).unwrap_err();
    assert_eq!(
        error,
        PagingError::ForeignNextUrl { next: "https://evil.example".into(), current: "https://api.example.com".into() }
    );
    assert!(matches!(
        follow(json!("http://api.example.com/v2/orders?page=2")),
        Err(PagingError::ForeignNextUrl { .. })
    ));

    // The next URL is requested as it is, and pointing back at itself is refused.
    let request = paging.request(&url(absolute)).unwrap();
    assert_eq!((request.url.as_str(), request.query.len()), (absolute, 0));
    let error = read_at(&paging, &url(absolute), absolute, &[], answer(json!(absolute))).unwrap_err();
    assert_eq!(error, PagingError::Repeated(url(absolute)));
}

#[test]
fn a_secret_the_upstream_echoes_in_its_next_url_is_not_kept() {
    let auth = "[auth]\nkind = \"query\"\nparam = \"api_key\"\ntoken_env = \"SHOP_KEY\"";
    let paging = paging_with(auth, NEXT_URLS);
    let echoed = json!({ "data": rows(1), "links": { "next": "/v2/orders?page=2&api_key=k3y-secret&sort=id" } });
    let next = read(&paging, &Position::Start, &[], echoed).unwrap().2.unwrap();
    assert_eq!(next, Position::Url { url: "https://api.example.com/v2/orders?page=2&sort=id".into() });
    let only = json!({ "data": rows(1), "links": { "next": "/v2/orders?api_key=k3y-secret" } });
    let next = read(&paging, &Position::Start, &[], only).unwrap().2.unwrap();
    assert_eq!(next, Position::Url { url: "https://api.example.com/v2/orders".into() });

    let error = read(
        &paging,
        &Position::Start,
        &[],
        json!({ "data": rows(1), "links": { "next": "https://x.example/?api_key=k3y-secret" } }),
    )
    .unwrap_err();
    assert!(!error.to_string().contains("k3y"), "{error}");
}

#[test]
fn a_link_header_is_followed_to_its_next_link() {
    let paging = paging("kind = \"link_header\"");
    let requested = "https://api.example.com/v2/orders?status=all&page=3";
    let github = "<https://api.example.com/v2/orders?status=all&page=2>; rel=\"prev\", \
                  <https://api.example.com/v2/orders?status=all&page=4>; rel=\"next\", \
                  <https://api.example.com/v2/orders?status=all&page=9>; rel=\"last\"";
    let position = Position::Url { url: requested.into() };
    let follow = |headers: &[(&str, &str)]| read_at(&paging, &position, requested, headers, json!({ "data": rows(3) }));
    let expected = Position::Url { url: "https://api.example.com/v2/orders?status=all&page=4".into() };
    assert_eq!(follow(&[("Link", github)]).unwrap().2, Some(expected.clone()));
    assert_eq!(follow(&[("link", "</v2/orders?status=all&page=4>; rel=\"next last\"")]).unwrap().2, Some(expected));
    assert_eq!(follow(&[("Link", "<https://api.example.com/v2/orders?page=1>; rel=\"first\"")]).unwrap().2, None);
    assert_eq!(follow(&[]).unwrap().2, None);
}

#[test]
fn one_request_answers_everything_without_pagination() {
    let text = "base_url = \"https://api.example.com\"\n[resources.all]\npath = \"/all\"\nrecords = \"/data\"";
    let source = sources::parse("shop", Path::new("shop.toml"), text, &|_| None).unwrap();
    let paging = Paging::new(&source, &source.resources[0]);
    assert_eq!(paging.first(), Position::Start);
    assert_eq!(read(&paging, &Position::Start, &[], json!({ "data": rows(1000) })).unwrap(), (1000, None, None));
    assert_eq!(paging.plan(1000), None);
}

#[test]
fn a_position_of_another_kind_is_refused() {
    let cursor = Position::Cursor { cursor: "abc".into() };
    let error = paging(PAGES).request(&cursor).unwrap_err();
    assert_eq!(error.to_string(), "cursor \"abc\" is not a position of pagination kind \"page\"");
    let error = read(&paging(NEXT_URLS), &Position::Offset { offset: 5 }, &[], json!({ "data": rows(1) }));
    assert_eq!(
        error.unwrap_err(),
        PagingError::WrongPosition { position: Position::Offset { offset: 5 }, kind: "next_url" }
    );
}

#[test]
fn a_position_serialises_to_tagged_json_and_back() {
    let positions = [
        (Position::Start, json!({ "kind": "start" })),
        (Position::Page { page: 3 }, json!({ "kind": "page", "page": 3 })),
        (Position::Offset { offset: 200 }, json!({ "kind": "offset", "offset": 200 })),
        (Position::Cursor { cursor: "eyJpZCI6NDJ9".into() }, json!({ "kind": "cursor", "cursor": "eyJpZCI6NDJ9" })),
        (
            Position::Url { url: "https://a.example/p?x=1".into() },
            json!({ "kind": "url", "url": "https://a.example/p?x=1" }),
        ),
    ];
    for (position, expected) in positions {
        let text = serde_json::to_string(&position).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
        assert_eq!(serde_json::from_str::<Position>(&text).unwrap(), position);
    }
}

#[test]
fn with_a_known_total_every_page_is_listed_up_front() {
    let pages = paging(PAGES);
    let plan = pages.plan(250).unwrap();
    assert_eq!(plan.len(), 3);
    let queries: Vec<_> = plan.positions().map(|p| pages.request(&p).unwrap().query).collect();
    assert_eq!(
        queries,
        [
            pairs(&[("status", "all"), ("page", "1"), ("per_page", "100")]),
            pairs(&[("status", "all"), ("page", "2"), ("per_page", "100")]),
            pairs(&[("status", "all"), ("page", "3"), ("per_page", "100")]),
        ]
    );
    assert_eq!((plan.position(2), plan.position(3)), (Some(Position::Page { page: 3 }), None));
    assert_eq!(pages.plan(200).unwrap().len(), 2);
    assert!(pages.plan(0).unwrap().is_empty());

    let offsets = paging(OFFSETS);
    let listed: Vec<_> = offsets.plan(101).unwrap().positions().collect();
    let offset = |offset| Position::Offset { offset };
    assert_eq!(listed, [offset(0), offset(50), offset(100)]);

    let from_zero = paging(&format!("{PAGES}\nfirst_page = 0"));
    assert_eq!(
        from_zero.plan(101).unwrap().positions().collect::<Vec<_>>(),
        [Position::Page { page: 0 }, Position::Page { page: 1 }]
    );

    for sequential in [CURSORS, NEXT_URLS, "kind = \"link_header\""] {
        assert_eq!(paging(sequential).plan(100), None, "{sequential}");
    }
    // A huge total costs nothing up front: positions are computed by index.
    assert_eq!(offsets.plan(u64::MAX).unwrap().len(), u64::MAX.div_ceil(50));
}
