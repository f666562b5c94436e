//! Operator commands on a live site: `lockstep export --site <s> --url <u> --out <dir>`
//! writes the site's canonical files; `lockstep diff --site <s> --url <u> --against
//! <dir>` prints the drift report. Credentials come from `FRAPPE_<SITE>_API_KEY` /
//! `FRAPPE_<SITE>_API_SECRET` (SITE upper-cased, `-`/`.` as `_`). Both only read.
//! The diff holds git as digests ([`files::FolderIndex`]) and compares the site as
//! it streams in, so neither side is ever held as a tree of JSON values.

use std::path::PathBuf;

use anyhow::Context;
use url::Url;

use super::{ApiCredentials, FetchOptions, SiteConfig, SiteName, SiteReader};
use crate::blueprint::render::RenderOptions;
use crate::blueprint::{files, BlueprintSet};

/// Where the site is and how to read it.
#[derive(Debug, Clone, clap::Args)]
pub struct SiteArgs {
    /// Site name (`staging`, `prod`); picks FRAPPE_<SITE>_API_KEY/_API_SECRET.
    #[arg(long)]
    pub site: SiteName,
    /// Base URL of the site, e.g. https://staging.example.com.
    #[arg(long)]
    pub url: Url,
    /// Send `X-Frappe-Site-Name: <name>` (one bench serving several sites, or the sim).
    #[arg(long)]
    pub frappe_site_name: Option<String>,
    /// Parallel requests.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

/// `lockstep export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Folder to write (tracked folders are made to hold exactly the site's blueprints).
    #[arg(long)]
    pub out: PathBuf,
}

/// `lockstep diff --site`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Folder of canonical files to compare with (e.g. a checkout's fixtures/app).
    #[arg(long)]
    pub against: PathBuf,
}

/// Writes the site's canonical files under `--out`; returns how many.
pub async fn run_export(args: ExportArgs) -> anyhow::Result<usize> {
    let set = fetch(&args.site).await?;
    files::write_dir(&set, &args.out)
        .with_context(|| format!("while writing {}", args.out.display()))?;
    println!(
        "Exported {} blueprints from site {} to {}",
        set.len(),
        args.site.site,
        args.out.display()
    );
    Ok(set.len())
}

/// Prints the drift between the site and `--against`; returns whether they differ
/// (the caller exits 1 then, like `diff`).
pub async fn run_diff(args: DiffArgs) -> anyhow::Result<bool> {
    let against = args.against.clone();
    let git = tokio::task::spawn_blocking(move || files::index_dir(&against))
        .await
        .context("while reading the folder")?
        .with_context(|| format!("while reading {}", args.against.display()))?;
    tracing::debug!(blueprints = git.len(), "read the folder");
    let reader = reader(&args.site)?;
    let mut builder = git.drift_builder();
    let stats = reader
        .for_each_blueprint(&FetchOptions::default(), |blueprint, digest| {
            // A record listed twice (paging while someone edits) counts once.
            builder.add_with_digest(&blueprint, digest);
        })
        .await?;
    let drift = builder.finish_with(|kind, name| git.body(kind, name))?;
    let options = RenderOptions::new(
        args.site.url.to_string(),
        args.against.display().to_string(),
    );
    print!("{}", drift.render(&options));
    tracing::info!(
        blueprints = stats.blueprints,
        requests = stats.requests,
        "read the site"
    );
    Ok(!drift.is_empty())
}

async fn fetch(args: &SiteArgs) -> anyhow::Result<BlueprintSet> {
    Ok(reader(args)?
        .fetch_blueprints(&FetchOptions::default())
        .await?)
}

fn reader(args: &SiteArgs) -> anyhow::Result<SiteReader> {
    let credentials = ApiCredentials::from_env(&args.site).map_err(anyhow::Error::msg)?;
    let mut config = SiteConfig::new(args.site.clone(), args.url.clone(), credentials);
    config.concurrency = args.concurrency.max(1);
    config.site_header = args.frappe_site_name.clone();
    Ok(SiteReader::new(config)?)
}
