//! Gives the shared library its soname, `libfw6.so.<major>`, so programs linked against
//! `libfw6.so` keep working across compatible upgrades (docs/c-api.md). The major is 0 while
//! the workspace version is 0.x.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libfw6.so.{major}");
}
