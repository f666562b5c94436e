//! A Frappe-compatible server (REST v1, axum) serving several sites at once, each
//! seeded from a folder of canonical blueprint files plus `_site/users.json` and
//! `_site/site.json`. It speaks what Frappe v15 speaks (reference/frappe.md): the
//! same routes, JSON shapes, status codes and error envelopes, unordered lists
//! without `order_by`, and the document rules that matter to promotion. It never
//! imports the bot's modules.
//!
//! **Credentials convention** (sim only, not secrets): every site `<site>` accepts
//! API key `<site>-key` with secret `<site>-secret`, acting as `Administrator`
//! (e.g. `Authorization: token staging-key:staging-secret`). More API users:
//! [`FrappeSim::add_api_user`].
//!
//! **Site selection**: the `X-Frappe-Site-Name` header, else the `Host` header
//! (without port) must name a site folder; one port serves every site.
//!
//! Private control routes for the bench stand-in live under `/_sim/` (`control.rs`).

mod control;
mod error;
mod http;
mod meta;
mod query;
mod seed;
mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

pub use http::{Fault, Gate};
pub use seed::{read_blueprint_folder, read_sites_dir, SiteSeed, FOLDERS_IN_APPLY_ORDER};
use store::{without_nulls, ApiUser, SiteData};

