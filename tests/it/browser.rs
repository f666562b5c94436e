//! The demo's page in a real browser: Debian's headless `chromium`, driven through
//! `chromedriver` over WebDriver (fantoccini), walks the seed as a person would —
//! typing commands in the page's box, opening the promotion's thread, requesting
//! changes and then approving the PR as the on-call reviewer in the repository panel, switching to an approver
//! to press Merge & deploy, ticking the smoke checks, shipping v0.1.0 with a line
//! added in the notes' modal and the release PR approved, reading the notes in
//! #releases — and checks what the page shows after each step, waiting on the page (never a fixed sleep). It ends with a
//! screenshot: `target/…/demo.png` always, `docs/demo.png` (the README's picture)
//! when `LOCKSTEP_UPDATE_SCREENSHOT=1`.

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use lockstep::local::demo::{Demo, DemoArgs, WALKTHROUGH_NOW};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the page may take to show what a step expects (the page polls every
/// 0.7 s; a deploy takes a few seconds on a loaded machine).
const PAGE_WAIT: Duration = Duration::from_secs(40);

/// chromedriver for one test, ended when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts chromedriver and returns once it says it listens.
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(binary("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts (Debian's chromium-driver; .ci/run installs it)");
        let stdout = child.stdout.take().expect("chromedriver's output");
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("started successfully"));
        assert!(ready, "chromedriver ended without listening");
        // The rest of what it prints is read and dropped, so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary(name: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(name);
    if path.exists() {
        path
    } else {
        PathBuf::from(name)
    }
}

/// A headless chromium session.
async fn browser(driver: &Driver) -> Client {
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": binary("chromium").display().to_string(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1600,1000"],
        }
    });
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities.as_object().cloned().unwrap_or_default())
        .connect(&driver.url)
        .await
        .unwrap_or_else(|err| panic!("chromedriver at {} took no session: {err}", driver.url))
}

/// The page, as the test reads and drives it.
struct Page {
    client: Client,
}

impl Page {
    /// Waits until the element at `css` holds `text`; returns its text. The page
    /// redraws what changed, so an element found may be replaced before it is read:
    /// then it is found again.
    async fn shows(&self, css: &str, text: &str) -> String {
        let xpath = format!("{}[contains(., {})]", css_to_xpath(css), xpath_string(text));
        loop {
            let found = self
                .client
                .wait()
                .at_most(PAGE_WAIT)
                .for_element(Locator::XPath(&xpath))
                .await;
            let read = match found {
                Ok(element) => element.text().await,
                Err(err) => {
                    let now = self.text(css).await;
                    panic!("the page never showed {text:?} in {css} ({err}); it shows:\n{now}")
                }
            };
            match read {
                Ok(shown) if shown.contains(text) => return shown,
                Ok(_) => {}
                Err(err) if err.is_stale_element_reference() => {}
                Err(err) => panic!("reading {css}: {err}"),
            }
        }
    }

    async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Types `/frappe-stack <text>` in the page's box and sends it.
    async fn type_command(&self, text: &str) {
        let input = self
            .client
            .find(Locator::Css("#composer input[name=text]"))
            .await
            .expect("the command box");
        input.send_keys(text).await.expect("typing");
        self.click("#composer button").await;
    }

    /// Clicks the first element at `css`, found again if the page redrew it between
    /// finding and clicking.
    async fn click(&self, css: &str) {
        loop {
            let clicked = self
                .client
                .wait()
                .at_most(PAGE_WAIT)
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|err| panic!("no {css} to click: {err}"))
                .click()
                .await;
            match clicked {
                Ok(_) => return,
                Err(err) if err.is_stale_element_reference() => {}
                Err(err) => panic!("clicking {css}: {err}"),
            }
        }
    }

    /// The person the page acts as ("You are").
    async fn act_as(&self, user: &str) {
        self.client
            .find(Locator::Css("#user"))
            .await
            .expect("the You are box")
            .select_by_value(user)
            .await
            .expect("a person of the workspace");
    }

    /// How many elements `css` matches now.
    async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|all| all.len())
            .unwrap_or(0)
    }
}

