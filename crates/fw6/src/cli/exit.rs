//! Exit codes and error reports. One code per error class, so scripts can tell "you typed it
//! wrong" from "you may not" from "the daemon is down" without parsing text (docs/cli.md).

use std::process::ExitCode;

use fw6::{Error, ErrorKind};
use serde_json::json;

/// Success.
pub const OK: u8 = 0;
/// Any other failure (e.g. `NotImpl`, output could not be written).
pub const OTHER: u8 = 1;
/// The command line is wrong (clap), or a confirmation is needed and cannot be asked.
pub const USAGE: u8 = 2;

/// The exit code of an error class.
pub fn code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidArg => 3,
        ErrorKind::AccessDenied => 4,
        ErrorKind::Aborted => 5,
        ErrorKind::Fail => 6,
        ErrorKind::Unexpected => 7,
        ErrorKind::NotImpl => OTHER,
    }
}

/// A failed command: an API error, or a usage problem found after parsing.
#[derive(Debug)]
pub enum Failure {
    /// An error of the API (or of local validation, classed the same way).
    Api(Error),
    /// The invocation cannot work as given (exit 2).
    Usage(String),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Self::Api(err)
    }
}

impl From<fw6::file::FileError> for Failure {
    fn from(err: fw6::file::FileError) -> Self {
        Self::Api(err.into())
    }
}

impl From<fw6::ModelError> for Failure {
    fn from(err: fw6::ModelError) -> Self {
        Self::Api(err.into())
    }
}

impl Failure {
    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self {
            Self::Api(e) => code(e.kind()),
            Self::Usage(_) => USAGE,
        }
    }

    /// The JSON report: `{"error": {"class", "hresult", "message"}}`. Usage problems have class
    /// `Usage` and the `E_INVALIDARG` HRESULT.
    pub fn json(&self) -> serde_json::Value {
        let (class, hresult, message) = match self {
            Self::Api(e) => (
                e.kind().name(),
                e.hresult().to_string(),
                e.message().to_owned(),
            ),
            Self::Usage(m) => (
                "Usage",
                ErrorKind::InvalidArg.hresult().to_string(),
                m.clone(),
            ),
        };
        json!({"error": {"class": class, "hresult": hresult, "message": message}})
    }

    /// The human report, one line for stderr.
    pub fn human(&self) -> String {
        match self {
            Self::Api(e) => format!("fw6: {e}"),
            Self::Usage(m) => format!("fw6: {m}"),
        }
    }

    /// Prints the report (JSON on stdout with `--json`, text on stderr otherwise) and returns
    /// the exit code.
    pub fn report(&self, json: bool) -> ExitCode {
        if json {
            println!("{}", self.json());
        } else {
            eprintln!("{}", self.human());
        }
        ExitCode::from(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_documented_code() {
        let table: Vec<(ErrorKind, u8)> = ErrorKind::ALL.iter().map(|k| (*k, code(*k))).collect();
        assert_eq!(
            table,
            [
                (ErrorKind::InvalidArg, 3),
                (ErrorKind::AccessDenied, 4),
                (ErrorKind::Aborted, 5),
                (ErrorKind::Fail, 6),
                (ErrorKind::Unexpected, 7),
                (ErrorKind::NotImpl, 1),
            ]
        );
        assert_eq!((OK, OTHER, USAGE), (0, 1, 2));
    }

    #[test]
    fn json_errors_have_the_documented_shape() {
        let f = Failure::from(Error::new(
            ErrorKind::InvalidArg,
            "port 0 is out of range: use 1-65535",
        ));
        assert_eq!(
            f.json().to_string(),
            r#"{"error":{"class":"InvalidArg","hresult":"0x80070057","message":"port 0 is out of range: use 1-65535"}}"#
        );
        assert_eq!(f.code(), 3);
        let f = Failure::Usage("pass --yes".into());
        assert_eq!(f.json()["error"]["class"], "Usage");
        assert_eq!(f.code(), 2);
        let f = Failure::from("0/tcp".parse::<fw6::PortKey>().unwrap_err());
        assert_eq!(f.code(), 3);
        assert_eq!(
            f.human(),
            "fw6: port 0 is out of range: use 1-65535 (InvalidArg, 0x80070057)"
        );
    }
}
