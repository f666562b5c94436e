//! Frappe REST client. Reads any site; writes exist only on the staging-site type.
