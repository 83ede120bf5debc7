//! fw6d's use of the C allocator: after a flood of calls its memory must come back down, since a
//! firewall daemon that keeps the peak of the worst minute is one an attacker can grow at will.

use std::time::Duration;

/// How often the heap is looked at for free memory to hand back.
const TRIM_EVERY: Duration = Duration::from_secs(5);
/// Free bytes inside the heap above which they are handed back.
const TRIM_ABOVE: usize = 1 << 20;

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
