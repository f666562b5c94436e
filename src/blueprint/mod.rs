//! Blueprints: one configuration record (doctype, name) as canonical JSON.
