//! Ack latency under a burst: 200 slash commands fired at once through the Slack sim
//! at the real bot over Socket Mode. Latency is measured on the sim's side, from
//! writing the envelope to receiving the ack, as Slack would see it (its deadline is
//! 3 s). Also reports how much work was still queued when the last ack arrived, to
//! show acks do not wait for the work.
//!
//! Run: `cargo bench --bench ack_latency` (optionally `-- <count>`).

use futures::future::join_all;
use lockstep::app;
use lockstep::clock::Clock;
use lockstep::config::{Config, FileConfig, Secrets};
use lockstep::secret::Secret;
use lockstep_sim::slack::{SimConfig, SlackSim};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const CHANNEL: &str = "C0DEPLOY";
const USERS: [&str; 3] = ["U0PM", "U0DEV", "U0ADMIN"];

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; the only argument we take is a count.
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(200);
    lockstep::tls::install_crypto_provider();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(count))
}

async fn run(count: usize) -> anyhow::Result<()> {
    let slack = SlackSim::start(SimConfig::default()).await?;
    let store_dir = tempfile::tempdir()?;
    let mut file = FileConfig::parse("", "bench.toml")?;
    file.slack.api_url = slack.api_url().parse()?;
    file.store.path = store_dir.path().join("store");
    let config = Config {
        file,
        secrets: Secrets {
            slack_app_token: Secret::new(slack.app_token()),
            slack_bot_token: Secret::new(slack.bot_token()),
            sites: BTreeMap::new(),
            github: None,
        },
        base_dir: store_dir.path().to_path_buf(),
    };
    let bot = app::start(config, Clock::System).await?;
    slack
        .wait_for_open_connections(1, Duration::from_secs(20))
        .await?;

    let started = Instant::now();
    let sends = (0..count).map(|n| {
        let user = USERS[n % USERS.len()];
        // `help` replies are the cheapest real work; `status` would add a store read.
        let text = if n % 2 == 0 { "help" } else { "help promote" };
        slack.send_slash_command(user, CHANNEL, "/frappe-stack", text)
    });
    let sent: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let acks = join_all(
        sent.iter()
            .map(|envelope| slack.wait_for_ack(&envelope.envelope_id, Duration::from_secs(30))),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let all_acked = started.elapsed();
    let replies_when_acked = slack.outputs().len();

    let mut cursor = 0;
    for _ in 0..count {
        slack
            .next_output(&mut cursor, Duration::from_secs(60))
            .await?;
    }
    let all_replied = started.elapsed();
    bot.shutdown().await;

    let mut latencies: Vec<Duration> = acks.iter().map(|ack| ack.latency).collect();
    latencies.sort();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("ack latency for {count} concurrent slash commands (sim side, envelope sent -> ack received)");
    println!(
        "  p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        ms(at(0.50)),
        ms(at(0.90)),
        ms(at(0.99)),
        ms(at(1.0))
    );
    println!(
        "  all acked after {:.1} ms; replies delivered by then: {replies_when_acked}/{count} (the rest still queued)",
        ms(all_acked)
    );
    println!(
        "  all {count} replies delivered after {:.1} ms",
        ms(all_replied)
    );
    Ok(())
}
