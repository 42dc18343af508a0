//! Listing object names under a prefix of a GCS destination, over the JSON API.
//!
//! The official crate lists only through `StorageControl`, which speaks gRPC, and no emulator
//! the tests can run speaks gRPC; the JSON API's `objects.list` is a plain GET (one class-A
//! operation per page of up to 1,000 names), so it is called directly with the same
//! credentials: anonymous for an emulator, Application Default Credentials otherwise.

use anyhow::{Context, bail};
use serde::Deserialize;

/// Lists objects of one bucket over the JSON API.
#[derive(Clone, Debug)]
pub struct GcsLister {
    http: reqwest::Client,
    /// `https://storage.googleapis.com`, or the emulator's URL.
    base: String,
    /// Anonymous for an emulator; else Application Default Credentials, loaded at the first
    /// listing (as the storage client loads them at its first call).
    anonymous: bool,
    credentials: std::sync::Arc<tokio::sync::OnceCell<google_cloud_auth::credentials::AccessTokenCredentials>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListPage {
    #[serde(default)]
    items: Vec<ListedObject>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ListedObject {
    name: String,
}

impl GcsLister {
    /// `emulator`: the emulator's URL (anonymous); `None`: the real service with ADC.
    pub fn new(emulator: Option<String>) -> anyhow::Result<GcsLister> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("cannot build the HTTP client for GCS listings")?;
        let anonymous = emulator.is_some();
        let base = emulator.unwrap_or_else(|| "https://storage.googleapis.com".to_string());
        Ok(GcsLister { http, base, anonymous, credentials: Default::default() })
    }

    /// Every object name in `bucket` that starts with `prefix`, page after page.
    pub async fn list(&self, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        let url = format!("{}/storage/v1/b/{bucket}/o", self.base);
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = self.http.get(&url).query(&[("prefix", prefix), ("fields", "items(name),nextPageToken")]);
            if let Some(token) = &token {
                request = request.query(&[("pageToken", token.as_str())]);
            }
            if !self.anonymous {
                let credentials = self
                    .credentials
                    .get_or_try_init(|| async {
                        google_cloud_auth::credentials::Builder::default()
                            .build_access_token_credentials()
                            .context("cannot load Application Default Credentials to list GCS objects")
                    })
                    .await?;
                let token = credentials.access_token().await.context("cannot get an access token for GCS")?;
                request = request.bearer_auth(token.token);
            }
            let response = request.send().await.with_context(|| format!("cannot list gs://{bucket}/{prefix}"))?;
            let status = response.status();
            if status == reqwest::StatusCode::NOT_FOUND {
                // No bucket: nothing was ever written under any prefix of it (a write says so).
                return Ok(names);
            }
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                bail!(
                    "listing gs://{bucket}/{prefix} answered {status}: {}",
                    body.chars().take(300).collect::<String>()
                );
            }
            let page: ListPage =
                response.json().await.with_context(|| format!("cannot read the listing of gs://{bucket}/{prefix}"))?;
            names.extend(page.items.into_iter().map(|o| o.name));
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(names),
            }
        }
    }
}
