//! The bot's numbers for Prometheus, and the `/metrics`, `/healthz` and `/readyz`
//! endpoints ([`server`]). Owns the process's registry of counters and histograms
//! that the listener and the Slack, GitHub and Frappe clients bump as things happen
//! (an atomic add, so the ack path never waits on a scrape), and the collector that
//! reads a store at scrape time (runs by kind and state, promotions by outcome,
//! outbox depth, store size). It knows nothing of how a run moves; it only counts.
//!
//! The counters are process-wide because the adapters that count are built in many
//! places; the store figures belong to the bot whose listener serves them
//! ([`StoreCollector`]), so two bots in one process (tests) never mix their stores.

pub mod server;

use crate::store::Store;
use crate::workflow::run::Run;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::encoding::EncodeMetric;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use std::time::Duration;

type Labels = Vec<(String, String)>;

/// Every metric the bot keeps as it goes.
pub struct Metrics {
    registry: Registry,
    /// Slash commands by subcommand and what the acknowledgement said.
    commands: Family<Labels, Counter>,
    /// Time from an envelope reaching the bot to the acknowledgement, by kind.
    ack_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    /// Requests to outside services, by service and endpoint class.
    requests: Family<Labels, Counter>,
    /// Of those, the ones that failed (an error status or no answer).
    errors: Family<Labels, Counter>,
    /// Rate-limit waits, and the seconds waited, by service.
    rate_limit_waits: Family<Labels, Counter>,
    rate_limit_wait_seconds: Family<Labels, Counter<f64>>,
}

fn ack_histogram() -> Histogram {
    // 1 ms … ~4 s: Slack's deadline is 3 s, and a healthy ack takes well under 10 ms.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 13,
    ))
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let commands = Family::<Labels, Counter>::default();
        let ack_seconds =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(ack_histogram);
        let requests = Family::<Labels, Counter>::default();
        let errors = Family::<Labels, Counter>::default();
        let rate_limit_waits = Family::<Labels, Counter>::default();
        let rate_limit_wait_seconds = Family::<Labels, Counter<f64>>::default();
        registry.register(
            "lockstep_commands",
            "Slash commands by subcommand and how they were acknowledged",
            commands.clone(),
        );
        registry.register(
            "lockstep_ack_seconds",
            "Seconds from a Slack envelope reaching lockstep to its acknowledgement",
            ack_seconds.clone(),
        );
        registry.register(
            "lockstep_requests",
            "Requests to GitHub, Slack and Frappe by endpoint class",
            requests.clone(),
        );
        registry.register(
            "lockstep_request_errors",
            "Requests to GitHub, Slack and Frappe that failed (error status or no answer)",
            errors.clone(),
        );
        registry.register(
            "lockstep_rate_limit_waits",
            "Times lockstep waited out a rate limit",
            rate_limit_waits.clone(),
        );
        registry.register(
            "lockstep_rate_limit_wait_seconds",
            "Seconds spent waiting out rate limits",
            rate_limit_wait_seconds.clone(),
        );
        Metrics {
            registry,
            commands,
            ack_seconds,
            requests,
            errors,
            rate_limit_waits,
            rate_limit_wait_seconds,
        }
    }

    /// A slash command was acknowledged with `outcome` (queued, duplicate, busy,
    /// rejected) after `took`.
    pub fn command_acked(&self, subcommand: &str, outcome: &str, took: Duration) {
        self.commands
            .get_or_create(&labels(&[("subcommand", subcommand), ("outcome", outcome)]))
            .inc();
        self.ack(("kind", "command"), took);
    }

    /// A button press (or another envelope) was acknowledged after `took`.
    pub fn envelope_acked(&self, kind: &str, took: Duration) {
        self.ack(("kind", kind), took);
    }

    fn ack(&self, kind: (&str, &str), took: Duration) {
        self.ack_seconds
            .get_or_create(&labels(&[kind]))
            .observe(took.as_secs_f64());
    }

    /// One request to `service` (github, slack, frappe) of endpoint `class`; `ok` false when
    /// it failed.
    pub fn request(&self, service: &str, class: &str, ok: bool) {
        let key = labels(&[("service", service), ("class", class)]);
        self.requests.get_or_create(&key).inc();
        if !ok {
            self.errors.get_or_create(&key).inc();
        }
    }

    /// `service` asked lockstep to wait `wait` before trying again.
    pub fn rate_limit_wait(&self, service: &str, wait: Duration) {
        let key = labels(&[("service", service)]);
        self.rate_limit_waits.get_or_create(&key).inc();
        self.rate_limit_wait_seconds
            .get_or_create(&key)
            .inc_by(wait.as_secs_f64());
    }

    /// The whole registry in Prometheus's text format (0.0.4).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The endpoint class of a GitHub API path: `git`, `pulls`, `actions`, `contents`,
