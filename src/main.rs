//! The `lockstep` binary: parse the command line, load configuration, hand over to
//! the library. Nothing else lives here.

use clap::{Parser, Subcommand};
use lockstep::{app, clock::Clock, config, tls};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lockstep",
    version,
    about = "Promote Frappe configuration from staging to production through GitHub pull requests, driven from Slack."
)]
struct Cli {
    /// How log lines (on stderr) are written: text, or one JSON object a line for
    /// log shippers. Lines logged while a run is handled carry its run_id.
    #[arg(long, global = true, value_enum, default_value_t = lockstep::logging::LogFormat::Text)]
    log_format: lockstep::logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Connect to Slack over Socket Mode and serve the slash command.
    #[cfg_attr(
        feature = "local",
        doc = "Without --config and without SLACK_APP_TOKEN, runs the embedded local demo instead."
    )]
    Run {
        /// The TOML configuration (see config/lockstep.example.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run the real bot against local Slack-compatible servers: no credentials needed.
    #[cfg(feature = "local")]
    Demo(lockstep::local::demo::DemoArgs),
    /// Serve one of the local stand-ins for an outside service.
    #[cfg(feature = "local")]
    #[command(subcommand)]
    Sim(SimCommand),
    /// Write a live site's tracked blueprints as canonical files (reads only).
    Export(lockstep::frappe::cli::ExportArgs),
    /// Print the drift between a live site (or a folder of raw Frappe JSON) and a
    /// folder of canonical files; exit 1 when they differ (reads only).
    Diff(DiffArgs),
    /// Validate the configuration and reach every endpoint it names.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// The audit log kept beside the store.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain of the audit log (`<store>.audit.jsonl`) line by line,
    /// and that it still reaches the line the store recorded last; name the line
    /// where it breaks. Exit 1 when it does.
    Verify {
        /// The store folder (default: [store].path of --config, else ./lockstep.db).
        #[arg(long)]
        store: Option<PathBuf>,
        /// Read the store path from this configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[cfg(feature = "local")]
#[derive(Subcommand)]
enum SimCommand {
    /// A Slack-compatible server (Web API, Socket Mode, response URLs) on loopback.
    Slack(lockstep_sim::slack::SimSlackArgs),
    /// A Frappe-compatible server serving every site folder under --sites.
    Frappe(lockstep_sim::frappe::SimFrappeArgs),
    /// The bench stand-in: backup | migrate | restore <file> | restart against the
    /// Frappe-compatible server, printing what bench prints.
    Bench(lockstep_sim::bench::BenchArgs),
    /// A GitHub-compatible server holding the config repository.
    Github(lockstep_sim::github::SimGithubArgs),
}

/// `lockstep diff`: a live site (`--site` and `--url`) or a folder of raw Frappe
/// documents (`--raw`) against a folder of canonical files.
#[derive(clap::Args)]
struct DiffArgs {
    /// A folder of raw Frappe JSON documents (as the REST API returns them).
    #[arg(long, conflicts_with_all = ["site", "url"])]
    raw: Option<PathBuf>,
    /// The live site's name (picks FRAPPE_<SITE>_API_KEY/_API_SECRET).
    #[arg(long, requires = "url")]
    site: Option<lockstep::frappe::SiteName>,
    /// The live site's base URL.
    #[arg(long, requires = "site")]
    url: Option<url::Url>,
    /// Send `X-Frappe-Site-Name` (several sites on one bench, or the sim).
    #[arg(long)]
    frappe_site_name: Option<String>,
    /// Parallel document reads from the site.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The folder of canonical files to compare with (e.g. a checkout's fixtures/app).
    #[arg(long)]
    against: PathBuf,
}

fn main() -> ExitCode {
    tls::install_crypto_provider();
    lockstep::error::install_panic_hook();
    let cli = Cli::parse();
    init_logging(&cli.command, cli.log_format);
    // The Socket Mode listener has a runtime of its own; this one's threads do the
    // bot's work and yield the cores to it (see `priority`).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(lockstep::priority::for_work)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config: Some(path) } => {
            let config = config::Config::load(&path, &config::ProcessEnv)?;
            app::run_until_signal(config, Clock::from_env()?).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { config: None } => run_without_config().await,
        #[cfg(feature = "local")]
        Command::Demo(args) => {
            lockstep::local::demo::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "local")]
        Command::Sim(sim) => serve_sim(sim).await,
        Command::Check { config } => Ok(if lockstep::check::run(&config).await? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Command::Audit(AuditCommand::Verify { store, config }) => audit_verify(store, config),
        Command::Export(args) => {
            lockstep::frappe::cli::run_export(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff(args) => {
            let differs = diff(args).await?;
            Ok(if differs {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// `lockstep run` with no `--config`: the embedded local demo where this build has
/// one and no Slack credentials are set; otherwise what to pass.
async fn run_without_config() -> anyhow::Result<ExitCode> {
    use config::Env;
    if config::ProcessEnv.var("SLACK_APP_TOKEN").is_some() {
        anyhow::bail!("SLACK_APP_TOKEN is set but no --config was given; pass --config <file> (see config/lockstep.example.toml)");
    }
    #[cfg(feature = "local")]
    {
        eprintln!("No --config and no Slack credentials: running the embedded local demo (lockstep demo).");
        use lockstep::local::demo::{DemoArgs, WALKTHROUGH_NOW};
        let now = config::ProcessEnv
            .var("LOCKSTEP_NOW")
            .unwrap_or_else(|| WALKTHROUGH_NOW.to_string());
        lockstep::local::demo::run(DemoArgs::open_at(&now)).await?;
        Ok(ExitCode::SUCCESS)
    }
    #[cfg(not(feature = "local"))]
    anyhow::bail!("no --config was given; pass --config <file> (see config/lockstep.example.toml). This build has no local demo.")
}

/// `lockstep audit verify`: prints what it found; exit 1 for a broken chain.
fn audit_verify(store: Option<PathBuf>, config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use lockstep::store::{audit_log, record};
    let store = match (store, config) {
        (Some(store), _) => store,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|err| {
                anyhow::anyhow!("cannot read the config file {}: {err}", path.display())
            })?;
            let file = config::FileConfig::parse(&text, &path.display().to_string())?;
            let base = path.parent().map(PathBuf::from).unwrap_or_default();
            if file.store.path.is_absolute() {
                file.store.path
            } else {
                base.join(file.store.path)
            }
        }
        (None, None) => PathBuf::from("lockstep.db"),
    };
    let log = audit_log::log_path(&store);
    let expected = match record::read(&store) {
        Ok(record::Reading::Found(found)) => Some(audit_log::Expected {
            lines: found.audit_lines,
            head: found.audit_head,
        }),
        _ => None,
    };
    match audit_log::verify(&log, expected.as_ref()) {
        Ok(audit_log::Verdict::Intact { lines, note }) => {
            let note = note.map(|note| format!(" ({note})")).unwrap_or_default();
            println!(
                "ok    audit    {}: {lines} lines, every line chained to the one before{note}",
                log.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(audit_log::Verdict::Broken(found)) => {
            println!("FAIL  audit    {found}");
            Ok(ExitCode::FAILURE)
        }
        Err(err) => {
            println!("FAIL  audit    {}: cannot be read: {err}", log.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `lockstep sim …`: one local stand-in, in the foreground.
#[cfg(feature = "local")]
async fn serve_sim(sim: SimCommand) -> anyhow::Result<ExitCode> {
    match sim {
        SimCommand::Slack(args) => lockstep_sim::slack::serve(args).await?,
        SimCommand::Frappe(args) => lockstep_sim::frappe::run_sim_frappe(args).await?,
        SimCommand::Github(args) => lockstep_sim::github::serve(args).await?,
        SimCommand::Bench(args) => {
            // bench's own exit codes: 0 success, 1 failure.
            let code = lockstep_sim::bench::run_bench(args).await;
            return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `lockstep diff`: prints the drift report; true when the two sides differ.
async fn diff(args: DiffArgs) -> anyhow::Result<bool> {
    if let Some(raw) = &args.raw {
        let (report, differs) =
            lockstep::blueprint::files::diff_raw_against_canonical(raw, &args.against)?;
        print!("{report}");
        return Ok(differs);
    }
    let (Some(site), Some(url)) = (args.site, args.url) else {
        anyhow::bail!("say what to compare: --site <name> --url <url> for a live site, or --raw <dir> for a folder of Frappe JSON");
    };
    let site_args = lockstep::frappe::cli::SiteArgs {
        site,
        url,
        frappe_site_name: args.frappe_site_name,
        concurrency: args.concurrency,
    };
    lockstep::frappe::cli::run_diff(lockstep::frappe::cli::DiffArgs {
        site: site_args,
        against: args.against,
    })
    .await
}

#[cfg(feature = "local")]
fn is_demo(command: &Command) -> bool {
    matches!(command, Command::Demo(_) | Command::Run { config: None })
}

#[cfg(not(feature = "local"))]
fn is_demo(_: &Command) -> bool {
    false
}

/// Logs go to stderr, filtered by `RUST_LOG`; by default `info`, except for the
/// demo, whose transcript is the output a newcomer reads (warnings still show).
/// octocrab logs every failed request as an ERROR of its own; the GitHub client
/// reports each failure itself, with what to do, so octocrab's are off.
fn init_logging(command: &Command, format: lockstep::logging::LogFormat) {
    let default = if is_demo(command) {
        "warn"
    } else {
        "info,slack_morphism=warn,octocrab=off"
    };
    lockstep::logging::init(format, default);
}
