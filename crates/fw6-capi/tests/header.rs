//! `include/fw6.h` is exactly what cbindgen generates from the source: a change to the C API
//! that is not in the committed header fails here.

use std::path::Path;

#[test]
fn the_committed_header_is_what_cbindgen_writes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");
    let path = dir.join("include/fw6.h");
    if std::env::var_os("FW6_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/fw6.h");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not what cbindgen writes from src/: regenerate it with \
         `FW6_BLESS=1 cargo test -p fw6-capi --test header` and commit it",
        path.display()
    );
}
