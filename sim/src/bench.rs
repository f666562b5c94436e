//! The bench stand-in: `lockstep sim bench --site <s> backup | migrate | restore <file>
//! | restart`. It acts on a running Frappe-compatible sim through the sim's private
//! `/_sim/` control routes (never Frappe's own routes), and prints exactly what
//! `bench` prints (reference/frappe.md §4), exit codes included: 0 on success, 1 on
//! failure with a Python-style traceback. Migrate applies a folder of canonical
//! files (`--blueprints <dir>`), or the config repository at a ref as the bench
//! host's app checkout would hold it after a pull (`--git-api <url> --repo
//! owner/name --git-ref main`, read from a GitHub-compatible server). `run-tests`
//! leaves the reports of the suite it stands in for (`--test-reports <dir>`). It
//! never imports the bot's modules.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{json, Value};
use sha1::{Digest, Sha1};

/// `lockstep sim bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The site to act on (not needed for `restart`).
    #[arg(long)]
    pub site: Option<String>,
    /// Where the Frappe-compatible sim listens.
    #[arg(
        long,
        env = "LOCKSTEP_SIM_FRAPPE_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    pub sim_url: String,
    /// Folder of canonical blueprint files that `migrate` applies (the "app" fixtures),
    /// e.g. a checkout's `fixtures/app`.
    #[arg(long, env = "LOCKSTEP_SIM_BENCH_BLUEPRINTS")]
    pub blueprints: Option<PathBuf>,
    /// Instead of a folder: the base URL of a GitHub-compatible API holding the
    /// config repository, which `migrate` reads at `--git-ref` (the bench host's
    /// checkout of the app, pulled).
    #[arg(long, env = "LOCKSTEP_SIM_BENCH_GIT_API", requires = "repo")]
    pub git_api: Option<String>,
    /// `owner/name` of the config repository.
    #[arg(long, env = "LOCKSTEP_SIM_BENCH_REPO")]
    pub repo: Option<String>,
    #[arg(long, default_value = "main")]
    pub git_ref: String,
    /// The token for `--git-api`.
    #[arg(
        long,
        env = "LOCKSTEP_SIM_BENCH_GIT_TOKEN",
        default_value = "ghs_lockstepsimtoken"
    )]
    pub git_token: String,
    /// Folder holding the reports `run-tests` leaves behind (`junit.xml`,
    /// `coverage.xml`): the outcome of the app's test suite this bench stands in for.
    #[arg(long, env = "LOCKSTEP_SIM_BENCH_TEST_REPORTS")]
    pub test_reports: Option<PathBuf>,
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum BenchCommand {
    /// Snapshot the site.
    Backup {
        #[arg(long)]
        with_files: bool,
    },
    /// Apply the blueprints folder as `bench migrate` applies fixtures.
    Migrate {
        #[arg(long)]
        skip_failing: bool,
    },
    /// Restore a snapshot by its database file path.
    Restore {
        file: String,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        db_root_password: Option<String>,
        #[arg(long)]
        with_public_files: Option<String>,
        #[arg(long)]
        with_private_files: Option<String>,
    },
    /// Restart the bench processes.
    Restart,
    /// Run an app's tests, leaving a JUnit report (and `sites/coverage.xml` with
    /// `--coverage`) as `bench run-tests` does.
    RunTests {
        #[arg(long)]
        app: Option<String>,
        #[arg(long)]
        coverage: bool,
        #[arg(long)]
        junit_xml_output: Option<PathBuf>,
        /// Where `--coverage` leaves coverage.xml (bench: `sites/coverage.xml`).
        #[arg(long, default_value = "sites/coverage.xml")]
        coverage_output: PathBuf,
    },
}

/// Runs one command, printing to stdout/stderr; returns the process exit code.
pub async fn run_bench(args: BenchArgs) -> i32 {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    bench(args, &mut out, &mut err).await
}

