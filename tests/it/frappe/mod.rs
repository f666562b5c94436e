//! frappe: the Frappe client and CLI against the Frappe-compatible server.

mod cli;
mod client;
mod drift;
mod export_example;
