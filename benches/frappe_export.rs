//! Export benchmark: a site with 5,000 custom DocTypes (30 fields each) and 20,000
//! Custom Fields, served by the Frappe-compatible sim on loopback, exported with
//! `SiteReader::fetch_blueprints`. Prints wall time, requests made and peak RSS
//! (of this process, which holds both the sim and the client). One iteration per
//! mode: the default (flat kinds read from the list) and one request per record.
//!
//! Run: `cargo bench --bench frappe_export`. Scale with LOCKSTEP_BENCH_DOCTYPES and
//! LOCKSTEP_BENCH_CUSTOM_FIELDS.

use std::time::{Duration, Instant};

use lockstep::frappe::{ApiCredentials, FetchOptions, SiteConfig, SiteName, SiteReader};
use lockstep_sim::frappe::{FrappeSim, SiteSeed};
use serde_json::{json, Value};

const FIELD_TYPES: [&str; 6] = ["Data", "Int", "Check", "Date", "Select", "Small Text"];

fn scale(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn doctype(i: usize) -> Value {
    let fields: Vec<Value> = (0..30)
        .map(|f| {
            json!({"fieldname": format!("field_{f:02}"), "label": format!("Field {f:02}"),
                   "fieldtype": FIELD_TYPES[f % FIELD_TYPES.len()], "reqd": (f % 7 == 0) as u8,
                   "in_list_view": (f < 3) as u8})
        })
        .collect();
    json!({"doctype": "DocType", "name": format!("Bench Type {i:05}"), "module": "Custom", "custom": 1,
           "autoname": "hash", "fields": fields,
           "permissions": [{"role": "System Manager", "permlevel": 0, "read": 1, "write": 1, "create": 1}]})
}

fn custom_field(i: usize, doctypes: usize) -> Value {
    let dt = format!("Bench Type {:05}", i % doctypes.max(1));
    let fieldname = format!("extra_{i:05}");
    json!({"doctype": "Custom Field", "name": format!("{dt}-{fieldname}"), "dt": dt, "fieldname": fieldname,
           "label": format!("Extra {i}"), "fieldtype": "Data", "insert_after": "field_29", "module": "Custom"})
}

fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

fn rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

fn status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

async fn export_once(sim: &FrappeSim, label: &str, options: FetchOptions) -> Duration {
    let mut config = SiteConfig::new(
        SiteName::new("bench").unwrap(),
        sim.url().parse().unwrap(),
        ApiCredentials::new(FrappeSim::api_key("bench"), FrappeSim::api_secret("bench")),
    );
    config.site_header = Some("bench".into());
    config.timeout = Duration::from_secs(120);
    let reader = SiteReader::new(config).unwrap();
    let before = sim.requests_made();
    let started = Instant::now();
    let set = reader.fetch_blueprints(&options).await.unwrap();
    let wall = started.elapsed();
    let mut per_kind = std::collections::BTreeMap::new();
    for blueprint in set.iter() {
        *per_kind.entry(blueprint.kind.doctype()).or_insert(0usize) += 1;
    }
    println!(
        "{label:<28} blueprints={:>6}  wall={:>8.2}s  requests={:>6}  peak_rss={:.0} MiB  rss_holding_set={:.0} MiB",
        set.len(),
        wall.as_secs_f64(),
        sim.requests_made() - before,
        peak_rss_mib().unwrap_or(f64::NAN),
        rss_mib().unwrap_or(f64::NAN)
    );
    println!("{:<28} {per_kind:?}", "");
    wall
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let doctypes = scale("LOCKSTEP_BENCH_DOCTYPES", 5_000);
    let custom_fields = scale("LOCKSTEP_BENCH_CUSTOM_FIELDS", 20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut seed = SiteSeed::empty("bench");
        seed.documents.extend((0..doctypes).map(doctype));
        seed.documents.extend((0..custom_fields).map(|i| custom_field(i, doctypes)));
        let seeding = Instant::now();
        let sim = FrappeSim::start_with(vec![seed], "127.0.0.1:0".parse().unwrap()).await.unwrap();
        println!(
            "frappe_export: {doctypes} DocTypes x 30 fields + {custom_fields} Custom Fields; sim seeded in {:.2}s, peak_rss={:.0} MiB, rss={:.0} MiB (the sim's copy of the site)",
            seeding.elapsed().as_secs_f64(),
            peak_rss_mib().unwrap_or(f64::NAN),
            rss_mib().unwrap_or(f64::NAN)
        );
        export_once(&sim, "default (bulk flat kinds)", FetchOptions::default()).await;
        export_once(&sim, "one request per record", FetchOptions { bulk_list_flat_kinds: false, ..FetchOptions::default() }).await;
    });
}
