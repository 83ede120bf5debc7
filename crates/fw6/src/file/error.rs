//! Errors of the file formats, with the line they are about.

use std::fmt;
use std::ops::Range;

use fw6_model::ErrorKind;

/// A file that cannot be used: what is wrong, and on which line (1-based) when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileError {
    line: Option<usize>,
    message: String,
}

impl FileError {
    /// An error about the text at byte range `span` of `source`.
    pub(crate) fn at(source: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        Self {
            line: span.map(|s| line_of(source, s.start)),
            message: message.into(),
        }
    }

    /// The same error with `prefix: ` in front of the message (e.g. the item number).
    #[must_use]
    pub(crate) fn prefixed(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// The 1-based line the error is about, if known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// What is wrong, without the line.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A TOML syntax or shape error from the `toml` crate, with its span turned into a line.
    pub(crate) fn toml(source: &str, err: &toml::de::Error) -> Self {
        Self::at(source, err.span(), err.message().trim_end())
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl From<FileError> for crate::Error {
    fn from(err: FileError) -> Self {
        crate::Error::new(ErrorKind::InvalidArg, err.to_string())
    }
}

/// The 1-based line that byte `offset` of `source` is on.
fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .fold(1, |n, &b| n + usize::from(b == b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let src = "a\nbb\nccc";
        assert_eq!(line_of(src, 0), 1);
        assert_eq!(line_of(src, 2), 2);
        assert_eq!(line_of(src, 5), 3);
        assert_eq!(line_of(src, 999), 3);
        let err = FileError::at(src, Some(5..6), "bad");
        assert_eq!(err.to_string(), "line 3: bad");
        assert_eq!(FileError::at(src, None, "bad").to_string(), "bad");
        let err = crate::Error::from(err);
        assert_eq!(err.kind(), ErrorKind::InvalidArg);
        assert_eq!(err.message(), "line 3: bad");
    }
}
