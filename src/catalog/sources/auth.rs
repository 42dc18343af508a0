//! A source's credentials: read from the environment when the file is loaded (the file only
//! names the variables), held in `Secret`s that print as `***`, and applied to each request.

use std::fmt;

use base64::Engine;

/// A credential from the environment. Its `Debug` and `Display` print `***`, so a source, an
/// error or a log line that carries it cannot show it; `expose` is the one way to the value,
/// meant for the request that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How requests to a source authenticate, with the secrets already resolved. The `*_env`
/// fields keep the variables' names, which may be shown (`/sources`), unlike their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer { token_env: String, token: Secret },
    /// `<header>: <token>`, e.g. `X-Api-Key`.
    Header { header: String, token_env: String, token: Secret },
    /// `?<param>=<token>` on every request.
    Query { param: String, token_env: String, token: Secret },
    /// `Authorization: Basic base64(<username>:<password>)`.
    Basic { username_env: String, password_env: String, username: Secret, password: Secret },
}

impl Auth {
    /// The kind as the file spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::Bearer { .. } => "bearer",
            Auth::Header { .. } => "header",
            Auth::Query { .. } => "query",
            Auth::Basic { .. } => "basic",
        }
    }

    /// The environment variables the secrets came from (names only).
    pub fn variables(&self) -> Vec<&str> {
        match self {
            Auth::Bearer { token_env, .. } | Auth::Header { token_env, .. } | Auth::Query { token_env, .. } => {
                vec![token_env]
            }
            Auth::Basic { username_env, password_env, .. } => vec![username_env, password_env],
        }
    }

    /// The query parameter that carries the secret, if this auth uses one: a next-page URL that
    /// echoes it must not be stored with it (`source::paging` strips it).
    pub fn query_param(&self) -> Option<&str> {
        match self {
            Auth::Query { param, .. } => Some(param),
            _ => None,
        }
    }

    /// The header that carries the secret, if this auth uses one.
    pub fn header_name(&self) -> Option<&str> {
        match self {
            Auth::Bearer { .. } | Auth::Basic { .. } => Some("Authorization"),
            Auth::Header { header, .. } => Some(header),
            Auth::Query { .. } => None,
        }
    }

    /// `text` (an upstream's error body, which may echo what it was sent) with every secret of
    /// this auth, and the encoded Basic pair, written `***`. Secrets under 4 characters are left:
    /// masking them would garble the text more than hide anything.
    pub fn mask(&self, text: &str) -> String {
        let mut secrets: Vec<String> = match self {
            Auth::Bearer { token, .. } | Auth::Header { token, .. } | Auth::Query { token, .. } => {
                vec![token.expose().to_owned()]
            }
            Auth::Basic { username, password, .. } => {
                let pair = format!("{}:{}", username.expose(), password.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(&pair);
                vec![encoded, pair, password.expose().to_owned(), username.expose().to_owned()]
            }
        };
        // The longest first, so that a secret inside another is not masked piecemeal.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut masked = text.to_owned();
        for secret in secrets.iter().filter(|s| s.chars().count() >= 4) {
            masked = masked.replace(secret.as_str(), "***");
        }
        masked
    }

    /// Adds the credentials to a request's headers or query pairs. What it adds holds the secret
    /// in clear: send it, never log it.
    pub fn apply(&self, headers: &mut Vec<(String, String)>, query: &mut Vec<(String, String)>) {
        match self {
            Auth::Bearer { token, .. } => {
                headers.push(("Authorization".into(), format!("Bearer {}", token.expose())));
            }
            Auth::Header { header, token, .. } => headers.push((header.clone(), token.expose().to_owned())),
            Auth::Query { param, token, .. } => query.push((param.clone(), token.expose().to_owned())),
            Auth::Basic { username, password, .. } => {
                let pair = format!("{}:{}", username.expose(), password.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                headers.push(("Authorization".into(), format!("Basic {encoded}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pairs = Vec<(String, String)>;

    #[test]
    fn mask_hides_every_secret_an_error_body_echoes() {
        let token =
            Auth::Header { header: "X-Api-Key".into(), token_env: "K".into(), token: Secret::new("k3y-s3cret") };
        assert_eq!(token.mask("key k3y-s3cret lacks scope (k3y-s3cret)"), "key *** lacks scope (***)");
        let basic = Auth::Basic {
            username_env: "U".into(),
            password_env: "P".into(),
            username: Secret::new("alice"),
            password: Secret::new("pa55word"),
        };
        // base64("alice:pa55word")
        assert_eq!(basic.mask("got YWxpY2U6cGE1NXdvcmQ= for alice, pa55word"), "got *** for ***, ***");
        let short = Auth::Bearer { token_env: "T".into(), token: Secret::new("ab") };
        assert_eq!(short.mask("about abc"), "about abc");
    }

    fn applied(auth: &Auth) -> (Pairs, Pairs) {
        let (mut headers, mut query) = (vec![("Accept".to_owned(), "application/json".to_owned())], Vec::new());
        auth.apply(&mut headers, &mut query);
        (headers, query)
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn a_secret_prints_as_stars_however_it_is_formatted() {
        let secret = Secret::new("s3cr3t-token");
        assert_eq!(format!("{secret} {secret:?} {secret:#?}"), "*** *** ***");
        let auth = Auth::Bearer { token_env: "SHOP_TOKEN".into(), token: secret.clone() };
        let shown = format!("{auth:?} {auth:#?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("SHOP_TOKEN"), "{shown}");
        assert_eq!(secret.expose(), "s3cr3t-token");
    }

    #[test]
    fn each_kind_puts_its_secret_where_the_upstream_reads_it() {
        let token = || Secret::new("t0k");
        let bearer = Auth::Bearer { token_env: "T".into(), token: token() };
        let (headers, query) = applied(&bearer);
        assert_eq!(headers[1], pair("Authorization", "Bearer t0k"));
        assert!(query.is_empty());

        let header = Auth::Header { header: "X-Api-Key".into(), token_env: "T".into(), token: token() };
        assert_eq!(applied(&header).0[1], pair("X-Api-Key", "t0k"));

        let in_query = Auth::Query { param: "api_key".into(), token_env: "T".into(), token: token() };
        let (headers, query) = applied(&in_query);
        assert_eq!((headers.len(), query), (1, vec![pair("api_key", "t0k")]));
        assert_eq!(in_query.query_param(), Some("api_key"));

        // RFC 7617's own example.
        let basic = Auth::Basic {
            username_env: "U".into(),
            password_env: "P".into(),
            username: Secret::new("Aladdin"),
            password: Secret::new("open sesame"),
        };
        assert_eq!(applied(&basic).0[1], pair("Authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
        assert_eq!(basic.variables(), ["U", "P"]);
        assert_eq!(basic.header_name(), Some("Authorization"));
    }
}