/// The few CSS selectors this test uses (`#id`, `#id tag`, `tag[attr=value]`),
/// as XPath, so that a text condition can be waited on by the browser.
fn css_to_xpath(css: &str) -> String {
    css.split(' ')
        .map(|part| {
            if let Some(id) = part.strip_prefix('#') {
                format!("*[@id='{id}']")
            } else if let Some((tag, rest)) = part.split_once('[') {
                let (attr, value) = rest
                    .trim_end_matches(']')
                    .split_once('=')
                    .unwrap_or((rest, ""));
                format!("{tag}[@{attr}='{}']", value.trim_matches('"'))
            } else {
                part.to_string()
            }
        })
        .map(|step| format!("//{step}"))
        .collect()
}

/// `text` as an XPath string literal (XPath 1 has no escapes: concat() for quotes).
fn xpath_string(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_walks_the_seed_through_the_page() {
    lockstep::tls::install_crypto_provider();
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_lockstep"));
    let demo = Demo::start_with_bench(&DemoArgs::open_at(WALKTHROUGH_NOW), Some(bench))
        .await
        .expect("the demo world starts");
    let driver = Driver::start();
    let page = Page {
        client: browser(&driver).await,
    };
    // Whatever happens on the way, the browser is closed before the test ends: a
    // chromium left behind would outlive the test (chromedriver's end does not end it).
    let walked = AssertUnwindSafe(walk(&page, &demo.page.url()))
        .catch_unwind()
        .await;
    let closed = page.client.close().await;
    demo.shutdown().await;
    if let Err(panic) = walked {
        std::panic::resume_unwind(panic);
    }
    closed.expect("the browser closes");
}

/// The walk, from opening the page to the notes in #releases, then the screenshot.
async fn walk(page: &Page, url: &str) {
    page.client.goto(url).await.expect("the page opens");
    page.shows("#title", "#deploy").await;
    page.shows("#clock", "Wednesday 25 November 2026, 14:30 Asia/Kolkata")
        .await;
    page.shows("#repo", "acme/frappe-config").await;

    prepare(page).await;
    promote_and_approve(page).await;
    merge_and_deploy(page).await;
    smoke(page).await;
    ship(page).await;

    let shot = page.client.screenshot().await.expect("a screenshot");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo.png");
    std::fs::write(&out, &shot).expect("the screenshot is written");
    if std::env::var("LOCKSTEP_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/demo.png");
        std::fs::write(docs, &shot).expect("docs/demo.png is written");
    }
}

/// help, review, the staging drift (also in the staging panel), push, diff clean.
async fn prepare(page: &Page) {
    page.type_command("help").await;
    page.shows("#messages", "Usage: /frappe-stack").await;
    page.type_command("review").await;
    page.shows("#messages", "Recommendation: ✓ ready to promote")
        .await;
    let staging = "section[data-site=staging]";
    page.shows(staging, "Quick Test").await;
    page.type_command("diff").await;
    page.shows("#messages", "Resolve before promote").await;
    page.type_command("push").await;
    page.shows("#messages", "Push: applied 1 change").await;
    page.type_command("diff").await;
    page.shows("#messages", "Summary: clean. Ready to promote.")
        .await;
    assert!(
        !page.text(staging).await.contains("Quick Test"),
        "the staging panel no longer lists Quick Test"
    );
}

/// promote: the thread opens beside the channel with the checklist and the PR;
/// alice (on call) approves it in the repository panel.
async fn promote_and_approve(page: &Page) {
    page.type_command("promote").await;
    page.shows("#messages", "Each step is posted in this thread.")
        .await;
    page.click("#messages a.replies").await;
    let thread = page.shows("#thread-messages", "is open").await;
    assert!(thread.contains("Review requested from @alice"), "{thread}");
    for name in [
        "diff",
        "blueprints",
        "reviewer",
        "tester",
        "role coverage",
        "freeze guard",
        "bundle",
    ] {
        assert!(
            thread.contains(&format!("✓ {name}")),
            "box {name}:\n{thread}"
        );
    }
    page.shows("#repo", "Review required").await;
    page.shows("#repo", "Files changed (15)").await;
    // Review as alice: first changes requested with a comment, which the bot quotes
    // in the thread; then, satisfied, an approval with a comment.
    review_as(page, "alice", "Is age checked on staging?").await;
    page.click("#review-form button[data-verdict=request_changes]")
        .await;
    page.shows("#repo", "Changes requested by alice").await;
    let quoted = page
        .shows("#thread-messages", "@alice requested changes on #1")
        .await;
    assert!(quoted.contains("Is age checked on staging?"), "{quoted}");
    review_as(
        page,
        "alice",
        "Checked the Beneficiary workflow on staging.",
    )
    .await;
    page.click("#review-form button[data-verdict=approve]")
        .await;
    page.shows("#repo", "Approved by alice; ready to merge")
        .await;
    page.shows("#thread-messages", "is approved on GitHub by @alice")
        .await;
}

