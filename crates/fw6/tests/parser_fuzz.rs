//! Fuzzing the batch and import parsers on stable Rust (issue 8 §6). `cargo fuzz` needs a
//! nightly toolchain, which this project does not use, so the parsers are fuzzed with proptest:
//! random bytes, random TOML-ish token soup, and random edits (insert, delete, replace,
//! duplicate) of valid files. Every input must return Ok or a FileError — never panic — within a
//! time bound, and a parsed export must survive render → parse unchanged. The case count comes
//! from `FW6_PARSER_CASES` (default 20,000 per property; RELIABILITY.md has the long run).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use fw6::file::{parse_batch, parse_export, render_export};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const BATCH: &str = r#"[[op]]
member = "OpenPort"
connection = "lan0"
port = "8080/tcp"
name = "web"

[[op]]
member = "CloseGlobalPort"
port = "23/tcp"

[[op]]
member = "DisableFirewall"
connection = "dmz0"

[[op]]
member = "LogfileMaximumSize"
value = 4096
"#;

const EXPORT: &str = r#"[logging]
log_dropped_packets = false
log_connections = false
logfile_path = "/var/log/fw6/firewall.log"
logfile_maximum_size = 4096

[[global]]
port = "22/tcp"
name = "ssh"

[connection.lan0]
firewalled = true

[[connection.lan0.open]]
port = "8080/tcp"
name = "web"

[[connection.lan0.ignored]]
port = "22/tcp"
name = "no ssh on the LAN"

[connection."eth0.100"]
firewalled = false
"#;

/// Tokens that make the parsers work: TOML syntax, our keys, member names, edge values.
const TOKENS: &[&str] = &[
    "[[op]]",
    "[logging]",
    "[[global]]",
    "[connection.lan0]",
    "[[connection.lan0.open]]",
    "[[connection.x.ignored]]",
    "member",
    "connection",
    "port",
    "name",
    "value",
    "firewalled",
    " = ",
    "\"",
    "\n",
    "OpenPort",
    "ClosePort",
    "OpenGlobalPort",
    "IgnoreGlobalPort",
    "LogfilePath",
    "LogConnections",
    "\"0/tcp\"",
    "\"65535/udp\"",
    "\"65536/tcp\"",
    "\"80/icmp\"",
    "\"80\"",
    "\"/tcp\"",
    "true",
    "false",
    "4096",
    "0",
    "-1",
    "1e400",
    "18446744073709551616",
    "{",
    "}",
    "[",
    "]",
    ",",
    ".",
    "#",
    "'''",
    "\"\"\"",
    "\\u0000",
    "\u{7}",
    "é",
    "\u{202e}",
    "lan0",
    "a.b",
    "\"x\"",
    "=",
    "\t",
];

fn cases() -> u32 {
    std::env::var("FW6_PARSER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Parses `text` both ways; panics are the failures; each parse is timed.
fn parse_both(text: &str) {
    let start = Instant::now();
    let _ = parse_batch(text);
    if let Ok(export) = parse_export(text) {
        let rendered = render_export(&export);
        let again = parse_export(&rendered)
            .unwrap_or_else(|e| panic!("a rendered export does not parse: {e}\n{rendered}"));
        assert_eq!(again, export, "render → parse changed the export");
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "a {}-byte input took {:?}",
        text.len(),
        start.elapsed()
    );
}

/// A random edit of `base`: at a random char boundary insert, delete or replace a span.
fn edited(base: &'static str) -> impl Strategy<Value = String> {
    let edit = (
        0..base.len() + 1,
        0usize..40,
        prop::sample::select(TOKENS),
        0u8..4,
    );
    prop::collection::vec(edit, 1..6).prop_map(move |edits| {
        let mut s = base.to_owned();
        for (at, len, token, kind) in edits {
            let mut at = at.min(s.len());
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + len).min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            match kind {
                0 => s.insert_str(at, token),
                1 => s.replace_range(at..end, ""),
                2 => s.replace_range(at..end, token),
                _ => {
                    let span = s[at..end].to_owned();
                    s.insert_str(end, &span);
                }
            }
        }
        s
    })
}

#[test]
fn the_seeds_parse() {
    assert_eq!(parse_batch(BATCH).unwrap().len(), 4);
    parse_both(EXPORT);
    parse_export(EXPORT).unwrap();
}

#[test]
fn random_bytes_never_panic() {
    runner()
        .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
            parse_both(&String::from_utf8_lossy(&bytes));
            Ok(())
        })
        .unwrap();
    println!("FIGURE parser.random_bytes_cases = {}", cases());
}

#[test]
fn token_soup_never_panics() {
    runner()
        .run(
            &prop::collection::vec(prop::sample::select(TOKENS), 0..80),
            |tokens| {
                parse_both(&tokens.concat());
                Ok(())
            },
        )
        .unwrap();
    println!("FIGURE parser.token_soup_cases = {}", cases());
}

#[test]
fn edited_batch_files_never_panic() {
    runner()
        .run(&edited(BATCH), |text| {
            parse_both(&text);
            Ok(())
        })
        .unwrap();
    println!("FIGURE parser.edited_batch_cases = {}", cases());
}

#[test]
fn edited_export_files_never_panic_and_round_trip() {
    runner()
        .run(&edited(EXPORT), |text| {
            parse_both(&text);
            Ok(())
        })
        .unwrap();
    println!("FIGURE parser.edited_export_cases = {}", cases());
}

#[test]
fn huge_inputs_are_refused_or_parsed_in_bounded_time() {
    // 100,000 ops and a 1 MiB name: parsed (the daemon's limits apply when sent), quickly.
    let mut big = String::new();
    for i in 0..100_000u32 {
        let _ = writeln!(
            big,
            "[[op]]\nmember = \"OpenPort\"\nconnection = \"lan0\"\nport = \"{}/tcp\"",
            i % 65_535 + 1
        );
    }
    let start = Instant::now();
    assert_eq!(parse_batch(&big).unwrap().len(), 100_000);
    let name = "x".repeat(1 << 20);
    let err = parse_batch(&format!(
        "[[op]]\nmember = \"OpenPort\"\nconnection = \"lan0\"\nport = \"1/tcp\"\nname = \"{name}\"\n"
    ))
    .unwrap_err();
    assert!(err.to_string().contains("255"), "{err}");
    let deep = "[".repeat(100_000);
    let _ = parse_batch(&deep);
    let _ = parse_export(&deep);
    println!(
        "FIGURE parser.huge_inputs_seconds = {:.2}",
        start.elapsed().as_secs_f64()
    );
    assert!(start.elapsed() < Duration::from_secs(60));
}
