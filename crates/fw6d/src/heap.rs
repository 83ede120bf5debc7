//! fw6d's use of the C allocator: after a flood of calls its memory must come back down, since a
//! firewall daemon that keeps the peak of the worst minute is one an attacker can grow at will.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::time::Duration;

/// How often the heap is looked at for free memory to hand back.
const TRIM_EVERY: Duration = Duration::from_secs(5);
/// Free bytes inside the heap above which they are handed back.
const TRIM_ABOVE: usize = 1 << 20;

/// glibc's tunable for its per-thread caches, and the value that turns them off.
const THREAD_CACHE: &str = "glibc.malloc.tcache_count";
const NO_THREAD_CACHE: &str = "glibc.malloc.tcache_count=0";
/// Set on the restart, so that fw6d starts again at most once: glibc ignores `GLIBC_TUNABLES`
/// for a program started with privileges it did not have (file capabilities, setuid), and
/// without this each start would look like the first.
const RESTARTED: &str = "FW6D_RESTARTED_FOR_ALLOCATOR";

/// Starts fw6d again in place (`execve` of its own program: the same pid, so systemd's
/// `Type=notify` and whoever waits for fw6d see nothing) with glibc's per-thread caches off,
/// unless `GLIBC_TUNABLES` already sets them either way. Each thread keeps up to seven freed
/// chunks of every small size for itself, out of reach of `malloc_trim`: after a flood those
/// caches hold chunks scattered over pages that could otherwise go back to the system, and
/// fw6d's memory stays above its idle level for good. glibc reads the setting only when a
/// program starts, hence the restart; it happens before anything else, whatever starts fw6d.
/// Returns when the caches are off already, after the one restart (whatever glibc made of the
/// tunable), or when starting again failed (said on stderr: fw6d then runs with the caches).
pub fn without_thread_caches() {
    if std::env::var_os(RESTARTED).is_some() {
        return;
    }
    let tunables = std::env::var_os("GLIBC_TUNABLES").unwrap_or_default();
    let Some(value) = tunables_without_thread_caches(tunables) else {
        return;
    };
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("fw6d"));
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(argv0)
        .args(args)
        .env("GLIBC_TUNABLES", value)
        .env(RESTARTED, "1")
        .exec();
    eprintln!(
        "fw6d: cannot start again with glibc's per-thread caches off ({err}); running with them \
         (memory may stay above idle after a flood of calls)"
    );
}

/// `GLIBC_TUNABLES` with the per-thread caches off added, or `None` when `tunables` already
/// sets them (either way: an administrator's choice is kept).
fn tunables_without_thread_caches(tunables: OsString) -> Option<OsString> {
    if tunables
        .to_string_lossy()
        .split(':')
        .any(|t| t.split('=').next() == Some(THREAD_CACHE))
    {
        return None;
    }
    let mut value = tunables;
    if !value.is_empty() {
        value.push(":");
    }
    value.push(NO_THREAD_CACHE);
    Some(value)
}

/// Sets the allocator up, before any thread but the main one exists: every allocation of
/// 64 KiB or more is its own mapping, returned to the system when it is freed (glibc's default
/// raises that threshold after the first large free, so a flood's large buffers would stay in the
/// heap for good), and at most two arenas (each runtime thread would otherwise get its own, and
/// memory freed in one arena is not reused by another).
#[expect(unsafe_code, reason = "mallopt is a libc call")]
pub fn configure() {
    // SAFETY: mallopt only sets allocator parameters; it is called once at start-up, before any
    // thread but the main one exists.
    unsafe {
        let _ = libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        let _ = libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hands the free pages inside the heap back to the system every few seconds when there are
/// more than a little: the small allocations of a flood's calls leave holes below the top of
/// the heap that `free` alone never returns.
pub async fn trim_periodically() {
    let mut tick = tokio::time::interval(TRIM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if free_in_heap() > TRIM_ABOVE {
            trim();
        }
    }
}

#[expect(unsafe_code, reason = "mallinfo2 is a libc call")]
fn free_in_heap() -> usize {
    // SAFETY: mallinfo2 reads the allocator's statistics; it has no preconditions.
    let info = unsafe { libc::mallinfo2() };
    info.fordblks
}

#[expect(unsafe_code, reason = "malloc_trim is a libc call")]
fn trim() {
    // SAFETY: malloc_trim releases free memory of the allocator's own; it has no preconditions.
    let _ = unsafe { libc::malloc_trim(0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_caches_are_turned_off_once_and_an_administrators_choice_is_kept() {
        let off = |t: &str| tunables_without_thread_caches(OsString::from(t));
        assert_eq!(off(""), Some(OsString::from(NO_THREAD_CACHE)));
        assert_eq!(
            off("glibc.malloc.arena_max=1"),
            Some(OsString::from(
                "glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0"
            ))
        );
        // After the restart, and when the administrator set it: no restart.
        assert_eq!(off(NO_THREAD_CACHE), None);
        assert_eq!(
            off("glibc.malloc.tcache_count=7:glibc.malloc.arena_max=1"),
            None
        );
        // A longer name that begins the same is another tunable.
        assert!(off("glibc.malloc.tcache_count_max=3").is_some());
    }
}
