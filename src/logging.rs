//! Where the process's log lines go and in which shape: human-readable text, or
//! one JSON object a line (`--log-format json`) for log shippers. Either way each
//! line carries the fields of the spans it was logged in, so a line logged while a
//! run's event or effect is handled names its `run_id` (the spans are opened by
//! `app` and the executor). Secrets never reach a field: they are wrapped in
//! [`crate::secret::Secret`], whose `Debug` prints `***`.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The shape of a log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event, for a terminal or journald.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields`, `target`, the
    /// current `span` and every enclosing one in `spans`.
    Json,
}

/// Installs the process's subscriber: `RUST_LOG` if set, else `default_filter`.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
        LogFormat::Json => json_subscriber(filter, std::io::stderr).init(),
    }
}

/// The JSON subscriber, writing to `writer`.
pub fn json_subscriber<W>(
    filter: EnvFilter,
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    EnvFilter,
    W,
>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter(filter)
        .with_writer(writer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn json_lines_carry_the_run_id_of_their_span() {
        let buffer = Buffer::default();
        let subscriber = json_subscriber(EnvFilter::new("info"), buffer.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            let run = tracing::info_span!("work", run_id = "run-0123456789", op = "snapshot");
            let _inside = run.enter();
            tracing::info!(what = "a branch", "GitHub rate limit; waiting");
            let inner = tracing::info_span!("request", site = "staging");
            let _deeper = inner.enter();
            tracing::warn!("retrying a Frappe read");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["fields"]["message"], "GitHub rate limit; waiting");
        assert_eq!(lines[0]["span"]["run_id"], "run-0123456789");
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["spans"][0]["run_id"], "run-0123456789", "{text}");
    }
}
