//! `--confirm DURATION` of `fw6 batch` and `fw6 import`, and `fw6 confirm` / `fw6 revert`
//! (docs/cli.md, "Confirm or revert").
//!
//! The change is applied at once (`ApplyConfirmable`), the diff printed, and the user asked to
//! type `yes` before the deadline; `yes` confirms it, anything else reverts it at once, and no
//! answer (the SSH session died, the terminal hung up) leaves it to fw6d, which reverts it at
//! the deadline. With `--json` nothing is asked: the token and deadline are printed for a script
//! to `fw6 confirm TOKEN` once it has checked that it can still reach the host.

use std::io::{BufRead as _, Write as _};
use std::time::{Duration, SystemTime};

use fw6::{Error, ErrorKind, Mutation, PendingChange};
use serde_json::json;

use super::exit::Failure;
use super::output::Out;
use super::session::Session;

/// How long to wait, after the deadline, to see fw6d's revert in `Status`.
const SEE_REVERT: Duration = Duration::from_secs(10);

/// `--confirm 60s` (`2m`, `1h`): whole seconds; the daemon checks the range (1-3600).
pub fn window(text: &str) -> Result<u32, Failure> {
    let bad = |why: String| {
        Failure::Api(Error::new(
            ErrorKind::InvalidArg,
            format!(
                "--confirm {text:?}: {why}; give a duration such as 60s, 2m or 1h (at most 1h)"
            ),
        ))
    };
    let d = humantime::parse_duration(text).map_err(|e| bad(e.to_string()))?;
    if d.subsec_nanos() != 0 {
        return Err(bad("give whole seconds".into()));
    }
    u32::try_from(d.as_secs()).map_err(|_| bad("too long".into()))
}

/// Applies `mutations` to be confirmed within `within` seconds, shows `lines` (what changes),
/// then asks (unless `--json`). `stdin_taken`: standard input held the file, so nobody can
/// answer on it.
pub async fn apply(
    session: &Session,
    mutations: &[Mutation],
    within: u32,
    lines: &[String],
    stdin_taken: bool,
    out: Out,
) -> Result<(), Failure> {
    if stdin_taken && !out.json {
        return Err(Failure::Usage(
            "standard input holds the file, so the confirmation cannot be read from it: use a \
             file, or --json and then `fw6 confirm TOKEN`"
                .into(),
        ));
    }
    let manager = session.manager().await?;
    let (changes, pending) = manager.apply_confirmable(mutations, within).await?;
    let Some(pending) = pending else {
        out.emit(&json!({ "changes": 0, "diff": lines }), || {
            "nothing to change: nothing to confirm".to_owned()
        });
        return Ok(());
    };
    if out.json {
        out.emit(
            &json!({ "changes": changes, "diff": lines, "pending": pending }),
            String::new,
        );
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "applied {changes} change(s):");
    for l in lines {
        let _ = writeln!(err, "  {l}");
    }
    let _ = write!(
        err,
        "Type yes within {} s to keep them (anything else reverts them now; without an answer \
         fw6d reverts them at {}): ",
        pending.remaining().as_secs(),
        humantime::format_rfc3339_seconds(pending.deadline)
    );
    let _ = err.flush();
    drop(err);
    match answer(pending.remaining()).await {
        Answer::Line(text) if text.trim().eq_ignore_ascii_case("yes") => {
            manager.confirm(&pending.token).await.map_err(|e| {
                e.context(
                    "the confirmation came too late or was refused, so the change was or \
                           will be reverted",
                )
            })?;
            println!("confirmed: the {changes} change(s) are kept");
            Ok(())
        }
        Answer::Line(_) | Answer::End => {
            manager.revert(&pending.token).await?;
            Err(not_kept(
                "not confirmed: the change was reverted, the configuration before it \
                          is back",
            ))
        }
        Answer::Timeout => {
            wait_for_revert(session, &pending).await;
            Err(not_kept(&format!(
                "no answer within {within} s: fw6d reverted the change, the configuration \
                 before it is back"
            )))
        }
    }
}

fn not_kept(message: &str) -> Failure {
    Failure::Api(Error::new(ErrorKind::Aborted, message))
}

/// What the user typed.
enum Answer {
    Line(String),
    End,
    Timeout,
}

/// One line of standard input, or end of input, or nothing within `limit`. Read on a thread of
/// its own that is never joined: a read that never returns must not keep fw6 from exiting (a
/// runtime's blocking task would).
async fn answer(limit: Duration) -> Answer {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("fw6-answer".into())
        .spawn(move || {
            let mut line = String::new();
            let answer = match std::io::stdin().lock().read_line(&mut line) {
                Ok(0) | Err(_) => Answer::End,
                Ok(_) => Answer::Line(line),
            };
            let _ = tx.send(answer);
        });
    if spawned.is_err() {
        return Answer::End;
    }
    match tokio::time::timeout(limit, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Answer::End,
        Err(_) => Answer::Timeout,
    }
}

/// Waits (bounded) until `Status` no longer shows `pending`: fw6d's timer has run.
async fn wait_for_revert(session: &Session, pending: &PendingChange) {
    let until = SystemTime::now() + SEE_REVERT;
    while SystemTime::now() < until {
        let Ok(manager) = session.manager().await else {
            return;
        };
        match manager.status().await {
            Ok(s) if s.pending.as_ref().is_none_or(|p| p.token != pending.token) => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(_) => return,
        }
    }
}

/// `fw6 confirm TOKEN` / `fw6 revert TOKEN`.
pub async fn end(session: &Session, token: &str, keep: bool, out: Out) -> Result<(), Failure> {
    let manager = session.manager().await?;
    if keep {
        manager.confirm(token).await?;
        out.emit(&json!({ "confirmed": token }), || {
            format!("confirmed: the change {token} is kept")
        });
    } else {
        manager.revert(token).await?;
        out.emit(&json!({ "reverted": token }), || {
            format!("reverted: the change {token} was taken back")
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn windows_are_whole_seconds() {
        assert_eq!(window("60s").unwrap(), 60);
        assert_eq!(window("2m").unwrap(), 120);
        assert_eq!(window("0s").unwrap(), 0, "the daemon refuses 0, naming it");
        assert!(window("1.5s").is_err());
        assert!(window("soon").is_err());
    }
}
