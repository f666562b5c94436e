//! The automatic smoke probes on production, reads only: each changed DocType's list
//! loads with its list-view columns and one record opens; each changed Workflow
//! exists, is active, and every role its states and transitions name exists; each
//! changed Dashboard Chart and Number Card answers (their documents load, and a
//! card's figure is computed by Frappe's own method).

use crate::adapters::Adapters;
use crate::commands::explain::frappe_text;
use crate::frappe::{FrappeError, ListQuery, SiteReader};
use crate::workflow::op::{Failure, OpResult, Outcome, Probe, SmokeSurface};

pub async fn probe(adapters: &Adapters, surface: &SmokeSurface) -> OpResult {
    let production = adapters.production().map_err(|e| Failure::Refused(e.0))?;
    let site = production.reader();
    let mut probes = Vec::new();
    for (doctype, columns) in &surface.doctypes {
        probes.extend(doctype_probes(site, doctype, columns).await);
    }
    for (workflow, roles) in &surface.workflows {
        probes.push(workflow_probe(site, workflow, roles).await);
    }
    for chart in &surface.charts {
        probes.push(exists(site, "Dashboard Chart", chart).await);
    }
    for card in &surface.cards {
        probes.push(card_probe(site, card).await);
    }
    if probes.is_empty() {
        probes.push(Probe {
            what: "production answers".into(),
            ok: site.ping().await.is_ok(),
            detail: "nothing in this promotion has a screen to probe; the site answers ping".into(),
        });
    }
    Ok(Outcome::Smoke(probes))
}

fn broken(what: String, err: &FrappeError) -> Probe {
    Probe {
        what,
        ok: false,
        detail: frappe_text(err),
    }
}

async fn doctype_probes(site: &SiteReader, doctype: &str, columns: &[String]) -> Vec<Probe> {
    let mut fields = vec!["name".to_string()];
    fields.extend(columns.iter().cloned());
    let query = ListQuery::new("modified desc")
        .fields(fields)
        .page_length(1);
    let list_what = format!(
        "list of {doctype} with its {} list-view column{}",
        columns.len(),
        if columns.len() == 1 { "" } else { "s" }
    );
    let rows = match site.list(doctype, &query).await {
        Ok(rows) => rows,
        Err(err) => return vec![broken(list_what, &err)],
    };
    let mut probes = vec![Probe {
        what: list_what,
        ok: true,
        detail: "loads".into(),
    }];
    let first = rows
        .first()
        .and_then(|row| row.get("name"))
        .and_then(|name| name.as_str());
    match first {
        Some(name) => probes.push(match site.get_doc(doctype, name).await {
            Ok(_) => Probe {
                what: format!("a {doctype} record opens"),
                ok: true,
                detail: format!("{name} opens"),
            },
            Err(err) => broken(format!("a {doctype} record opens"), &err),
        }),
        None => probes.push(Probe {
            what: format!("a {doctype} record opens"),
            ok: true,
            detail: "no records yet; nothing to open".into(),
        }),
    }
    probes
}

async fn workflow_probe(site: &SiteReader, workflow: &str, roles: &[String]) -> Probe {
    let what = format!("workflow {workflow} is active and its roles exist");
    let doc = match site.get_doc("Workflow", workflow).await {
        Ok(doc) => doc,
        Err(err) => return broken(what, &err),
    };
    if doc["is_active"].as_i64() != Some(1) {
        return Probe {
            what,
            ok: false,
            detail: "the workflow is not active on production".into(),
        };
    }
    let mut missing = Vec::new();
    for role in roles {
        match site.get_doc("Role", role).await {
            Ok(_) => {}
            Err(FrappeError::NotFound(_)) => missing.push(role.clone()),
            Err(err) => return broken(what, &err),
        }
    }
    Probe {
        ok: missing.is_empty(),
        detail: if missing.is_empty() {
            format!("active; {} roles exist", roles.len())
        } else {
            format!("missing roles: {}", missing.join(", "))
        },
        what,
    }
}

async fn exists(site: &SiteReader, doctype: &str, name: &str) -> Probe {
    let what = format!("{doctype} {name} answers");
    match site.get_doc(doctype, name).await {
        Ok(_) => Probe {
            what,
            ok: true,
            detail: "loads".into(),
        },
        Err(err) => broken(what, &err),
    }
}

/// A Number Card's figure, computed by Frappe's own `get_result` for the card.
async fn card_probe(site: &SiteReader, card: &str) -> Probe {
    let what = format!("Number Card {card} answers");
    let doc = match site.get_doc("Number Card", card).await {
        Ok(doc) => doc,
        Err(err) => return broken(what, &err),
    };
    match site.number_card_result(&doc).await {
        Ok(value) => Probe {
            what,
            ok: true,
            detail: format!("shows {value}"),
        },
        Err(err) => broken(what, &err),
    }
}
