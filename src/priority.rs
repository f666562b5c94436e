//! Which of the bot's threads the kernel runs first when they compete for a core.
//! Acknowledging an envelope takes microseconds of CPU and must happen within Slack's
//! 3 s, while the bot's work (a 50,000-blueprint diff, 200 replies being posted)
//! can keep every core of a small host busy; shared evenly, an ack would queue
//! behind it. So the main runtime's threads, which do the work, run at a nice value
//! [`WORK_NICENESS`] above the process's, and the Socket Mode listener's own
//! runtime thread at the process's. An idle listener takes nothing from the work.
//! Raising a thread's nice value needs no privilege; Linux keeps it per thread. On
//! other systems both are no-ops.

/// How much lower the work threads are scheduled than the listener's: at 5 the
/// listener gets about three times a work thread's share of a contended core.
pub const WORK_NICENESS: i32 = 5;

/// For each thread of the main runtime, as it starts.
pub fn for_work() {
    set_own_nice(process_nice() + WORK_NICENESS);
}

/// For the listener's runtime thread, as it starts: the process's nice value, which
/// it has already unless it was started from a work thread (then it is raised back
/// if the process may, and a debug line says so if not).
pub fn for_listener() {
    set_own_nice(process_nice());
}

/// The main thread's nice value (on Linux the process id is the main thread's id).
#[cfg(target_os = "linux")]
fn process_nice() -> i32 {
    // SAFETY: no pointers; getpid cannot fail.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t) }
}

#[cfg(target_os = "linux")]
fn set_own_nice(nice: i32) {
    // SAFETY: no pointers; the target is the calling thread only.
    let failed = unsafe {
        let thread = libc::gettid() as libc::id_t;
        libc::getpriority(libc::PRIO_PROCESS, thread) != nice
            && libc::setpriority(libc::PRIO_PROCESS, thread, nice) != 0
    };
    if failed {
        tracing::debug!(
            nice,
            error = %std::io::Error::last_os_error(),
            "cannot set this thread's scheduling priority; threads share the cores evenly"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn process_nice() -> i32 {
    0
}

#[cfg(not(target_os = "linux"))]
fn set_own_nice(_nice: i32) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[test]
    fn work_threads_yield_to_the_listener_and_only_themselves_change() {
        let base = process_nice();
        let work = std::thread::spawn(|| {
            for_work();
            // Again (a blocking thread spawned by a work thread starts here): the
            // same value, not a further step down.
            for_work();
            own_nice()
        })
        .join()
        .unwrap();
        assert_eq!(work, (base + WORK_NICENESS).min(19));
        let listener = std::thread::spawn(|| {
            for_listener();
            own_nice()
        })
        .join()
        .unwrap();
        assert_eq!(listener, base);
        assert_eq!(own_nice(), base, "the calling thread is untouched");
    }
}