/// A running sim. Dropping it stops the server.
pub struct FrappeSim {
    url: String,
    shared: Arc<http::Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FrappeSim {
    /// Serves every site folder under `sites_dir` on a free loopback port.
    pub async fn start(sites_dir: &Path) -> anyhow::Result<FrappeSim> {
        FrappeSim::start_with(read_sites_dir(sites_dir)?, "127.0.0.1:0".parse()?).await
    }

    /// Serves the given sites on `addr` (port 0: any free port).
    pub async fn start_with(seeds: Vec<SiteSeed>, addr: SocketAddr) -> anyhow::Result<FrappeSim> {
        let shared = Arc::new(http::Shared::default());
        {
            let mut sites = shared.sites();
            for seed in seeds {
                let site = build_site(seed)?;
                sites.insert(site.name.clone(), site);
            }
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("while binding the Frappe sim to {addr}"))?;
        let local = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(shared.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = served.await {
                tracing::error!(error = %e, "Frappe sim stopped");
            }
        });
        Ok(FrappeSim {
            url: format!("http://{local}"),
            shared,
            shutdown: Some(tx),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn api_key(site: &str) -> String {
        format!("{site}-key")
    }

    pub fn api_secret(site: &str) -> String {
        format!("{site}-secret")
    }

    pub fn site_names(&self) -> Vec<String> {
        self.shared.sites().keys().cloned().collect()
    }

    /// Queues a fault for the next Frappe request (control routes are never faulted).
    pub fn inject(&self, fault: Fault) {
        self.shared.faults().push_back(fault);
    }

    pub fn inject_times(&self, fault: Fault, times: usize) {
        let mut faults = self.shared.faults();
        for _ in 0..times {
            faults.push_back(fault.clone());
        }
    }

    /// Frappe requests served so far (all sites; control routes not counted).
    pub fn requests_made(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Stores a raw Frappe-shaped document (with `doctype` and `name`), filling in
    /// missing metadata; replaces a record of the same name. No validation.
    pub fn set_doc(&self, site: &str, raw: Value) -> anyhow::Result<()> {
        let mut sites = self.shared.sites();
        let data = sites
            .get_mut(site)
            .with_context(|| format!("no site {site} in the sim"))?;
        data.put_raw(raw)
            .map(|_| ())
            .context("set_doc needs a JSON object with \"doctype\" and \"name\"")
    }

    /// Removes a record, as someone deleting it in the desk would.
    pub fn delete_doc(&self, site: &str, doctype: &str, name: &str) -> anyhow::Result<()> {
        let mut sites = self.shared.sites();
        let data = sites
            .get_mut(site)
            .with_context(|| format!("no site {site} in the sim"))?;
        data.delete(doctype, name)
            .map_err(|err| anyhow::anyhow!("cannot delete {doctype} {name:?} on {site}: {err:?}"))
    }

    /// A document as Frappe's one-document read returns it.
    pub fn get_doc(&self, site: &str, doctype: &str, name: &str) -> Option<Value> {
        let sites = self.shared.sites();
        sites
            .get(site)?
            .find(doctype, name)
            .map(|(_, d)| without_nulls(d))
    }

    /// Number of records of a doctype on a site.
    pub fn count(&self, site: &str, doctype: &str) -> usize {
        self.shared
            .sites()
            .get(site)
            .and_then(|s| s.doctype_docs(doctype).map(|m| m.len()))
            .unwrap_or(0)
    }

    /// User documents of a site.
    pub fn users(&self, site: &str) -> Vec<Value> {
        let sites = self.shared.sites();
        sites
            .get(site)
            .and_then(|s| s.doctype_docs("User"))
            .map(|m| m.values().map(without_nulls).collect())
            .unwrap_or_default()
    }

    /// Adds an API key pair acting as `user` (who must be a User on the site).
    pub fn add_api_user(
        &self,
        site: &str,
        user: &str,
        key: &str,
        secret: &str,
    ) -> anyhow::Result<()> {
        let mut sites = self.shared.sites();
        let data = sites
            .get_mut(site)
            .with_context(|| format!("no site {site} in the sim"))?;
        anyhow::ensure!(data.exists("User", user), "no User {user} on site {site}");
        data.api_users.push(ApiUser {
            user: user.into(),
            key: key.into(),
            secret: secret.into(),
        });
        Ok(())
    }

    pub fn set_developer_mode(&self, site: &str, on: bool) {
        if let Some(data) = self.shared.sites().get_mut(site) {
            data.developer_mode = on;
        }
    }

    /// Database backup paths of a site, oldest first.
    /// The backups restored on `site`, oldest first, by id.
    pub fn restores(&self, site: &str) -> Vec<String> {
        self.shared
            .sites()
            .get(site)
            .map(|s| s.restored.clone())
            .unwrap_or_default()
    }

    pub fn backups(&self, site: &str) -> Vec<String> {
        let sites = self.shared.sites();
        sites
            .get(site)
            .map(|s| {
                s.backups
                    .iter()
                    .flat_map(|b| {
                        b.files
                            .iter()
                            .filter(|f| f.0 == "database")
                            .map(|f| f.1.clone())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stops the server (the standalone command calls it on Ctrl-C; dropping does the same).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for FrappeSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(shared: Arc<http::Shared>) -> Router {
    Router::new()
        .route("/_sim/sites", get(control::list_sites))
        .route("/_sim/sites/{site}/backup", post(control::backup))
        .route("/_sim/sites/{site}/restore", post(control::restore))
        .route("/_sim/sites/{site}/migrate", post(control::migrate))
        .route(
            "/_sim/sites/{site}/fail-next-migrate",
            post(control::fail_next_migrate),
        )
        .route("/_sim/sites/{site}/restart", post(control::restart))
        .fallback(http::frappe_entry)
        .with_state(shared)
}

fn build_site(seed: SiteSeed) -> anyhow::Result<SiteData> {
    let mut site = SiteData::new(&seed.name, &seed.time_zone, seed.developer_mode)
        .map_err(anyhow::Error::msg)?;
    for user in seed.users {
        let mut user = user;
        if let Value::Object(map) = &mut user {
            map.entry("doctype")
                .or_insert_with(|| Value::String("User".into()));
            if !map.contains_key("name") {
                if let Some(email) = map.get("email").cloned() {
                    map.insert("name".into(), email);
                }
            }
        }
        site.put_raw(user).with_context(|| {
            format!(
                "site {}: a user in _site/users.json has no name/email",
                seed.name
            )
        })?;
    }
    for doc in seed.documents {
        site.put_raw(doc)
            .with_context(|| format!("site {}: a seed document lacks doctype/name", seed.name))?;
    }
    Ok(site)
}

/// `lockstep sim frappe --sites <dir> --port <n>`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimFrappeArgs {
    /// Folder holding one sub-folder of canonical files per site (e.g. config/demo/sites).
    #[arg(long)]
    pub sites: std::path::PathBuf,
    /// Port to listen on (loopback).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
}

/// Serves the sites until Ctrl-C.
pub async fn run_sim_frappe(args: SimFrappeArgs) -> anyhow::Result<()> {
    let sim = FrappeSim::start_with(
        read_sites_dir(&args.sites)?,
        SocketAddr::new(args.host, args.port),
    )
    .await?;
    println!("Frappe-compatible sim listening on {}", sim.url());
    for site in sim.site_names() {
        println!(
            "  site {site}: send X-Frappe-Site-Name: {site}; Authorization: token {}:{}",
            FrappeSim::api_key(&site),
            FrappeSim::api_secret(&site)
        );
    }
    tokio::signal::ctrl_c()
        .await
        .context("while waiting for Ctrl-C")?;
    sim.stop().await;
    Ok(())
}