/// Fills the repository panel's review form: who reviews, and their comment.
async fn review_as(page: &Page, reviewer: &str, comment: &str) {
    page.client
        .find(Locator::Css("#review-form select[name=user]"))
        .await
        .expect("the review-as box")
        .select_by_value(reviewer)
        .await
        .expect("a reviewer of the repository");
    page.client
        .find(Locator::Css("#review-form textarea"))
        .await
        .expect("the comment box")
        .send_keys(comment)
        .await
        .expect("typing a comment");
}

/// The PM may not merge their own promotion; the developer (an approver) does, and
/// the deploy's steps show in the thread, the repository panel and the prod panel.
async fn merge_and_deploy(page: &Page) {
    page.click("#thread-messages button[data-action=promote_merge]")
        .await;
    page.shows("body", "You started this promotion").await;
    page.act_as("U0DEV").await;
    page.click("#thread-messages button[data-action=promote_merge]")
        .await;
    page.shows("#thread-messages", "Merged #1").await;
    for step in [
        "✓ backup — success",
        "✓ migrate — success",
        "✓ restart — success",
    ] {
        page.shows("#thread-messages", step).await;
    }
    page.shows("#repo", "Merged as").await;
    page.shows("#repo", "✓ migrate").await;
    page.shows("section[data-site=prod]", "Deploy #1").await;
    page.shows("section[data-site=prod]", "-prod").await;
}

/// The automatic probes pass; the developer ticks every check by hand, one button
/// at a time as the message changes under it; the promotion succeeds.
async fn smoke(page: &Page) {
    page.shows("#thread-messages", "✓ list of Beneficiary")
        .await;
    let ticks = "#thread-messages button[data-action^=promote_smoke_ok_]";
    let mut left = page.count(ticks).await;
    assert!(left > 0, "the checks by hand are buttons");
    while left > 0 {
        page.click(ticks).await;
        let fewer = format!(
            "//*[@id='thread-messages'][count(.//button[starts-with(@data-action, 'promote_smoke_ok_')]) < {left}]"
        );
        page.client
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::XPath(&fewer))
            .await
            .unwrap_or_else(|err| panic!("a tick never showed ({left} left): {err}"));
        left = page.count(ticks).await;
    }
    page.shows("#thread-messages", "Promotion succeeded").await;
    page.shows("#messages", "succeeded: #1 on production").await;
}

/// `ship v0.1.0`: the PM edits the draft in the modal and ships; alice approves the
/// release PR in the repository panel; the tag and release show there, and the
/// notes, as edited, in #releases.
async fn ship(page: &Page) {
    page.act_as("U0PM").await;
    page.type_command("ship v0.1.0").await;
    page.shows("#messages", "draft ready").await;
    page.click("#messages button[data-action=ship_edit]").await;
    page.client
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Css("#modal textarea"))
        .await
        .expect("the notes' editor opens")
        .send_keys("\n\n### Notes\n\n- Age must not be negative any more.")
        .await
        .expect("typing in the notes");
    page.click("#modal button[data-modal=submit]").await;
    page.shows("#messages", "Edited by @pm").await;
    page.client
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::XPath(
            "//*[@id='modal'][contains(@style, 'display: none')]",
        ))
        .await
        .expect("the modal closes once saved");
    page.click("#messages button[data-action=ship_ship]").await;
    page.shows("#repo", "release/v0.1.0").await;
    page.client
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Css(
            "#review-form select[name=pr] option[value='2']",
        ))
        .await
        .expect("the release PR can be reviewed");
    page.client
        .find(Locator::Css("#review-form select[name=pr]"))
        .await
        .expect("the PR box")
        .select_by_value("2")
        .await
        .expect("the release PR");
    page.click("#review-form button[data-verdict=approve]")
        .await;
    page.shows("#repo", "v0.1.0").await;
    page.shows("#repo", "Latest").await;
    page.client
        .find(Locator::XPath(
            "//*[@id='channels']//a[contains(., 'releases')]",
        ))
        .await
        .expect("#releases in the sidebar")
        .click()
        .await
        .expect("opening #releases");
    page.shows("#title", "#releases").await;
    page.shows("#messages", "Release v0.1.0").await;
    page.shows("#messages", "Age must not be negative any more.")
        .await;
}
