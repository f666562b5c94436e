//! Durable state in sled.
