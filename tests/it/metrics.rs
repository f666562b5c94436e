//! `[metrics] listen` end to end: a real Prometheus (Debian's `prometheus`, which
//! `.ci/run` installs) scrapes the bot while it promotes the seed, and the figures
//! are read back through Prometheus's own query API, as an operator's dashboard
//! would; and `/readyz` goes red while the store cannot record work and green again
//! once it recovers. Every wait polls an HTTP answer with a deadline; none sleeps
//! for a guessed time.

use crate::harness::{Harness, WAIT};
use crate::promote::promote_to_success;
use crate::rig::Rig;
use lockstep::config::MetricsSection;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How often a poll asks again; the deadline is the harness's [`WAIT`] (a scrape
/// every 250 ms lands well within it).
const POLL: Duration = Duration::from_millis(100);

fn metrics_on_a_free_port() -> Option<MetricsSection> {
    Some(MetricsSection {
        listen: "127.0.0.1:0".parse().expect("an address"),
    })
}

/// A Prometheus server scraping one target; killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

fn scrape_config(target: SocketAddr) -> String {
    format!(
        "global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\n\
         scrape_configs:\n  - job_name: lockstep\n    static_configs:\n      - targets: ['{target}']\n"
    )
}

impl Prometheus {
    /// Starts `/usr/bin/prometheus` (or the one on PATH) scraping `target`, and
    /// waits until it says it is ready.
    async fn start(target: SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, scrape_config(target)).expect("write the scrape config");
        let port = free_port();
        let child = spawn(&config, &dir.path().join("data"), port);
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let ready = format!("{}/-/ready", prometheus.url);
        poll("Prometheus to be ready", || async {
            let answer = reqwest::get(&ready).await.ok()?;
            answer.status().is_success().then_some(())
        })
        .await;
        prometheus
    }

    /// The value of the one series `query` answers, once it answers one.
    async fn value(&self, query: &str) -> Option<f64> {
        let answer: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", query)])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let result = answer["data"]["result"].as_array()?;
        match result.as_slice() {
            [series] => series["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Waits until `query` answers a value that `wanted` accepts; returns it.
    async fn wait_for(&self, query: &str, wanted: impl Fn(f64) -> bool) -> f64 {
        poll(query, || async {
            self.value(query).await.filter(|value| wanted(*value))
        })
        .await
    }
}

fn spawn(config: &Path, data: &Path, port: u16) -> Child {
    let binary = ["/usr/bin/prometheus", "prometheus"]
        .into_iter()
        .find(|candidate| {
            Command::new(candidate)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
        .expect("Prometheus is installed (Debian's `prometheus`; .ci/run installs it)");
    Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Prometheus starts")
}

/// Asks `attempt` every [`POLL`] until it answers, for at most [`WAIT`].
async fn poll<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// What `promtool check metrics` (from the same Debian package) says of `text`;
/// empty when it passes.
fn promtool_check(text: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (it comes with Prometheus)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("promtool reads the exposition");
    let output = child.wait_with_output().expect("promtool ends");
    if output.status.success() {
        String::new()
    } else {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let answer = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("the metrics listener answers");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

/// Waits until `/readyz` answers `status`; returns its text.
async fn wait_for_readyz(addr: SocketAddr, status: u16) -> String {
    poll(&format!("/readyz to answer {status}"), || async {
        let (got, text) = get(addr, "/readyz").await;
        (got == status).then_some(text)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_promotion_its_github_writes_and_the_ack_histogram() {
    let mut h = Harness::start_promotable(|file| file.metrics = metrics_on_a_free_port()).await;
    let addr = h.bot().metrics_addr().expect("[metrics] listens");
    assert_eq!(get(addr, "/healthz").await, (200, "ok\n".to_string()));
    wait_for_readyz(addr, 200).await;
    let prometheus = Prometheus::start(addr).await;
    prometheus
        .wait_for("up{job=\"lockstep\"}", |up| up == 1.0)
        .await;

    promote_to_success(&mut h).await;
    h.read_all();
    let succeeded = "lockstep_promotions_total{outcome=\"succeeded\"}";
    assert_eq!(prometheus.wait_for(succeeded, |n| n >= 1.0).await, 1.0);
    let writes =
        "sum(lockstep_requests_total{service=\"github\",class=~\"(git|pulls|issues):write\"})";
    let github_writes = prometheus.wait_for(writes, |n| n > 0.0).await;
    assert!(github_writes >= 3.0, "a branch, a commit and a PR at least");
    let acked = "lockstep_ack_seconds_count{kind=\"command\"}";
    assert!(prometheus.wait_for(acked, |n| n >= 1.0).await >= 1.0);
    // The histogram is exported whole: 13 buckets and +Inf.
    let buckets = "count(lockstep_ack_seconds_bucket{kind=\"command\"})";
    assert_eq!(prometheus.wait_for(buckets, |n| n > 0.0).await, 14.0);
    let promote = "lockstep_commands_total{subcommand=\"promote\",outcome=\"queued\"}";
    assert!(prometheus.wait_for(promote, |n| n >= 1.0).await >= 1.0);
    let finished = "lockstep_runs{kind=\"promotion\",state=\"succeeded\"}";
    assert_eq!(prometheus.wait_for(finished, |n| n >= 1.0).await, 1.0);
    // Prometheus's own linter passes the exposition (names, units, help, types).
    let (_, exposition) = get(addr, "/metrics").await;
    let problems = promtool_check(&exposition);
    assert!(problems.is_empty(), "promtool check metrics:\n{problems}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_red_while_the_store_cannot_record_work() {
    let mut rig = Rig::start(|config| config.file.metrics = metrics_on_a_free_port()).await;
    let addr = rig.bot().metrics_addr().expect("[metrics] listens");
    assert_eq!(wait_for_readyz(addr, 200).await, "ready\n");

    let store = rig.bot().store().clone();
    store.fail_writes(true);
    rig.command("status").await;
    let (_, text) = rig.expect_ephemeral().await;
    assert!(text.contains("cannot record work right now"), "{text}");
    let why = wait_for_readyz(addr, 503).await;
    assert!(why.contains("the store cannot be written"), "{why}");
    assert_eq!(
        get(addr, "/healthz").await.0,
        200,
        "the process is still up"
    );

    store.fail_writes(false);
    wait_for_readyz(addr, 200).await;
    rig.finish().await;
}