/// As [`run_bench`], writing to the given streams (tests read them).
pub async fn bench(args: BenchArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let control = Control {
        http: reqwest::Client::new(),
        base: args.sim_url.trim_end_matches('/').to_string(),
    };
    let result = match (&args.command, args.site.as_deref()) {
        (BenchCommand::Restart, site) => restart(&control, site, out).await,
        (_, None) => Err(Failure::Usage("Please specify --site sitename".into())),
        (BenchCommand::Backup { with_files }, Some(site)) => {
            backup(&control, site, *with_files, out).await
        }
        (BenchCommand::Restore { file, .. }, Some(site)) => {
            restore(&control, site, file, out).await
        }
        (BenchCommand::Migrate { .. }, Some(site)) => match checkout(&args).await {
            Ok(checkout) => {
                let folder = checkout
                    .as_ref()
                    .map(|dir| dir.path().to_path_buf())
                    .or_else(|| args.blueprints.clone());
                migrate(&control, site, folder.as_ref(), out).await
            }
            Err(failure) => Err(failure),
        },
        (
            BenchCommand::RunTests {
                coverage,
                junit_xml_output,
                coverage_output,
                ..
            },
            Some(_),
        ) => run_tests(
            args.test_reports.as_deref(),
            junit_xml_output.as_deref(),
            coverage.then_some(coverage_output.as_path()),
            out,
            err,
        ),
    };
    match result {
        Ok(()) => 0,
        Err(Failure::Printed) => 1,
        Err(Failure::Usage(message)) | Err(Failure::Plain(message)) => {
            let _ = writeln!(err, "{message}");
            1
        }
        Err(Failure::Traceback { frames, exception }) => {
            let _ = write!(err, "{}", traceback(&frames, &exception));
            1
        }
    }
}

/// The app's fixtures as the bench host's checkout holds them after a pull: every
/// file under `fixtures/app/` of `--repo` at `--git-ref`, written to a temporary
/// folder. `None` without `--git-api` (the `--blueprints` folder is used).
async fn checkout(args: &BenchArgs) -> Result<Option<tempfile::TempDir>, Failure> {
    let (Some(api), Some(repo)) = (&args.git_api, &args.repo) else {
        return Ok(None);
    };
    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(format!("{}/repos/{repo}/{path}", api.trim_end_matches('/')))
            .bearer_auth(&args.git_token)
            .header("User-Agent", "bench-standin")
            .send()
    };
    let fail = |what: &str, e: String| {
        Failure::Plain(format!(
            "git pull of {repo} at {} failed ({what}): {e}",
            args.git_ref
        ))
    };
    let tree: Value = get(format!("git/trees/{}?recursive=1", args.git_ref))
        .await
        .map_err(|e| fail("tree", e.to_string()))?
        .json()
        .await
        .map_err(|e| fail("tree", e.to_string()))?;
    let dir = tempfile::tempdir().map_err(|e| fail("a folder", e.to_string()))?;
    let root = "fixtures/app/";
    for item in tree["tree"].as_array().into_iter().flatten() {
        let (Some(path), Some(sha)) = (item["path"].as_str(), item["sha"].as_str()) else {
            continue;
        };
        let Some(relative) = path.strip_prefix(root).filter(|_| item["type"] == "blob") else {
            continue;
        };
        let blob: Value = get(format!("git/blobs/{sha}"))
            .await
            .map_err(|e| fail(path, e.to_string()))?
            .json()
            .await
            .map_err(|e| fail(path, e.to_string()))?;
        let encoded = blob["content"]
            .as_str()
            .unwrap_or_default()
            .replace('\n', "");
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
            .map_err(|e| fail(path, e.to_string()))?;
        let target = dir.path().join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(path, e.to_string()))?;
        }
        std::fs::write(&target, bytes).map_err(|e| fail(path, e.to_string()))?;
    }
    Ok(Some(dir))
}

