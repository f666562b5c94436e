//! The one clock. Everything that asks "what time is it" asks a [`Clock`], so that
//! `LOCKSTEP_NOW` (RFC 3339) can set the time for tests and demos — a freeze window
//! on a Friday evening must be reproducible on a Tuesday morning. A set clock starts
//! at that instant and then runs: timers (a poll's wait, an emergency's deadline) are
//! clock time, and a clock that never moved would never fire them.

use chrono::{DateTime, Utc};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum Clock {
    /// Real wall-clock time.
    System,
    /// Started at an instant (from `LOCKSTEP_NOW` or a test), running since.
    Pinned {
        at: DateTime<Utc>,
        since: std::time::Instant,
    },
    /// A shared, settable instant for tests that move time forward.
    Manual(Arc<std::sync::Mutex<DateTime<Utc>>>),
    /// Started at an instant and running, and moved forward by a test on top: for
    /// scenarios whose polls need time to pass and that also skip hours.
    Running {
        at: DateTime<Utc>,
        since: std::time::Instant,
        skipped: Arc<std::sync::Mutex<chrono::Duration>>,
    },
}

impl Clock {
    /// Reads `LOCKSTEP_NOW`; an unset variable means the system clock.
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("LOCKSTEP_NOW") {
            Ok(value) => Self::parse_fixed(&value),
            Err(std::env::VarError::NotPresent) => Ok(Clock::System),
            Err(std::env::VarError::NotUnicode(_)) => {
                anyhow::bail!("LOCKSTEP_NOW is not valid UTF-8; use an RFC 3339 time such as 2026-11-27T15:00:00+05:30")
            }
        }
    }

    pub fn parse_fixed(value: &str) -> anyhow::Result<Self> {
        let instant = DateTime::parse_from_rfc3339(value.trim()).map_err(|err| {
            anyhow::anyhow!(
                "LOCKSTEP_NOW={value:?} is not an RFC 3339 time ({err}); use e.g. 2026-11-27T15:00:00+05:30"
            )
        })?;
        Ok(Clock::Pinned {
            at: instant.with_timezone(&Utc),
            since: std::time::Instant::now(),
        })
    }

    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(std::sync::Mutex::new(start)))
    }

    /// A clock running from `start` that [`Clock::advance`] also moves forward.
    pub fn running_from(start: DateTime<Utc>) -> Self {
        Clock::Running {
            at: start,
            since: std::time::Instant::now(),
            skipped: Arc::default(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Pinned { at, since } => {
                *at + chrono::Duration::from_std(since.elapsed()).unwrap_or_default()
            }
            Clock::Manual(shared) => *shared.lock().unwrap_or_else(|poison| poison.into_inner()),
            Clock::Running { at, since, skipped } => {
                let skipped = *skipped.lock().unwrap_or_else(|poison| poison.into_inner());
                *at + chrono::Duration::from_std(since.elapsed()).unwrap_or_default() + skipped
            }
        }
    }

    /// Moves a manual or running clock forward; other clocks ignore it.
    pub fn advance(&self, by: chrono::Duration) {
        match self {
            Clock::Manual(shared) => {
                *shared.lock().unwrap_or_else(|poison| poison.into_inner()) += by;
            }
            Clock::Running { skipped, .. } => {
                *skipped.lock().unwrap_or_else(|poison| poison.into_inner()) += by;
            }
            Clock::System | Clock::Pinned { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_starts_at_its_instant_and_runs() {
        let clock = Clock::parse_fixed("2026-11-27T15:00:00+05:30").unwrap();
        let start = DateTime::parse_from_rfc3339("2026-11-27T09:30:00+00:00")
            .unwrap()
            .with_timezone(&Utc);
        let first = clock.now();
        assert!(
            first >= start && first - start < chrono::Duration::seconds(5),
            "{first}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock.now() > first, "it runs");
    }

    #[test]
    fn bad_value_names_the_variable_and_an_example() {
        let err = Clock::parse_fixed("friday").unwrap_err().to_string();
        assert!(err.contains("LOCKSTEP_NOW"), "{err}");
        assert!(err.contains("2026-11-27T15:00:00+05:30"), "{err}");
    }

    #[test]
    fn a_running_clock_runs_and_skips_forward() {
        let start = Utc::now() - chrono::Duration::days(30);
        let clock = Clock::running_from(start);
        let first = clock.now();
        assert!(first >= start);
        clock.advance(chrono::Duration::hours(3));
        assert!(clock.now() - first >= chrono::Duration::hours(3));
    }

    #[test]
    fn manual_clock_moves_forward() {
        let clock = Clock::manual(Utc::now());
        let before = clock.now();
        clock.advance(chrono::Duration::minutes(5));
        assert_eq!(clock.now() - before, chrono::Duration::minutes(5));
    }
}
