//! `fw6 import FILE`: diff the file against the daemon's state, show the changes, confirm, and
//! apply them as one atomic `Apply`.
//!
//! Confirmation: with `--yes` none is asked; otherwise a terminal is needed on stdin to answer.
//! Without one (a script, a pipe, `import -`) the import is refused with exit code 2, so an
//! unattended run never changes the firewall without an explicit `--yes`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use fw6::file::{describe, diff, fetch_export, parse_export};
use fw6::{Error, ErrorKind};
use serde_json::json;

use super::exit::Failure;
use super::output::Out;
use super::session::{Session, read_input};

/// Runs the import.
/// With `within`, the change is applied at once and reverted unless confirmed in time
/// (cli/confirm.rs) instead of being asked about before.
pub async fn import(
    session: &Session,
    file: &Path,
    yes: bool,
    within: Option<u32>,
    out: Out,
) -> Result<(), Failure> {
    let text = read_input(file)?;
    let target = parse_export(&text).map_err(|e| Error::from(e).context(file.display()))?;
    let manager = session.manager().await?;
    let current = fetch_export(manager).await?;
    let mutations = diff(&current, &target);
    let lines: Vec<String> = mutations.iter().map(describe).collect();
    if mutations.is_empty() {
        out.emit(&json!({ "changes": 0, "diff": lines }), || {
            "nothing to change: the configuration already matches".to_owned()
        });
        return Ok(());
    }
    if let Some(within) = within {
        let stdin = file == Path::new("-");
        return super::confirm::apply(session, &mutations, within, &lines, stdin, out).await;
    }
    if !yes {
        confirm(file, &lines, out)?;
    }
    let n = manager.apply(&mutations).await?;
    out.emit(&json!({ "changes": n, "diff": lines }), || {
        // `emit` only calls this without --json.
        format!(
            "{}imported atomically: {n} effective change(s)",
            shown(&lines, yes)
        )
    });
    Ok(())
}

/// The diff for the final report: already printed when confirmation was asked.
fn shown(lines: &[String], yes: bool) -> String {
    if yes {
        lines.iter().flat_map(|l| [l.as_str(), "\n"]).collect()
    } else {
        String::new()
    }
}

/// Shows the diff on stderr and asks on the terminal; refuses when nobody can answer.
fn confirm(file: &Path, lines: &[String], out: Out) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if file == Path::new("-") || !stdin.is_terminal() {
        let mut msg = format!(
            "import would make {} change(s); refusing without confirmation because standard \
             input is not a terminal: review them and re-run with --yes",
            lines.len()
        );
        if !out.json {
            for l in lines {
                msg.push_str("\n  ");
                msg.push_str(l);
            }
        }
        return Err(Failure::Usage(msg));
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "fw6 import {} will make these changes:",
        file.display()
    );
    for l in lines {
        let _ = writeln!(err, "  {l}");
    }
    let _ = write!(err, "Apply them atomically? [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).map_err(|e| {
        Error::new(
            ErrorKind::Aborted,
            format!("no answer ({e}); nothing changed"),
        )
    })?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::Aborted, "import declined; nothing changed").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_without_a_terminal_or_yes() {
        // Test runs have no terminal on stdin; `-` is refused in any case.
        let lines = vec!["+ global open 22/tcp \"ssh\"".to_owned()];
        let f = confirm(Path::new("-"), &lines, Out { json: false }).unwrap_err();
        assert_eq!(f.code(), 2);
        assert!(f.human().contains("--yes"), "{}", f.human());
        assert!(f.human().contains("22/tcp"), "{}", f.human());
    }
}