/// `bench run-tests`: copies the stand-in's reports where bench would leave them and
/// prints what unittest prints (to stderr) and "Saved Coverage". Like bench without
/// `CI` set, it exits 0 even when tests failed: the report is what tells.
fn run_tests(
    reports: Option<&std::path::Path>,
    junit: Option<&std::path::Path>,
    coverage: Option<&std::path::Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    let reports = reports.ok_or_else(|| {
        Failure::Plain("the bench stand-in has no test reports: pass --test-reports <dir> (or LOCKSTEP_SIM_BENCH_TEST_REPORTS)".into())
    })?;
    let copy = |name: &str, to: &std::path::Path| -> Result<String, Failure> {
        let from = reports.join(name);
        if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::Plain(format!("cannot write {}: {e}", to.display())))?;
        }
        std::fs::copy(&from, to).map_err(|e| {
            Failure::Plain(format!(
                "cannot copy {} to {}: {e}",
                from.display(),
                to.display()
            ))
        })?;
        std::fs::read_to_string(to)
            .map_err(|e| Failure::Plain(format!("cannot read {}: {e}", to.display())))
    };
    let summary = match junit {
        Some(path) => junit_summary(&copy("junit.xml", path)?),
        None => (0, 0, 0),
    };
    let (tests, failures, errors) = summary;
    let _ = writeln!(err, "{}", "-".repeat(70));
    let _ = writeln!(err, "Ran {tests} tests in 0.412s\n");
    if failures + errors == 0 {
        let _ = writeln!(err, "OK");
    } else {
        let _ = writeln!(err, "FAILED (failures={failures}, errors={errors})");
    }
    if let Some(path) = coverage {
        copy("coverage.xml", path)?;
        let _ = writeln!(out, "Saved Coverage");
    }
    Ok(())
}

/// (tests, failures, errors) summed over a JUnit report's test suites.
fn junit_summary(xml: &str) -> (u64, u64, u64) {
    let attribute = |tag: &str, name: &str| -> u64 {
        let key = format!("{name}=\"");
        tag.split(&key)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    xml.split("<testsuite ")
        .skip(1)
        .map(|tag| tag.split('>').next().unwrap_or(""))
        .fold((0, 0, 0), |(t, f, e), tag| {
            (
                t + attribute(tag, "tests"),
                f + attribute(tag, "failures"),
                e + attribute(tag, "errors"),
            )
        })
}

enum Failure {
    /// The message is already out (stdout), like bench's own failure lines.
    Printed,
    Usage(String),
    Plain(String),
    Traceback {
        frames: Vec<(&'static str, u32, &'static str, &'static str)>,
        exception: String,
    },
}

struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    /// POSTs to a control route; a JSON answer whatever the status.
    async fn post(&self, path: &str, body: Value) -> Result<(u16, Value), Failure> {
        let url = format!("{}/_sim/{path}", self.base);
        let response = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status().as_u16();
        let value = response
            .json::<Value>()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        Ok((status, value))
    }
}

fn unreachable(base: &str, e: &reqwest::Error) -> Failure {
    Failure::Plain(format!(
        "Could not reach the Frappe sim at {base} ({e}). Start it with `lockstep sim frappe --sites <dir> --port <n>` and point --sim-url (or LOCKSTEP_SIM_FRAPPE_URL) at it."
    ))
}

fn site_missing(site: &str, status: u16, body: &Value) -> Option<Failure> {
    (status == 404
        && body["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not exist")))
    .then(|| Failure::Plain(format!("Site {site} does not exist")))
}

async fn backup(
    control: &Control,
    site: &str,
    with_files: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let (status, body) = control
        .post(
            &format!("sites/{site}/backup"),
            json!({"with_files": with_files}),
        )
        .await?;
    if let Some(missing) = site_missing(site, status, &body) {
        return Err(missing);
    }
    if body["ok"] != json!(true) {
        let _ = writeln!(
            out,
            "Backup failed for Site {site}. Database or site_config.json may be corrupted"
        );
        return Err(Failure::Printed);
    }
    let files = body["files"].as_array().cloned().unwrap_or_default();
    let rows: Vec<(String, String, String)> = files
        .iter()
        .map(|f| {
            let kind = f["kind"].as_str().unwrap_or_default();
            let mut chars = kind.chars();
            let title = chars
                .next()
                .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default();
            (
                title,
                f["path"].as_str().unwrap_or_default().to_string(),
                human_size(f["size"].as_u64().unwrap_or(0)),
            )
        })
        .collect();
    let taken_at = body["taken_at"].as_str().unwrap_or_default();
    let _ = write!(
        out,
        "{}",
        render_backup_summary(site, taken_at, &rows, with_files)
    );
    Ok(())
}