/// `releases`, `graphql`… (`/repos/{owner}/{repo}/<class>/…`), with `write` for any
/// method other than GET or HEAD, so reads and writes are counted apart.
pub fn github_class(method: &http::Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let path = match path.find("/repos/") {
        Some(at) => &path[at..],
        None => path.trim_start_matches(|c| c != '/'),
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let class = match segments.as_slice() {
        ["repos", _, _, class, ..] => class,
        ["repos", _, _] => "repository",
        [first, ..] => first,
        [] => "root",
    };
    let class: String = class
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(32)
        .collect();
    let read = method == http::Method::GET || method == http::Method::HEAD;
    if read {
        class
    } else {
        format!("{class}:write")
    }
}

/// The endpoint class of a Frappe request: `<site>/<kind>` where kind is `list`,
/// `doc`, `doc:write` or `method` (never a doctype or record name, which are
/// free text and unbounded).
pub fn frappe_class(site: &str, operation: &str) -> String {
    let kind = match operation {
        "GET list" => "list",
        "GET" => "doc",
        "POST" | "PUT" | "DELETE" => "doc:write",
        op if op.starts_with("method ") => "method",
        _ => "other",
    };
    format!("{site}/{kind}")
}

/// Reads one bot's store at scrape time: registered in the registry of the
/// listener that serves that bot.
pub struct StoreCollector {
    store: Store,
}

impl std::fmt::Debug for StoreCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCollector")
            .field("path", &self.store.path())
            .finish()
    }
}

impl StoreCollector {
    pub fn new(store: Store) -> Self {
        StoreCollector { store }
    }
}

/// The figures read from a store.
#[derive(Debug, Default, PartialEq)]
pub struct Snapshot {
    /// (kind, state) → runs.
    pub runs: std::collections::BTreeMap<(String, String), i64>,
    /// outcome → promotions that ended so.
    pub promotions: std::collections::BTreeMap<String, u64>,
    pub outbox: i64,
    pub store_bytes: i64,
}

impl Snapshot {
    /// Reads `store`; what cannot be read (a store that refuses reads) is left out.
    pub fn read(store: &Store) -> Snapshot {
        let mut snapshot = Snapshot::default();
        if let Ok(runs) = store.runs() {
            for run in &runs {
                snapshot.count(run);
            }
        }
        if let Ok(size) = store.size() {
            snapshot.outbox = size.outbox as i64;
            snapshot.store_bytes = size.bytes_on_disk as i64;
        }
        snapshot
    }

    fn count(&mut self, run: &Run) {
        let (kind, state) = kind_and_state(run);
        *self.runs.entry((kind.into(), state.clone())).or_default() += 1;
        if let Run::Promotion(promotion) = run {
            if promotion.state.is_terminal() {
                *self.promotions.entry(state).or_default() += 1;
            }
        }
    }
}

/// A run's kind and its state's stable name.
pub fn kind_and_state(run: &Run) -> (&'static str, String) {
    match run {
        Run::Read(_) => ("read", state_word(run)),
        Run::Pull(_) => ("pull", state_word(run)),
        Run::Push(_) => ("push", state_word(run)),
        Run::Rollback(_) => ("rollback", state_word(run)),
        Run::Promotion(promotion) => ("promotion", promotion.state.name().to_string()),
        Run::Ship(ship) => ("ship", ship.state.name().to_string()),
    }
}

/// `done` or `in_flight` for kinds whose states have no stable names.
fn state_word(run: &Run) -> String {
    if run.is_finished() {
        "done"
    } else {
        "in_flight"
    }
    .to_string()
}

