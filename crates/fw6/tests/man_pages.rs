//! The man pages committed in `docs/man/` are exactly what `fw6 generate man` writes today, so
//! a change to the CLI cannot leave them stale. To refresh them:
//!
//! ```sh
//! rm -f docs/man/*.1 && cargo run -q -p fw6 -- generate man docs/man
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const REFRESH: &str = "rm -f docs/man/*.1 && cargo run -q -p fw6 -- generate man docs/man";

fn pages(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "1"))
        .map(|path| {
            let name = path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (name, text)
        })
        .collect()
}

#[test]
fn committed_man_pages_are_current() {
    let committed_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/man");
    let fresh_dir = std::env::temp_dir().join(format!("fw6-man-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh_dir);
    let status = Command::new(env!("CARGO_BIN_EXE_fw6"))
        .args(["generate", "man"])
        .arg(&fresh_dir)
        .status()
        .expect("run fw6 generate man");
    assert!(status.success(), "fw6 generate man failed: {status}");
    let fresh = pages(&fresh_dir);
    let committed = pages(&committed_dir);
    std::fs::remove_dir_all(&fresh_dir).expect("remove the temporary directory");

    assert!(!fresh.is_empty(), "fw6 generate man wrote no page");
    let missing: Vec<_> = fresh
        .keys()
        .filter(|k| !committed.contains_key(*k))
        .collect();
    let extra: Vec<_> = committed
        .keys()
        .filter(|k| !fresh.contains_key(*k))
        .collect();
    let stale: Vec<_> = fresh
        .iter()
        .filter(|(k, v)| committed.get(*k).is_some_and(|c| c != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && stale.is_empty(),
        "docs/man is out of date (missing {missing:?}, no longer generated {extra:?}, \
         different {stale:?}); refresh it with: {REFRESH}"
    );
}
