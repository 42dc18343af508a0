//! Source files through the public surface: `parse`, `load_file_with`, `load_dir_with`, with the
//! environment given by each test so that no test depends on the process's.

use std::fs;
use std::path::Path;

use super::*;

/// The issue's example, as a user would copy it.
const SHOP: &str = r#"
base_url = "https://api.example.com/v2"
rate_limit_per_minute = 60          # 0 = unlimited; default 30
concurrency = 4
headers = { "User-Agent" = "duckhaul" }

[auth]
kind = "bearer"
token_env = "EXAMPLE_TOKEN"

[resources.orders]
path = "/orders"
params = { status = "all" }
records = "/data"

[resources.orders.pagination]
kind = "page"
page_param = "page"
size_param = "per_page"
page_size = 100
total = "/meta/total"

[resources.orders.columns]
created_at = "TIMESTAMPTZ"
customer = "STRUCT(name VARCHAR, email VARCHAR)"
"#;

fn env(variable: &str) -> Option<String> {
    match variable {
        "EXAMPLE_TOKEN" => Some("tok-123-secret".into()),
        "SHOP_USER" => Some("ann".into()),
        "SHOP_PASSWORD" => Some("pa55word".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn load(text: &str) -> Result<Source, SourceError> {
    parse("shop", Path::new("sources/shop.toml"), text, &env)
}

/// A minimal valid source with `resource` as its one resource's extra lines.
fn with_resource(extra: &str) -> String {
    format!("base_url = \"https://api.example.com\"\n[resources.orders]\npath = \"/orders\"\nrecords = \"\"\n{extra}")
}

/// The key and message of a refused file.
fn refused(text: &str) -> (String, String) {
    let error = load(text).expect_err("the file should be refused");
    (error.key.clone(), error.to_string())
}

#[test]
fn the_issues_example_loads_with_every_value_as_written() {
    let source = load(SHOP).unwrap();
    assert_eq!(source.name, "shop");
    assert_eq!(source.base_url, "https://api.example.com/v2");
    assert_eq!((source.rate_limit_per_minute, source.concurrency), (60, Some(4)));
    assert_eq!(source.headers, [("User-Agent".to_owned(), "duckhaul".to_owned())]);
    assert_eq!(
        source.auth,
        Some(Auth::Bearer { token_env: "EXAMPLE_TOKEN".into(), token: Secret::new("tok-123-secret") })
    );

    let orders = source.resource("orders").unwrap();
    assert_eq!((orders.table.as_str(), orders.path.as_str(), orders.records.as_str()), ("orders", "/orders", "/data"));
    assert_eq!(orders.params, [("status".to_owned(), "all".to_owned())]);
    assert_eq!(
        orders.pagination,
        Pagination::Page(PageNumbers {
            page_param: "page".into(),
            size_param: Some("per_page".into()),
            page_size: 100,
            first_page: 1,
            total: Some(Total::Pointer("/meta/total".into())),
        })
    );
    let columns: Vec<(&str, &str)> = orders.columns.iter().map(|c| (c.name.as_str(), c.duckdb_type.as_str())).collect();
    assert_eq!(columns, [("created_at", "TIMESTAMPTZ"), ("customer", "STRUCT(name VARCHAR, email VARCHAR)")]);
    assert_eq!(source.url_of(orders), "https://api.example.com/v2/orders");
}

#[test]
fn what_the_file_leaves_out_takes_its_default() {
    let source = load(&with_resource("")).unwrap();
    assert_eq!((source.rate_limit_per_minute, source.concurrency, source.auth.as_ref()), (30, None, None));
    assert_eq!(source.rate_limit().map(|n| n.get()), Some(30));
    let orders = &source.resources[0];
    assert_eq!((orders.table.as_str(), &orders.pagination), ("orders", &Pagination::None));
    assert!(orders.params.is_empty() && orders.columns.is_empty() && source.headers.is_empty());

    let unlimited = load(&format!("rate_limit_per_minute = 0\n{}", with_resource(""))).unwrap();
    assert_eq!(unlimited.rate_limit(), None);

    let page =
        load(&with_resource("[resources.orders.pagination]\nkind = \"page\"\npage_param = \"p\"\npage_size = 5"));
    let Pagination::Page(page) = page.unwrap().resources.remove(0).pagination else { panic!("not page") };
    assert_eq!((page.first_page, page.size_param, page.total), (1, None, None));
}

#[test]
fn resources_and_columns_keep_the_order_of_the_file() {
    let text = r#"
        base_url = "http://localhost:3000/"
        [resources.zebras]
        path = "/zebras"
        records = ""
        columns = { zeta = "BIGINT", alpha = "VARCHAR", mid = "DOUBLE" }
        [resources.apes]
        path = "/apes"
        records = "/items"
        table = "primates"
    "#;
    let source = load(text).unwrap();
    assert_eq!(source.base_url, "http://localhost:3000", "a trailing / would double in the URL");
    let names: Vec<_> = source.resources.iter().map(|r| (r.name.as_str(), r.table.as_str())).collect();
    assert_eq!(names, [("zebras", "zebras"), ("apes", "primates")]);
    let columns: Vec<_> = source.resources[0].columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(columns, ["zeta", "alpha", "mid"]);
}

#[test]
fn every_pagination_kind_reads_its_own_keys() {
    let kinds = [
        (
            "kind = \"offset\"\noffset_param = \"skip\"\nlimit_param = \"take\"\npage_size = 50\ntotal = \"header:X-Total-Count\"",
            Pagination::Offset(Offsets {
                offset_param: "skip".into(),
                limit_param: Some("take".into()),
                page_size: 50,
                total: Some(Total::Header("X-Total-Count".into())),
            }),
        ),
        (
            "kind = \"cursor\"\ncursor = \"/meta/next_cursor\"\ncursor_param = \"cursor\"",
            Pagination::Cursor(Cursors { cursor: "/meta/next_cursor".into(), cursor_param: "cursor".into() }),
        ),
        ("kind = \"next_url\"\nnext_url = \"/links/next\"", Pagination::NextUrl { next_url: "/links/next".into() }),
        ("kind = \"link_header\"", Pagination::LinkHeader),
        ("kind = \"none\"", Pagination::None),
        (
            "kind = \"page\"\npage_param = \"_page\"\nsize_param = \"_limit\"\npage_size = 10\nfirst_page = 0",
            Pagination::Page(PageNumbers {
                page_param: "_page".into(),
                size_param: Some("_limit".into()),
                page_size: 10,
                first_page: 0,
                total: None,
            }),
        ),
    ];
    for (keys, expected) in kinds {
        let source = load(&with_resource(&format!("[resources.orders.pagination]\n{keys}"))).unwrap();
        assert_eq!(source.resources[0].pagination, expected, "{keys}");
    }
}

#[test]
fn fixed_parameters_may_be_written_as_numbers_or_booleans() {
    let source = load(&with_resource("params = { limit = 100, archived = false, ratio = 0.5, q = \"a b\" }")).unwrap();
    let params: Vec<(&str, &str)> = source.resources[0].params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(params, [("limit", "100"), ("archived", "false"), ("ratio", "0.5"), ("q", "a b")]);
}

#[test]
fn a_misspelt_key_is_refused_with_where_it_is() {
    for (text, key, misspelt) in [
        (format!("base_ulr = \"x\"\n{}", with_resource("")), "base_ulr", "base_ulr"),
        (with_resource("recrods = \"/data\""), "resources.orders.recrods", "recrods"),
        (
            with_resource("[resources.orders.pagination]\nkind = \"page\"\npage_sise = 3"),
            "resources.orders.pagination.page_sise",
            "page_sise",
        ),
        (format!("{}\n[auth]\nkind = \"bearer\"\ntoken = \"EXAMPLE_TOKEN\"", with_resource("")), "auth.token", "token"),
    ] {
        let error = load(&text).unwrap_err();
        assert_eq!(error.key, key, "{error}");
        let message = error.to_string();
        assert!(message.contains(&format!("unknown field `{misspelt}`")), "{message}");
        assert!(message.starts_with("sources/shop.toml: "), "{message}");
        assert!(message.contains("(line "), "{message}");
    }
}

#[test]
fn a_value_of_the_wrong_type_names_its_key_and_line() {
    let text =
        with_resource("[resources.orders.pagination]\nkind = \"page\"\npage_param = \"page\"\npage_size = \"100\"");
    let error = load(&text).unwrap_err();
    assert_eq!(error.key, "resources.orders.pagination.page_size");
    let SourceErrorKind::Syntax { message, line } = &error.kind else { panic!("{error}") };
    assert!(message.contains("expected u32"), "{message}");
    assert_eq!(*line, Some(8));

    let (key, message) = refused(&with_resource("[resources.orders.pagination]\nkind = \"pages\""));
    assert_eq!(key, "resources.orders.pagination.kind");
    assert!(message.contains("unknown variant `pages`"), "{message}");

    let (key, message) = refused(&format!("concurrency = -1\n{}", with_resource("")));
    assert_eq!(key, "concurrency", "{message}");

    let (key, message) = refused(&with_resource("params = { ids = [1, 2] }"));
    assert_eq!(key, "resources.orders.params.ids", "{message}");
}

#[test]
fn text_that_is_not_toml_is_refused_with_its_line() {
    let error = load("base_url = \"https://a.example\"\n[resources.orders\npath = \"/o\"").unwrap_err();
    assert_eq!(error.key, "");
    assert!(matches!(error.kind, SourceErrorKind::Syntax { line: Some(2), .. }), "{error:?}");
}

#[test]
fn each_bad_value_gets_its_own_key_and_reason() {
    let page = "[resources.orders.pagination]\nkind = \"page\"\npage_param = \"page\"\n";
    let cases: Vec<(String, &str, &str)> = vec![
        (with_resource("").replace("base_url = \"https://api.example.com\"\n", ""), "base_url", "is required"),
        (with_resource("").replace("https://api.example.com", "ftp://files.example.com"), "base_url", "http or https"),
        (with_resource("").replace("https://api.example.com", "not a url"), "base_url", "is not a URL"),
        (with_resource("").replace("https://", "https://me:pw@"), "base_url", "must not hold credentials"),
        (with_resource("").replace("api.example.com", "api.example.com/v1?key=1"), "base_url", "query"),
        (format!("concurrency = 0\n{}", with_resource("")), "concurrency", "between 1 and 64"),
        ("base_url = \"https://a.example\"".into(), "resources", "at least one resource"),
        (with_resource("").replace("path = \"/orders\"\n", ""), "resources.orders.path", "is required"),
        (with_resource("").replace("\"/orders\"", "\"orders\""), "resources.orders.path", "must start with /"),
        (with_resource("").replace("\"/orders\"", "\"/orders?x=1\""), "resources.orders.path", "no query"),
        (with_resource("").replace("records = \"\"\n", ""), "resources.orders.records", "is required"),
        (with_resource("").replace("records = \"\"", "records = \"data\""), "resources.orders.records", "JSON Pointer"),
        (with_resource("").replace("records = \"\"", "records = \"/a~2b\""), "resources.orders.records", "~0"),
        (with_resource("").replace("[resources.orders]", "[resources.Orders]"), "resources.Orders", "resource name"),
        (
            with_resource("").replace("[resources.orders]", "[resources.\"my orders\"]"),
            "resources.\"my orders\"",
            "resource name",
        ),
        (with_resource("table = \"Order-Lines\""), "resources.orders.table", "not a valid table name"),
        (
            format!("{}\n[resources.lines]\npath = \"/l\"\nrecords = \"\"\ntable = \"orders\"", with_resource("")),
            "resources.lines",
            "already the table of resource `orders`",
        ),
        (
            with_resource("[resources.orders.pagination]\npage_size = 3"),
            "resources.orders.pagination.kind",
            "is required",
        ),
        (with_resource(&format!("{page}page_size = 0")), "resources.orders.pagination.page_size", "at least 1"),
        (with_resource(page), "resources.orders.pagination.page_size", "is required for pagination kind \"page\""),
        (
            with_resource(&format!("{page}page_size = 5\ncursor = \"/next\"")),
            "resources.orders.pagination.cursor",
            "is not a key of pagination kind \"page\" (it takes page_param, size_param, page_size, first_page, total)",
        ),
        (
            with_resource("[resources.orders.pagination]\nkind = \"link_header\"\npage_size = 5"),
            "resources.orders.pagination.page_size",
            "it takes no other key",
        ),
        (
            with_resource(&format!("{page}page_size = 5\nsize_param = \"page\"")),
            "resources.orders.pagination.size_param",
            "same parameter as page_param",
        ),
        (
            with_resource(&format!("{page}page_size = 5\ntotal = \"meta.total\"")),
            "resources.orders.pagination.total",
            "not a JSON Pointer",
        ),
        (
            with_resource(&format!("{page}page_size = 5\ntotal = \"header:X Total\"")),
            "resources.orders.pagination.total",
            "not a valid header name",
        ),
        (
            with_resource("[resources.orders.pagination]\nkind = \"cursor\"\ncursor_param = \"c\""),
            "resources.orders.pagination.cursor",
            "is required for pagination kind \"cursor\"",
        ),
        (
            with_resource("[resources.orders.pagination]\nkind = \"next_url\"\nnext_url = \"\""),
            "resources.orders.pagination.next_url",
            "must point into the body",
        ),
        (
            with_resource(&format!("params = {{ page = \"2\" }}\n{page}page_size = 5")),
            "resources.orders.params.page",
            "is sent by pagination",
        ),
        (
            with_resource("[resources.orders.columns]\ncreated_at = \" \""),
            "resources.orders.columns.created_at",
            "DuckDB type",
        ),
        (format!("headers = {{ \"Bad Name\" = \"x\" }}\n{}", with_resource("")), "headers.\"Bad Name\"", "header name"),
        (
            format!("headers = {{ Authorization = \"Bearer abc\" }}\n{}", with_resource("")),
            "headers.Authorization",
            "would put a secret in the file",
        ),
        (
            format!("headers = {{ Accept = \"a\", accept = \"b\" }}\n{}", with_resource("")),
            "headers.accept",
            "given twice",
        ),
    ];
    for (text, key, reason) in cases {
        let error = load(&text).expect_err(&text);
        assert_eq!(error.key, key, "{error}");
        assert!(matches!(error.kind, SourceErrorKind::Invalid(_)), "{error:?}");
        assert!(error.to_string().contains(reason), "{error} (wanted: {reason})");
    }
    let (_, message) = refused(&with_resource(&format!("{page}page_size = 0")));
    assert_eq!(message, "sources/shop.toml: resources.orders.pagination.page_size: must be at least 1");
}

#[test]
fn each_auth_kind_reads_its_secrets_from_the_environment() {
    let auth = |table: &str| load(&format!("{}\n[auth]\n{table}", with_resource(""))).map(|s| s.auth.unwrap());
    assert_eq!(
        auth("kind = \"header\"\nheader = \"X-Api-Key\"\ntoken_env = \"EXAMPLE_TOKEN\"").unwrap(),
        Auth::Header {
            header: "X-Api-Key".into(),
            token_env: "EXAMPLE_TOKEN".into(),
            token: Secret::new("tok-123-secret")
        }
    );
    assert_eq!(
        auth("kind = \"query\"\nparam = \"api_key\"\ntoken_env = \"EXAMPLE_TOKEN\"").unwrap(),
        Auth::Query {
            param: "api_key".into(),
            token_env: "EXAMPLE_TOKEN".into(),
            token: Secret::new("tok-123-secret")
        }
    );
    let basic = auth("kind = \"basic\"\nusername_env = \"SHOP_USER\"\npassword_env = \"SHOP_PASSWORD\"").unwrap();
    let (mut headers, mut query) = (Vec::new(), Vec::new());
    basic.apply(&mut headers, &mut query);
    assert_eq!(headers, [("Authorization".to_owned(), "Basic YW5uOnBhNTV3b3Jk".to_owned())]);

    for (table, key, reason) in [
        ("token_env = \"EXAMPLE_TOKEN\"", "auth.kind", "is required"),
        ("kind = \"bearer\"", "auth.token_env", "is required for auth kind \"bearer\""),
        (
            "kind = \"bearer\"\ntoken_env = \"EXAMPLE_TOKEN\"\nparam = \"k\"",
            "auth.param",
            "not a key of auth kind \"bearer\"",
        ),
        ("kind = \"header\"\ntoken_env = \"EXAMPLE_TOKEN\"", "auth.header", "is required"),
        ("kind = \"header\"\nheader = \"X Key\"\ntoken_env = \"EXAMPLE_TOKEN\"", "auth.header", "header name"),
        ("kind = \"basic\"\nusername_env = \"SHOP_USER\"", "auth.password_env", "is required"),
        ("kind = \"bearer\"\ntoken_env = \"$TOKEN\"", "auth.token_env", "not an environment variable name"),
    ] {
        let error = auth(table).unwrap_err();
        assert_eq!(error.key, key, "{error}");
        assert!(error.to_string().contains(reason), "{error}");
    }
    let (key, message) = refused(&format!(
        "headers = {{ x-api-key = \"a\" }}\n{}\n[auth]\nkind = \"header\"\nheader = \"X-Api-Key\"\ntoken_env = \"EXAMPLE_TOKEN\"",
        with_resource("")
    ));
    assert_eq!(key, "headers.x-api-key", "{message}");
    let (key, message) = refused(&format!(
        "{}\n[auth]\nkind = \"query\"\nparam = \"api_key\"\ntoken_env = \"EXAMPLE_TOKEN\"",
        with_resource("params = { api_key = \"x\" }")
    ));
    assert_eq!(key, "resources.orders.params.api_key", "{message}");
}

#[test]
fn a_missing_secret_names_its_variable_and_no_secret_is_ever_shown() {
    let text = SHOP.replace("EXAMPLE_TOKEN", "SHOP_TOKEN");
    let error = load(&text).unwrap_err();
    assert_eq!(error.key, "auth.token_env");
    assert_eq!(error.missing_variable(), Some("SHOP_TOKEN"));
    assert_eq!(error.to_string(), "sources/shop.toml: auth.token_env: the environment variable SHOP_TOKEN is not set");

    let error = load(&SHOP.replace("EXAMPLE_TOKEN", "EMPTY")).unwrap_err();
    assert!(matches!(&error.kind, SourceErrorKind::EmptySecret { variable } if variable == "EMPTY"), "{error}");

    let source = load(SHOP).unwrap();
    let shown = format!("{source:?} {source:#?}");
    assert!(!shown.contains("tok-123-secret"), "{shown}");
    assert!(shown.contains("EXAMPLE_TOKEN") && shown.contains("***"), "{shown}");
}

#[test]
fn a_directory_loads_every_toml_file_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("shop.toml"), SHOP).unwrap();
    fs::write(dir.path().join("crm.toml"), with_resource("")).unwrap();
    fs::write(dir.path().join("README.md"), "not a source").unwrap();
    fs::write(dir.path().join("old.toml.bak"), "not a source either").unwrap();
    fs::create_dir(dir.path().join("nested.toml")).unwrap();
    let sources = load_dir_with(dir.path(), &env).unwrap();
    let names: Vec<_> = sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["crm", "shop"]);
    assert_eq!(sources[1].file, dir.path().join("shop.toml"));

    let empty = tempfile::tempdir().unwrap();
    assert!(load_dir_with(empty.path(), &env).unwrap().is_empty());
}

