//! The fault matrix: each fault a Frappe site or GitHub throws, on the calls the
//! sync commands make (`diff`, `pull`, `push`). For each, the reply names the side
//! and the cause (never "Something went wrong"), says truly what changed, nothing
//! is done twice, and the next command works once the fault is gone.
//!
//! Frappe faults come from the sim's queue (`Fault`); GitHub's status faults from
//! the sim's test API (`fail_next*`, `rate_limit_next`). A dropped connection and a
//! secondary rate limit with `Retry-After` come from a small proxy in front of the
//! GitHub sim ([`GithubProxy`]); a refused connection from a closed port.

use crate::rig::Rig;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use lockstep::local::world::{LocalWorld, REPO};
use lockstep_sim::frappe::{Fault, FrappeSim};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const NO_REPLY_LIKE: [&str; 2] = ["Something went wrong", "hit a bug"];

/// The walkthrough's hand edit on staging: `age` loses its constraint.
fn relax_age(world: &LocalWorld) {
    let mut doc = world
        .frappe
        .get_doc("staging", "DocType", "Beneficiary")
        .expect("the seed has Beneficiary");
    for field in doc["fields"].as_array_mut().expect("fields") {
        if field["fieldname"] == "age" {
            field["non_negative"] = json!(0);
        }
    }
    world.frappe.set_doc("staging", doc).expect("edit applies");
}

/// The `non_negative` of `age` on the staging site (0 after [`relax_age`]).
fn age_constraint(world: &LocalWorld) -> serde_json::Value {
    let doc = world
        .frappe
        .get_doc("staging", "DocType", "Beneficiary")
        .unwrap();
    doc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fieldname"] == "age")
        .and_then(|f| f.get("non_negative").cloned())
        .unwrap_or(json!(0))
}

fn staging_head(world: &LocalWorld) -> String {
    world.github.repo(REPO).branch_sha("staging").unwrap()
}

/// Frappe faults queued for the next requests, and how many requests had been
/// made when they were: what is left over afterwards is known exactly.
struct Queued {
    injected: u64,
    requests_before: u64,
}

fn queue(world: &LocalWorld, fault: Fault, times: u64) -> Queued {
    let queued = Queued {
        injected: times,
        requests_before: world.frappe.requests_made(),
    };
    world.frappe.inject_times(fault, times as usize);
    queued
}

/// Spends the faults the bot did not meet, with requests of our own, so the next
/// command meets none.
async fn drain(world: &LocalWorld, queued: Queued) {
    let made = world.frappe.requests_made() - queued.requests_before;
    let left = queued.injected.saturating_sub(made);
    let client = reqwest::Client::new();
    let url = format!("{}/api/method/ping", world.frappe.url());
    let pings = (0..left).map(|_| {
        client
            .get(&url)
            .header("X-Frappe-Site-Name", "staging")
            .send()
    });
    futures::future::join_all(pings).await;
}

/// A failed command's reply: names `cause`, says `unchanged`, and is not an apology.
fn assert_named(text: &str, cause: &str, unchanged: &str) {
    assert!(text.contains(cause), "the cause is named ({cause}): {text}");
    assert!(
        text.contains(unchanged),
        "says what changed ({unchanged}): {text}"
    );
    for vague in NO_REPLY_LIKE {
        assert!(!text.contains(vague), "{text}");
    }
}