async fn restore(
    control: &Control,
    site: &str,
    file: &str,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let (status, body) = control
        .post(&format!("sites/{site}/restore"), json!({"file": file}))
        .await?;
    if let Some(missing) = site_missing(site, status, &body) {
        return Err(missing);
    }
    if body["ok"] != json!(true) {
        let _ = writeln!(out, "Invalid path {file}");
        return Err(Failure::Printed);
    }
    let _ = writeln!(out, "Site {site} has been restored");
    Ok(())
}

const MIGRATE_FRAMES: [(&str, u32, &str, &str); 4] = [
    ("frappe/commands/site.py", 598, "migrate", "SiteMigration("),
    ("frappe/migrate.py", 185, "run", "self.run_schema_updates()"),
    (
        "frappe/migrate.py",
        48,
        "wrapper",
        "ret = method(*args, **kwargs)",
    ),
    (
        "frappe/migrate.py",
        137,
        "run_schema_updates",
        "frappe.modules.patch_handler.run_all(",
    ),
];

async fn migrate(
    control: &Control,
    site: &str,
    folder: Option<&PathBuf>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let Some(folder) = folder else {
        return Err(Failure::Usage(
            "The bench stand-in needs --blueprints <dir> (or LOCKSTEP_SIM_BENCH_BLUEPRINTS): the folder of canonical files that migrate applies. Git refs are not supported yet.".into(),
        ));
    };
    let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.clone());
    let _ = writeln!(out, "Migrating {site}");
    let (status, body) = control
        .post(
            &format!("sites/{site}/migrate"),
            json!({"folder": folder.display().to_string()}),
        )
        .await?;
    if let Some(missing) = site_missing(site, status, &body) {
        return Err(missing);
    }
    if status == 400 {
        return Err(Failure::Traceback {
            frames: MIGRATE_FRAMES[..2].to_vec(),
            exception: format!(
                "FileNotFoundError: {}",
                body["error"]
                    .as_str()
                    .unwrap_or("the blueprints folder cannot be read")
            ),
        });
    }
    if body["ok"] != json!(true) {
        let exc_type = body["exc_type"].as_str().unwrap_or("ValidationError");
        let message = body["message"].as_str().unwrap_or_default();
        let mut frames = MIGRATE_FRAMES.to_vec();
        if body["phase"] == "patches" {
            let _ = writeln!(
                out,
                "Executing lockstep_app.patches.v1_0.simulated_failure in {site} ({})",
                db_name(site)
            );
            frames.push((
                "frappe/modules/patch_handler.py",
                186,
                "execute_patch",
                "_patch()",
            ));
        } else {
            frames[3] = (
                "frappe/migrate.py",
                141,
                "run_schema_updates",
                "sync_fixtures()",
            );
            frames.push((
                "frappe/utils/fixtures.py",
                40,
                "import_fixtures",
                "import_doc(fixture_file)",
            ));
        }
        return Err(Failure::Traceback {
            frames,
            exception: format!("frappe.exceptions.{exc_type}: {message}"),
        });
    }
    let bar = "=".repeat(40);
    let _ = writeln!(out, "Updating DocTypes for frappe        : [{bar}] 100%");
    let _ = writeln!(out, "Updating Dashboard for frappe");
    let _ = writeln!(out, "Queued rebuilding of search index for {site}");
    Ok(())
}

async fn restart(
    control: &Control,
    site: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    if let Some(site) = site {
        let (status, body) = control
            .post(&format!("sites/{site}/restart"), json!({}))
            .await?;
        if let Some(missing) = site_missing(site, status, &body) {
            return Err(missing);
        }
    } else {
        control
            .http
            .get(format!("{}/_sim/sites", control.base))
            .send()
            .await
            .map_err(|e| unreachable(&control.base, &e))?;
    }
    let _ = writeln!(
        out,
        "$ sudo supervisorctl restart frappe-bench-web: frappe-bench-workers:"
    );
    for (group, program) in [
        ("web", "frappe-web"),
        ("web", "node-socketio"),
        ("workers", "frappe-schedule"),
        ("workers", "frappe-short-worker-0"),
        ("workers", "frappe-long-worker-0"),
    ] {
        let _ = writeln!(out, "frappe-bench-{group}:frappe-bench-{program}: stopped");
    }
    for (group, program) in [
        ("web", "frappe-web"),
        ("web", "node-socketio"),
        ("workers", "frappe-schedule"),
        ("workers", "frappe-short-worker-0"),
        ("workers", "frappe-long-worker-0"),
    ] {
        let _ = writeln!(out, "frappe-bench-{group}:frappe-bench-{program}: started");
    }
    Ok(())
}

