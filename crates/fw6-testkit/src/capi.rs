//! libfw6 as a C developer gets it: installed under a prefix by `scripts/capi-install.sh` (the
//! header, the shared library, `fw6.pc`), and programs compiled with `cc` and `pkg-config fw6`.
//! For the C tests and the clients benchmark.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Lab;

/// libfw6 installed under a temporary prefix, removed on drop.
#[derive(Debug)]
pub struct CLibrary {
    prefix: PathBuf,
}

/// How [`CLibrary::compile`] builds a program.
#[derive(Debug, Clone, Copy, Default)]
pub struct Compile {
    /// `-O2`, for figures.
    pub optimize: bool,
    /// Link libfw6 statically (`pkg-config --static`, libfw6.a).
    pub statically: bool,
}

impl CLibrary {
    /// Installs the library built in `built` (its `libfw6_capi.so`, and `.a` if `statically`).
    pub fn install(lab: &Lab, built: &Path, statically: bool) -> Result<Self, String> {
        let library = Self {
            prefix: crate::temp_path("capi"),
        };
        lab.run_checked(
            "scripts/capi-install.sh",
            Command::new("bash")
                .arg(repo().join("scripts/capi-install.sh"))
                .arg(&library.prefix)
                .arg(built)
                .args(statically.then_some("--static")),
        )?;
        Ok(library)
    }

    /// The install prefix.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// Where `libfw6.so.0` is, for `LD_LIBRARY_PATH`.
    pub fn lib_dir(&self) -> PathBuf {
        self.prefix.join("lib")
    }

    /// `cc SOURCE $(pkg-config --cflags --libs fw6)` into the prefix; the binary's path.
    pub fn compile(&self, lab: &Lab, source: &Path, how: Compile) -> Result<PathBuf, String> {
        let stem = source.file_stem().unwrap_or_default().to_string_lossy();
        let out = self.prefix.join(format!(
            "{stem}{}",
            if how.statically { "-static" } else { "" }
        ));
        let (pc_flags, link) = if how.statically {
            (
                "--static --cflags --libs",
                "-Wl,-Bstatic -lfw6 -Wl,-Bdynamic",
            )
        } else {
            ("--cflags --libs", "")
        };
        let optimize = if how.optimize { "-O2" } else { "" };
        let script = format!(
            "cc -std=c11 {optimize} -Wall -Wextra -Werror -pthread \"$1\" -o \"$2\" \
             $(pkg-config {pc_flags} fw6) {link}"
        );
        lab.run_checked(
            &format!("compiling {}", source.display()),
            Command::new("sh")
                .args(["-c", &script, "cc"])
                .arg(source)
                .arg(&out)
                .env("PKG_CONFIG_PATH", self.prefix.join("lib/pkgconfig")),
        )?;
        Ok(out)
    }
}

impl Drop for CLibrary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}

/// The checkout's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