/// diff, push and pull each meet the fault on the site's reads, then the fault is
/// gone: pull captures the site once and diff is clean.
async fn frappe_read_faults(mut rig: Rig, fault: Fault, times: u64, cause: &str) {
    relax_age(&rig.world);
    let head = staging_head(&rig.world);
    for (command, unchanged) in [
        ("diff", "Nothing was changed"),
        ("push", "Nothing was changed"),
        ("pull", "No commit was made"),
    ] {
        let queued = queue(&rig.world, fault.clone(), times);
        rig.command(command).await;
        let text = rig.expect_job_result().await;
        assert_named(&text, cause, unchanged);
        drain(&rig.world, queued).await;
        assert_eq!(staging_head(&rig.world), head, "{command}: no commit");
        assert_eq!(age_constraint(&rig.world), json!(0), "{command}: no write");
    }
    rig.command("pull").await;
    let text = rig.expect_job_result().await;
    assert!(text.contains("Pull: committed 2 files"), "{text}");
    rig.command("diff").await;
    let text = rig.expect_job_result().await;
    assert!(text.contains("No drift"), "{text}");
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frappe_503_html_on_reads() {
    let rig = Rig::start(|_| {}).await;
    frappe_read_faults(
        rig,
        Fault::ServerError(503),
        64,
        "The staging site answered 503 Service Unavailable",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frappe_dropped_connections_on_reads() {
    let rig = Rig::start(|_| {}).await;
    frappe_read_faults(
        rig,
        Fault::DropConnection,
        64,
        "lockstep could not reach the staging site",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frappe_latency_past_each_requests_timeout_on_reads() {
    let rig = Rig::start(|config| {
        config.file.sites.get_mut("staging").unwrap().timeout_secs = 1;
    })
    .await;
    frappe_read_faults(
        rig,
        Fault::Latency(Duration::from_millis(1_500)),
        64,
        "The staging site did not answer in time",
    )
    .await;
}

/// Latency below the timeouts is only slowness: the commands work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frappe_latency_within_the_timeouts_only_slows_the_commands() {
    let mut rig = Rig::start(|_| {}).await;
    relax_age(&rig.world);
    let queued = queue(&rig.world, Fault::Latency(Duration::from_millis(200)), 30);
    rig.command("pull").await;
    let text = rig.expect_job_result().await;
    assert!(text.contains("Pull: committed 2 files"), "{text}");
    drain(&rig.world, queued).await;
    rig.finish().await;
}

/// A key the site refuses (401) is named with the variables to check; once fixed
/// (and the bot restarted with it), the next command works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frappe_401_on_every_command_names_the_key() {
    let mut rig = Rig::start(|config| {
        let staging = config.secrets.sites.get_mut("staging").unwrap();
        staging.api_secret = lockstep::secret::Secret::new("not-the-secret");
    })
    .await;
    relax_age(&rig.world);
    let head = staging_head(&rig.world);
    for (command, unchanged) in [
        ("diff", "Nothing was changed"),
        ("push", "Nothing was changed"),
        ("pull", "No commit was made"),
    ] {
        rig.command(command).await;
        let text = rig.expect_job_result().await;
        assert_named(&text, "refused lockstep's API key (401)", unchanged);
        assert!(text.contains("FRAPPE_STAGING_API_KEY"), "{text}");
        assert!(
            !text.contains("not-the-secret"),
            "no secret in a reply: {text}"
        );
    }
    assert_eq!(staging_head(&rig.world), head);
    rig.stop_bot().await;
    rig.config
        .secrets
        .sites
        .get_mut("staging")
        .unwrap()
        .api_secret = lockstep::secret::Secret::new(FrappeSim::api_secret("staging"));
    rig.start_bot().await;
    rig.command("diff").await;
    let text = rig.expect_job_result().await;
    assert!(text.contains("between site `staging`"), "{text}");
    rig.finish().await;
}

/// Requests a push's plan makes on the site (they come before its first write),
/// counted on a dry run made twice: the same plan, and the same count each time.
async fn plan_requests(rig: &mut Rig) -> u64 {
    let mut counts = Vec::new();
    for _ in 0..2 {
        let before = rig.world.frappe.requests_made();
        rig.command("push --dry-run").await;
        let text = rig.expect_job_result().await;
        assert!(text.contains("would be made"), "{text}");
        counts.push(rig.world.frappe.requests_made() - before);
    }
    assert_eq!(counts[0], counts[1], "a plan reads the same each time");
    counts[1]
}

/// A fault on push's first write (after the plan's reads and the write's own
/// check): the reply says how far it got and, truly, what changed.
async fn push_with_fault_on_first_write(rig: &mut Rig, fault: Fault) -> String {
    relax_age(&rig.world);
    let plan = plan_requests(rig).await;
    // The plan's reads, the write's check of the record, the upsert's own read of
    // it, then the write (PUT).
    let before = queue(&rig.world, Fault::Latency(Duration::ZERO), plan + 2);
    let at_write = queue(&rig.world, fault, 1);
    rig.command("push").await;
    let text = rig.expect_job_result().await;
    drain(&rig.world, before).await;
    drain(&rig.world, at_write).await;
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frappe_faults_on_a_push_write_say_truly_what_changed() {
    let mut rig = Rig::start(|config| {
        config.file.sites.get_mut("staging").unwrap().timeout_secs = 1;
    })
    .await;
    // One change per push (an update), so its write is the same request each time.
    rig.world
        .frappe
        .delete_doc("staging", "DocType", "Quick Test")
        .unwrap();

    // 503 from a proxy: the site did nothing.
    let text = push_with_fault_on_first_write(&mut rig, Fault::ServerError(503)).await;
    assert_named(
        &text,
        "The staging site answered 503",
        "Nothing was changed on the site",
    );
    assert!(text.contains("stopped after 0 of"), "{text}");
    assert_eq!(age_constraint(&rig.world), json!(0));
    rig.command("push").await;
    let text = rig.expect_job_result().await;
    assert!(
        text.contains("it now matches"),
        "the next push works: {text}"
    );

    // A dropped connection: read back, the write did not land.
    let text = push_with_fault_on_first_write(&mut rig, Fault::DropConnection).await;
    assert_named(
        &text,
        "could not reach the staging site",
        "Nothing was changed on the site",
    );
    assert_eq!(age_constraint(&rig.world), json!(0));
    rig.command("push").await;
    let text = rig.expect_job_result().await;
    assert!(text.contains("it now matches"), "{text}");

    // No answer in time: the site may still do it (a real Frappe finishes a request
    // whose client gave up; the sim drops it), so the reply never says "nothing
    // was changed".
    let text =
        push_with_fault_on_first_write(&mut rig, Fault::Latency(Duration::from_millis(2_500)))
            .await;
    assert_named(
        &text,
        "did not answer in time",
        "Whether that change reached the site is unknown",
    );
    assert!(!text.contains("Nothing was changed"), "{text}");
    assert!(text.contains("run `diff` to see where it stands"), "{text}");
    rig.command("push").await;
    let text = rig.expect_job_result().await;
    assert!(text.contains("it now matches"), "{text}");
    rig.finish().await;
}

// ---- GitHub ---------------------------------------------------------------------

#[derive(Clone, Debug)]
enum ProxyFault {
    /// The connection drops before the request reaches GitHub.
    DropBefore,
    /// GitHub acts on the request, then the connection drops before the answer.
    DropAfter,
    /// 403 "secondary rate limit" with `Retry-After: 1`; the request is not acted on.
    SecondaryLimit,
}

struct Rule {
    method: String,
    path_prefix: String,
    fault: ProxyFault,
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    rules: Arc<Mutex<VecDeque<Rule>>>,
}

/// A pass-through proxy in front of the GitHub sim that can break one request.
struct GithubProxy {
    url: String,
    state: ProxyState,
}

impl GithubProxy {
    async fn start(upstream: &str) -> GithubProxy {
        let state = ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            rules: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        GithubProxy { url, state }
    }

    fn next(&self, method: &str, path_prefix: &str, fault: ProxyFault) {
        self.state.rules.lock().unwrap().push_back(Rule {
            method: method.into(),
            path_prefix: path_prefix.into(),
            fault,
        });
    }
}

async fn forward(State(state): State<ProxyState>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let fault = {
        let mut rules = state.rules.lock().unwrap();
        let at = rules
            .iter()
            .position(|rule| rule.method == method.as_str() && path.starts_with(&rule.path_prefix));
        at.and_then(|at| rules.remove(at)).map(|rule| rule.fault)
    };
    match fault {
        Some(ProxyFault::DropBefore) => return dropped(),
        Some(ProxyFault::SecondaryLimit) => {
            return Response::builder()
                .status(403)
                .header("content-type", "application/json")
                .header("retry-after", "1")
                .body(Body::from(
                    json!({
                        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
                    })
                    .to_string(),
                ))
                .unwrap();
        }
        _ => {}
    }
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let mut upstream = state
        .client
        .request(method, format!("{}{path}", state.upstream))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.send().await {
        Ok(answer) => answer,
        Err(_) => return dropped(),
    };
    if matches!(fault, Some(ProxyFault::DropAfter)) {
        let _ = answer.bytes().await;
        return dropped();
    }
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(Body::from(bytes)).unwrap()
}

/// A 200 whose body breaks off: the client sees the connection drop mid-answer.
fn dropped() -> Response {
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
        Ok(bytes::Bytes::from_static(b"{\"sha\":\"")),
        Err(std::io::Error::other("connection dropped")),
    ];
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap()
}

async fn github_rig() -> (Rig, GithubProxy) {
    let mut rig = Rig::start(|_| {}).await;
    let proxy = GithubProxy::start(&rig.world.github.url()).await;
    rig.stop_bot().await;
    rig.config.file.github.as_mut().unwrap().api_url = proxy.url.clone();
    rig.start_bot().await;
    (rig, proxy)
}

#[derive(Clone, Debug)]
enum GithubFault {
    /// The sim answers this status with GitHub's error body.
    Status(u16),
    /// 429 with `Retry-After` (seconds).
    RetryAfter(u64),
    Proxy(ProxyFault),
}

fn inject(rig: &Rig, proxy: &GithubProxy, method: &str, path: &str, fault: &GithubFault) {
    let path = format!("/repos/{REPO}/{path}");
    match fault {
        GithubFault::Status(status) => rig.world.github.fail_next(method, &path, *status),
        GithubFault::RetryAfter(secs) => rig.world.github.rate_limit_next(method, &path, *secs),
        GithubFault::Proxy(fault) => proxy.next(method, &path, fault.clone()),
    }
}

/// Requests of `method` on `path` GitHub served (faulted ones excluded).
fn served(world: &LocalWorld, method: &str, path: &str) -> usize {
    let prefix = format!("/repos/{REPO}/{path}");
    world
        .github
        .exchanges()
        .iter()
        .filter(|e| e.method == method && e.path.starts_with(&prefix))
        .count()
}

/// Flips `age`'s constraint on the staging site, so the next pull has a change.
fn toggle_age(world: &LocalWorld) {
    let now = age_constraint(world);
    let mut doc = world
        .frappe
        .get_doc("staging", "DocType", "Beneficiary")
        .unwrap();
    for field in doc["fields"].as_array_mut().unwrap() {
        if field["fieldname"] == "age" {
            field["non_negative"] = if now == json!(1) { json!(0) } else { json!(1) };
        }
    }
    world.frappe.set_doc("staging", doc).unwrap();
}

/// Reads that fail every attempt (the client tries a read four times): each command
/// names GitHub and the cause, and changes nothing.
async fn github_read_faults(rig: &mut Rig, proxy: &GithubProxy, fault: GithubFault, cause: &str) {
    let head = staging_head(&rig.world);
    let age = age_constraint(&rig.world);
    for (command, path, unchanged) in [
        ("diff", "commits/staging", "Nothing was changed"),
        ("push", "git/trees", "Nothing was changed"),
        ("pull", "commits/staging", "No commit was made"),
    ] {
        for _ in 0..4 {
            inject(rig, proxy, "GET", path, &fault);
        }
        rig.command(command).await;
        let text = rig.expect_job_result().await;
        assert_named(&text, cause, unchanged);
        assert!(text.contains("GitHub"), "the side is named: {text}");
        assert_eq!(staging_head(&rig.world), head, "{command}");
        assert_eq!(age_constraint(&rig.world), age, "{command}");
    }
}

/// One failed write of a pull: named, never repeated; the next pull commits once.
async fn github_write_faults(rig: &mut Rig, proxy: &GithubProxy, fault: GithubFault, cause: &str) {
    for (method, path) in [
        ("POST", "git/trees"),
        ("POST", "git/commits"),
        ("PATCH", "git/refs/heads/staging"),
    ] {
        toggle_age(&rig.world);
        let head = staging_head(&rig.world);
        let before = served(&rig.world, method, path);
        inject(rig, proxy, method, path, &fault);
        rig.command("pull").await;
        let text = rig.expect_job_result().await;
        assert_named(&text, cause, "No commit was made");
        assert!(text.contains("GitHub"), "{text}");
        assert_eq!(staging_head(&rig.world), head, "{method} {path}: no commit");
        assert!(
            served(&rig.world, method, path) - before <= 1,
            "{method} {path} is not repeated"
        );
        rig.command("pull").await;
        let text = rig.expect_job_result().await;
        assert!(
            text.contains("Pull: committed"),
            "the next pull works: {text}"
        );
        assert_ne!(staging_head(&rig.world), head);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_500_on_reads_and_on_each_write_of_a_pull() {
    let (mut rig, proxy) = github_rig().await;
    relax_age(&rig.world);
    let cause = "GitHub answered 500 Internal Server Error";
    github_read_faults(&mut rig, &proxy, GithubFault::Status(500), cause).await;
    github_write_faults(&mut rig, &proxy, GithubFault::Status(500), cause).await;
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_502_on_reads_and_on_each_write_of_a_pull() {
    let (mut rig, proxy) = github_rig().await;
    relax_age(&rig.world);
    let cause = "GitHub answered 502 Bad Gateway";
    github_read_faults(&mut rig, &proxy, GithubFault::Status(502), cause).await;
    github_write_faults(&mut rig, &proxy, GithubFault::Status(502), cause).await;
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_dropped_connections_on_reads_and_writes() {
    let (mut rig, proxy) = github_rig().await;
    relax_age(&rig.world);
    let cause = "lockstep could not reach GitHub";
    let drop_before = GithubFault::Proxy(ProxyFault::DropBefore);
    github_read_faults(&mut rig, &proxy, drop_before.clone(), cause).await;
    github_write_faults(&mut rig, &proxy, drop_before, cause).await;

    // GitHub moved the branch but the answer was lost: read back, the pull is done,
    // once.
    toggle_age(&rig.world);
    let head = staging_head(&rig.world);
    inject(
        &rig,
        &proxy,
        "PATCH",
        "git/refs/heads/staging",
        &GithubFault::Proxy(ProxyFault::DropAfter),
    );
    rig.command("pull").await;
    let text = rig.expect_job_result().await;
    assert!(text.contains("Pull: committed"), "{text}");
    let landed = staging_head(&rig.world);
    assert_ne!(landed, head);
    rig.command("pull").await;
    let text = rig.expect_job_result().await;
    assert!(text.contains("already matches"), "{text}");
    assert_eq!(staging_head(&rig.world), landed, "not committed twice");

    // The commit object was made but its answer lost: the pull stops; the next
    // one makes the same commit and moves the branch once.
    toggle_age(&rig.world);
    let head = staging_head(&rig.world);
    inject(
        &rig,
        &proxy,
        "POST",
        "git/commits",
        &GithubFault::Proxy(ProxyFault::DropAfter),
    );
    rig.command("pull").await;
    let text = rig.expect_job_result().await;
    assert_named(&text, cause, "No commit was made");
    assert_eq!(staging_head(&rig.world), head);
    rig.command("pull").await;
    let text = rig.expect_job_result().await;
    assert!(text.contains("Pull: committed 1 file"), "{text}");
    rig.finish().await;
}

/// A 429 with `Retry-After` and a secondary rate limit on any call of a pull: the
/// bot waits as asked and goes on; each write is made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_rate_limits_are_waited_out_and_nothing_is_done_twice() {
    let (mut rig, proxy) = github_rig().await;
    for fault in [
        GithubFault::RetryAfter(1),
        GithubFault::Proxy(ProxyFault::SecondaryLimit),
    ] {
        for (method, path) in [
            ("GET", "commits/staging"),
            ("GET", "git/trees"),
            ("POST", "git/trees"),
            ("POST", "git/commits"),
            ("PATCH", "git/refs/heads/staging"),
        ] {
            toggle_age(&rig.world);
            let head = staging_head(&rig.world);
            let commits = served(&rig.world, "POST", "git/commits");
            let moves = served(&rig.world, "PATCH", "git/refs/heads/staging");
            inject(&rig, &proxy, method, path, &fault);
            rig.command("pull").await;
            let text = rig.expect_job_result().await;
            assert!(
                text.contains("Pull: committed"),
                "{fault:?} on {method} {path}: {text}"
            );
            assert_ne!(staging_head(&rig.world), head);
            assert_eq!(
                served(&rig.world, "POST", "git/commits"),
                commits + 1,
                "{fault:?} {method} {path}"
            );
            assert_eq!(
                served(&rig.world, "PATCH", "git/refs/heads/staging"),
                moves + 1,
                "{fault:?} {method} {path}"
            );
        }
    }
    rig.finish().await;
}

/// GitHub refuses connections (wrong github.api_url, or down): every command
/// names GitHub and the key to check; once it is right, the next command works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_refusing_connections_names_github_api_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut rig = Rig::start(|config| {
        config.file.github.as_mut().unwrap().api_url = format!("http://127.0.0.1:{port}");
    })
    .await;
    relax_age(&rig.world);
    for (command, unchanged) in [
        ("diff", "Nothing was changed"),
        ("push", "Nothing was changed"),
        ("pull", "No commit was made"),
    ] {
        rig.command(command).await;
        let text = rig.expect_job_result().await;
        assert_named(&text, "lockstep could not reach GitHub", unchanged);
        assert!(text.contains("check github.api_url"), "{text}");
    }
    assert_eq!(age_constraint(&rig.world), json!(0));
    rig.stop_bot().await;
    rig.config.file.github.as_mut().unwrap().api_url = rig.world.github.url();
    rig.start_bot().await;
    rig.command("diff").await;
    let text = rig.expect_job_result().await;
    assert!(text.contains("between site `staging`"), "{text}");
    rig.finish().await;
}
