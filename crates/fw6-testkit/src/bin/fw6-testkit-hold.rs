//! Test helper for `fw6_testkit::clean_up_on_signal` (tests/interrupt.rs): creates a namespace,
//! a temporary directory and a child process, prints `<namespace path> <directory> <child pid>`,
//! then waits a minute at most to be signalled.

use std::process::Command;
use std::time::Duration;

fn main() {
    fw6_testkit::clean_up_on_signal();
    let ns = fw6_testkit::NetNs::new();
    let dir = fw6_testkit::temp_path("hold");
    std::fs::create_dir_all(&dir).expect("create the temporary directory");
    let mut child = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("start sleep");
    println!("{} {} {}", ns.path().display(), dir.display(), child.id());
    std::thread::sleep(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