fn encode_gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let gauge = Gauge::<i64>::default();
    gauge.set(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

impl prometheus_client::collector::Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = Snapshot::read(&self.store);
        let runs = Family::<Labels, Gauge>::default();
        for ((kind, state), n) in &snapshot.runs {
            runs.get_or_create(&labels(&[("kind", kind), ("state", state)]))
                .set(*n);
        }
        runs.encode(encoder.encode_descriptor(
            "lockstep_runs",
            "Runs in the store by kind and state",
            None,
            runs.metric_type(),
        )?)?;
        let promotions = Family::<Labels, Counter>::default();
        for (outcome, n) in &snapshot.promotions {
            promotions
                .get_or_create(&labels(&[("outcome", outcome)]))
                .inc_by(*n);
        }
        promotions.encode(encoder.encode_descriptor(
            "lockstep_promotions",
            "Promotions that ended, by outcome (from the run history in the store)",
            None,
            promotions.metric_type(),
        )?)?;
        encode_gauge(
            &mut encoder,
            "lockstep_outbox_depth",
            "Effects recorded and not yet performed",
            snapshot.outbox,
        )?;
        encode_gauge(
            &mut encoder,
            "lockstep_store_bytes",
            "Bytes the store takes on disk",
            snapshot.store_bytes,
        )
    }
}

/// The text a scrape of one bot reads: the process's counters, then `store`'s
/// figures, in Prometheus's text format (0.0.4).
pub fn encode_for(store: &Store) -> Result<String, std::fmt::Error> {
    let mut text = global().encode()?;
    let mut per_bot = Registry::default();
    per_bot.register_collector(Box::new(StoreCollector::new(store.clone())));
    prometheus_client::encoding::prometheus_text::encode(&mut text, &per_bot)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_paths_are_classed_by_their_area_and_writes_apart() {
        use http::Method;
        assert_eq!(
            github_class(&Method::GET, "/repos/acme/config/git/trees/abc?recursive=1"),
            "git"
        );
        assert_eq!(
            github_class(&Method::POST, "http://127.0.0.1:9/api/v3/repos/a/b/pulls"),
            "pulls:write"
        );
        assert_eq!(github_class(&Method::POST, "/graphql"), "graphql:write");
        assert_eq!(github_class(&Method::GET, "/repos/a/b"), "repository");
        assert_eq!(github_class(&Method::GET, "/user"), "user");
    }

    #[test]
    fn frappe_requests_are_classed_by_site_and_kind_never_by_name() {
        assert_eq!(frappe_class("staging", "GET list"), "staging/list");
        assert_eq!(frappe_class("prod", "GET"), "prod/doc");
        assert_eq!(frappe_class("staging", "PUT"), "staging/doc:write");
        assert_eq!(
            frappe_class("prod", "method frappe.client.get_count"),
            "prod/method"
        );
    }

    #[test]
    fn counts_appear_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.command_acked("status", "queued", Duration::from_millis(3));
        metrics.request("github", "pulls:write", false);
        metrics.rate_limit_wait("slack", Duration::from_millis(1500));
        let text = metrics.encode().unwrap();
        for line in [
            "lockstep_commands_total{subcommand=\"status\",outcome=\"queued\"} 1",
            "lockstep_ack_seconds_bucket{kind=\"command\",le=\"0.004\"} 1",
            "lockstep_ack_seconds_count{kind=\"command\"} 1",
            "lockstep_requests_total{service=\"github\",class=\"pulls:write\"} 1",
            "lockstep_request_errors_total{service=\"github\",class=\"pulls:write\"} 1",
            "lockstep_rate_limit_waits_total{service=\"slack\"} 1",
            "lockstep_rate_limit_wait_seconds_total{service=\"slack\"} 1.5",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }

    #[tokio::test]
    async fn the_store_is_read_at_scrape_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(!global().encode().unwrap().contains("lockstep_outbox_depth"));
        let text = encode_for(&store).unwrap();
        assert!(text.contains("lockstep_outbox_depth 0"), "{text}");
        assert!(text.contains("lockstep_store_bytes "), "{text}");
        assert!(text.contains("# TYPE lockstep_runs gauge"), "{text}");
    }
}
