//! Input, output, tables, durations and progress: the plumbing every command shares.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::error::{CliError, CliResult, code};

/// Reads a file, or standard input for `None` or `-`.
pub(crate) fn read_input(path: Option<&Path>) -> CliResult<Vec<u8>> {
    match path {
        Some(p) if p != Path::new("-") => std::fs::read(p).map_err(|e| CliError::input_file(p, &e)),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|e| CliError::new(code::INPUT, format!("cannot read stdin: {e}")))?;
            Ok(buf)
        }
    }
}

/// A name for an input in messages.
pub(crate) fn input_name(path: Option<&Path>) -> String {
    match path {
        Some(p) if p != Path::new("-") => format!("`{}`", p.display()),
        _ => "stdin".to_string(),
    }
}

/// Writes to a file, or standard output for `None` or `-`.
pub(crate) fn write_output(path: Option<&PathBuf>, bytes: &[u8]) -> CliResult {
    match path {
        Some(p) if p.as_path() != Path::new("-") => std::fs::write(p, bytes).map_err(|e| {
            CliError::new(
                code::FAILURE,
                format!("cannot write `{}`: {e}", p.display()),
            )
        }),
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}

/// Parses JSON input, naming the input and the place of the error.
pub(crate) fn parse_json(bytes: &[u8], what: &str) -> CliResult<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| CliError::new(code::INPUT, format!("{what} is not valid JSON: {e}")))
}

/// Prints a line on standard output.
pub(crate) fn println(text: impl std::fmt::Display) -> CliResult {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    Ok(())
}

/// Prints a JSON value, pretty, on standard output.
pub(crate) fn print_json(value: &Value) -> CliResult {
    println(serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()))
}

/// A plain-text table: a header row, then rows, columns padded to fit.
pub(crate) struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; columns named in `right` align right.
    pub(crate) fn new(headers: &[&'static str], right: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            right: headers.iter().map(|h| right.contains(h)).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, no trailing spaces.
    pub(crate) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Parses a time to live: a whole number with a unit, `ms`, `s`, `m`, `h` or `d`
/// (`30s`, `15m`, `2h`); a bare number is seconds.
pub(crate) fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad =
        || format!("bad TTL `{text}`: use a whole number and a unit: 500ms, 30s, 15m, 2h, 1d");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let millis = match unit {
        "ms" => n,
        "" | "s" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        "d" => n.saturating_mul(86_400_000),
        _ => return Err(bad()),
    };
    if millis == 0 {
        return Err(format!("bad TTL `{text}`: it must be more than zero"));
    }
    Ok(Duration::from_millis(millis))
}

/// A duration for people: `1h 2m`, `45s`, `800ms`.
pub(crate) fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (days, hours, mins, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (mins, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    parts.join(" ")
}

/// A progress indicator on standard error: a bar on a terminal, otherwise a plain
/// `LABEL: N/TOTAL` line at every tenth of the work (so logs and tests can follow it).
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    label: &'static str,
    total: u64,
    done: u64,
    step: u64,
    quiet: bool,
}

impl Progress {
    /// Progress over `total` steps; `quiet` draws nothing (for `--json`).
    pub(crate) fn new(label: &'static str, total: u64, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(label);
            bar
        });
        Self {
            bar,
            label,
            total,
            done: 0,
            step: (total / 10).max(1),
            quiet,
        }
    }

    /// Shows what is being worked on (the bar only).
    pub(crate) fn message(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.to_string());
        }
    }

    /// One step done.
    pub(crate) fn inc(&mut self) {
        self.done += 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None if !self.quiet
                && (self.done.is_multiple_of(self.step) || self.done == self.total) =>
            {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "{}: {}/{}",
                    self.label,
                    self.done,
                    self.total
                );
            }
            None => {}
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_parse() {
        assert_eq!(parse_ttl("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_ttl("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_ttl("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("soon").is_err());
        assert!(parse_ttl("5 weeks").is_err());
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["name", "bytes"], &["bytes"]);
        t.row(vec!["json".into(), "1200".into()]);
        t.row(vec!["msgpack+zstd".into(), "80".into()]);
        assert_eq!(
            t.render(),
            "name          bytes\njson           1200\nmsgpack+zstd     80\n"
        );
    }
}