/// What `bench backup` prints on success: titles and paths padded to the longest.
fn render_backup_summary(
    site: &str,
    taken_at: &str,
    rows: &[(String, String, String)],
    with_files: bool,
) -> String {
    let title_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let path_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut text = format!("Backup Summary for {site} at {taken_at}\n");
    for (title, path, size) in rows {
        text.push_str(&format!(
            "{title:<title_width$}: {path:<path_width$} {size}\n"
        ));
    }
    let suffix = if with_files { " with files" } else { "" };
    text.push_str(&format!(
        "Backup for Site {site} has been successfully completed{suffix}\n"
    ));
    text
}

/// The Python traceback bench_helper prints for an uncaught error.
fn traceback(frames: &[(&str, u32, &str, &str)], exception: &str) -> String {
    let root = "/home/frappe/frappe-bench/apps/frappe";
    let mut text = String::from("Traceback (most recent call last):\n");
    text.push_str("  File \"/usr/lib/python3.11/runpy.py\", line 198, in _run_module_as_main\n    return _run_code(code, main_globals, None,\n");
    text.push_str(&format!(
        "  File \"{root}/frappe/utils/bench_helper.py\", line 114, in <module>\n    main()\n"
    ));
    for (file, line, function, code) in frames {
        text.push_str(&format!(
            "  File \"{root}/{file}\", line {line}, in {function}\n    {code}\n"
        ));
    }
    text.push_str(exception);
    text.push('\n');
    text
}

/// Frappe's `_<16 hex>` database names.
fn db_name(site: &str) -> String {
    let digest = Sha1::digest(site.as_bytes());
    format!("_{}", &hex::encode(digest)[..16])
}

/// frappe.utils.get_file_size(format=True): `94.0B`, `1.2MiB`.
pub fn human_size(bytes: u64) -> String {
    let mut value = bytes as f64;
    for unit in ["", "Ki", "Mi", "Gi", "Ti", "Pi"] {
        if value < 1024.0 {
            return format!("{value:.1}{unit}B");
        }
        value /= 1024.0;
    }
    format!("{value:.1}EiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_like_frappe() {
        assert_eq!(human_size(94), "94.0B");
        assert_eq!(human_size(1_258_291), "1.2MiB");
        assert_eq!(human_size(10_240), "10.0KiB");
    }

    #[test]
    fn backup_summary_renders_like_bench() {
        let rows = vec![
            (
                "Config".to_string(),
                "./s1/private/backups/20260503_130000-s1-site_config_backup.json".to_string(),
                "94.0B".to_string(),
            ),
            (
                "Database".to_string(),
                "./s1/private/backups/20260503_130000-s1-database.sql.gz".to_string(),
                "1.2MiB".to_string(),
            ),
        ];
        insta::assert_snapshot!(render_backup_summary("s1", "2026-05-03 13:00:00.123456", &rows, false), @r"
        Backup Summary for s1 at 2026-05-03 13:00:00.123456
        Config  : ./s1/private/backups/20260503_130000-s1-site_config_backup.json 94.0B
        Database: ./s1/private/backups/20260503_130000-s1-database.sql.gz         1.2MiB
        Backup for Site s1 has been successfully completed
        ");
    }

    #[test]
    fn tracebacks_end_with_the_exception() {
        let t = traceback(&MIGRATE_FRAMES, "frappe.exceptions.ValidationError: boom");
        assert!(t.starts_with("Traceback (most recent call last):\n"));
        assert!(t.ends_with("frappe.exceptions.ValidationError: boom\n"));
    }
}
