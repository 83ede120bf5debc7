//! `fw6 generate completions SHELL | man DIR`: packaging helpers, hidden from help. They need
//! no daemon, so packagers run them at build time.

use std::path::Path;

use clap::CommandFactory as _;

use super::args::{Cli, Generate};

/// Writes completions to stdout or man pages into a directory.
pub fn generate(what: &Generate) -> std::io::Result<()> {
    match what {
        Generate::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "fw6", &mut std::io::stdout());
            Ok(())
        }
        Generate::Man { dir } => man(dir),
    }
}

/// `fw6.1` and one page per visible subcommand (`fw6-port.1`, …).
fn man(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_cover_every_visible_subcommand() {
        let dir = std::env::temp_dir().join(format!("fw6-man-{}", std::process::id()));
        man(&dir).unwrap();
        for page in [
            "fw6.1",
            "fw6-port.1",
            "fw6-port-open.1",
            "fw6-global-ignore.1",
            "fw6-import.1",
        ] {
            let text = std::fs::read_to_string(dir.join(page)).unwrap();
            assert!(text.contains(".TH"), "{page}");
        }
        assert!(
            !dir.join("fw6-generate.1").exists(),
            "hidden subcommand has no page"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn completions_name_the_subcommands() {
        let mut buf = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "fw6",
            &mut buf,
        );
        let text = String::from_utf8(buf).unwrap();
        for word in [
            "connections",
            "firewall",
            "explain",
            "import",
            "show",
            "ssh/tcp",
            "domain/udp",
            "dhcpv6-client",
        ] {
            assert!(text.contains(word), "{word}");
        }
    }
}
