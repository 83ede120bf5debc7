//! `include/fw6.h` is exactly what cbindgen generates from the source, and the reference part of
//! `docs/c-api.md` is exactly what the header's doc comments say: a change to the C API that is
//! not in the committed header and reference fails here. `FW6_BLESS=1` rewrites both.

use std::fmt::Write as _;
use std::path::Path;

/// The line of docs/c-api.md after which everything is generated from the header.
const MARKER: &str = "<!-- Everything below is generated from include/fw6.h by crates/fw6-capi/tests/header.rs \
                      (FW6_BLESS=1 cargo test -p fw6-capi --test header); do not edit. -->";

fn bless() -> bool {
    std::env::var_os("FW6_BLESS").is_some()
}

fn generated_header(dir: &Path) -> String {
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    String::from_utf8(generated).expect("the header is UTF-8")
}

/// The Markdown reference: every documented declaration of the header, in its order, with its
/// doc comment.
fn reference(header: &str) -> String {
    let mut out = String::from("\n## Reference\n");
    let mut lines = header.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "/**" {
            continue;
        }
        let mut doc = Vec::new();
        for line in lines.by_ref() {
            let line = line.trim();
            if line == "*/" {
                break;
            }
            let text = line.strip_prefix('*').unwrap_or(line).trim_start();
            doc.push(if text == "# Safety" {
                "*Pointers:*"
            } else {
                text
            });
        }
        let mut decl = String::new();
        for line in lines.by_ref() {
            if !decl.is_empty() {
                decl.push(' ');
            }
            decl.push_str(line.trim());
            if line.starts_with('#') || line.trim_end().ends_with(';') {
                break;
            }
        }
        let decl = decl.split_whitespace().collect::<Vec<_>>().join(" ");
        let decl = decl.replace("( ", "(");
        let _ = write!(out, "\n#### `{decl}`\n\n{}\n", doc.join("\n").trim());
    }
    out
}

fn check(path: &Path, committed: &str, generated: &str) {
    assert!(
        committed == generated,
        "{} is not what is generated from src/: regenerate it with \
         `FW6_BLESS=1 cargo test -p fw6-capi --test header` and commit it",
        path.display()
    );
}

#[test]
fn the_committed_header_is_what_cbindgen_writes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = generated_header(dir);
    let path = dir.join("include/fw6.h");
    if bless() {
        std::fs::write(&path, &generated).expect("write include/fw6.h");
    }
    check(
        &path,
        &std::fs::read_to_string(&path).unwrap_or_default(),
        &generated,
    );
}

#[test]
fn the_reference_in_docs_is_the_headers_doc_comments() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = generated_header(dir);
    let path = dir.join("../../docs/c-api.md");
    let doc = std::fs::read_to_string(&path).expect("docs/c-api.md");
    let (manual, _) = doc
        .split_once(MARKER)
        .unwrap_or_else(|| panic!("docs/c-api.md has no line {MARKER}"));
    let expected = format!("{manual}{MARKER}\n{}", reference(&header));
    if bless() {
        std::fs::write(&path, &expected).expect("write docs/c-api.md");
    }
    check(
        &path,
        &std::fs::read_to_string(&path).unwrap_or_default(),
        &expected,
    );
}