#[test]
fn the_first_bad_file_of_a_directory_stops_the_load() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a_good.toml"), with_resource("")).unwrap();
    fs::write(dir.path().join("b_bad.toml"), with_resource("").replace("\"/orders\"", "\"orders\"")).unwrap();
    fs::write(dir.path().join("c_worse.toml"), "this is not toml").unwrap();
    let error = load_dir_with(dir.path(), &env).unwrap_err();
    assert_eq!(
        (error.file.as_path(), error.key.as_str()),
        (dir.path().join("b_bad.toml").as_path(), "resources.orders.path")
    );

    let missing = dir.path().join("nowhere");
    let error = load_dir_with(&missing, &env).unwrap_err();
    assert!(matches!(error.kind, SourceErrorKind::Unreadable(_)), "{error}");
    assert_eq!(error.file, missing);
}

#[test]
fn a_file_is_named_by_its_stem_which_must_be_an_identifier_and_not_faker() {
    let dir = tempfile::tempdir().unwrap();
    let faker = dir.path().join("faker.toml");
    fs::write(&faker, with_resource("")).unwrap();
    let error = load_file_with(&faker, &env).unwrap_err();
    assert!(matches!(&error.kind, SourceErrorKind::ReservedName(name) if name == BUILTIN_SOURCE), "{error}");
    assert!(load_dir_with(dir.path(), &env).is_err());

    let dashed = dir.path().join("my-shop.toml");
    fs::write(&dashed, with_resource("")).unwrap();
    let error = load_file_with(&dashed, &env).unwrap_err();
    assert!(error.to_string().contains("`my-shop` is not a valid source name"), "{error}");

    // The built-in source is described in the same format, so `parse` itself takes the name.
    assert_eq!(parse("faker", Path::new("(built in)"), &with_resource(""), &env).unwrap().name, "faker");
}
