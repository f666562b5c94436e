//! `lockstep sim github --port <n> --repo <owner/name> --seed <dir>`: the GitHub sim
//! standalone, for the demo walkthrough. With `--frappe-url` and `--site`, pushes to
//! `main` deploy to that Frappe sim through the bench stand-in, and the repository
//! has a dispatchable `bench.yml` (input `args`) for a workflow-dispatch runner.

use std::net::IpAddr;
use std::path::PathBuf;

use super::{bench_deploy_hook, bench_workflow_hook, GithubSim, GithubSimConfig};

/// `lockstep sim github`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimGithubArgs {
    #[arg(long, default_value_t = 3002)]
    pub port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// The repository to serve, `owner/name`.
    #[arg(long, default_value = "acme/frappe-config")]
    pub repo: String,
    /// A sites folder (`<dir>/prod`, `<dir>/staging`): `main` gets prod's
    /// blueprints and `staging` staging's, under `fixtures/app/`.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// The token clients must send.
    #[arg(
        long,
        env = "LOCKSTEP_SIM_GITHUB_TOKEN",
        default_value = "ghs_lockstepsimtoken"
    )]
    pub token: String,
    /// The Frappe sim that workflow runs deploy to (with `--site`).
    #[arg(long, env = "LOCKSTEP_SIM_FRAPPE_URL")]
    pub frappe_url: Option<String>,
    /// The production site on that Frappe sim.
    #[arg(long)]
    pub site: Option<String>,
}

/// Runs the sim until Ctrl-C.
pub async fn serve(args: SimGithubArgs) -> anyhow::Result<()> {
    let (deploy, bench) = match (args.frappe_url, args.site) {
        (Some(url), Some(site)) => (
            Some(bench_deploy_hook(url.clone(), site)),
            Some(bench_workflow_hook(url, None)),
        ),
        (None, None) => (None, None),
        _ => anyhow::bail!("--frappe-url and --site go together: give both for workflow runs to deploy, or neither"),
    };
    let config = GithubSimConfig {
        port: args.port,
        token: args.token,
        repos: vec![args.repo.clone()],
        deploy,
        bench,
        ..GithubSimConfig::default()
    };
    let sim = GithubSim::start_on(args.bind, config).await?;
    if let Some(dir) = &args.seed {
        sim.repo(&args.repo).seed_from_sites_dir(dir)?;
    }
    println!(
        "GitHub sim for {} at {} (token from --token / LOCKSTEP_SIM_GITHUB_TOKEN)",
        args.repo,
        sim.url()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: SimGithubArgs,
    }

    #[test]
    fn the_walkthrough_command_line_parses() {
        let w = Wrapper::try_parse_from([
            "sim",
            "--port",
            "3002",
            "--repo",
            "acme/cfg",
            "--seed",
            "config/demo/sites",
        ])
        .unwrap();
        assert_eq!((w.args.port, w.args.repo.as_str()), (3002, "acme/cfg"));
        assert_eq!(
            w.args.seed.as_deref(),
            Some(std::path::Path::new("config/demo/sites"))
        );
    }
}
