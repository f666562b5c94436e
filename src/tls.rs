//! The process-wide rustls crypto provider.
//!
//! reqwest is built without a provider and octocrab and slack-morphism bring `ring`;
//! rustls refuses to guess when it cannot find exactly one, and the Slack connector
//! panics in that case (reference/stack.md). Every entry point — `main`, the test
//! harness, the benchmarks — calls [`install_crypto_provider`] before building a client.

/// Installs `ring` as the process default. Safe to call any number of times.
pub fn install_crypto_provider() {
    // `Err` only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
