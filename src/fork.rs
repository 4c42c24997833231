//! Fork detection. A `pthread_atfork` child handler bumps a counter; a handle that sees a
//! counter different from the one at its init lives in a forked child and stays inert
//! there (sends return `Disabled`, nothing is sent, its lock is never touched).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

#[cfg(unix)]
extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The number of forks between the first call and now, in this process's ancestry.
pub fn generation() -> u64 {
    REGISTER.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registers a handler that only performs an atomic increment, which is
        // async-signal-safe and valid in the child of a multi-threaded fork.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
    GENERATION.load(Ordering::Relaxed)
}
