//! A Frappe-compatible server: several sites, REST v1, seeded from canonical files.
