//! The file, a line at a time.

use std::io::{self, BufRead};

/// What one read gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    /// A line (in the buffer, without its `\n`).
    Line,
    /// A line longer than the limit: it was read to its end and dropped.
    TooLong,
    /// The end of the input.
    End,
}

/// Reads the next line into `buf` (cleared first), without its `\n`. A line of more than `max`
/// bytes is read on to its end through the reader's own buffer and dropped, so `buf` never holds
/// more than `max` bytes, however long the line: a 200 MB line once took 218 MB of memory when
/// the import read it whole before measuring it.
pub(super) fn next_line(
    input: &mut impl BufRead,
    max: usize,
    buf: &mut Vec<u8>,
) -> io::Result<Read> {
    buf.clear();
    // Room for the longest line up front, so appending never grows the buffer past it.
    buf.reserve_exact(max);
    let mut started = false;
    let mut too_long = false;
    loop {
        let available = match input.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            // The end of the input; a last line without its newline still counts.
            return Ok(match (started, too_long) {
                (false, _) => Read::End,
                (true, true) => Read::TooLong,
                (true, false) => Read::Line,
            });
        }
        started = true;
        let newline = available.iter().position(|b| *b == b'\n');
        let part = &available[..newline.unwrap_or(available.len())];
        if !too_long {
            if buf.len() + part.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        let used = newline.map_or(available.len(), |i| i + 1);
        input.consume(used);
        if newline.is_some() {
            return Ok(if too_long { Read::TooLong } else { Read::Line });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 200 MB line took 218 MB of memory when the import read it whole before measuring it:
    /// the reader holds at most the limit, however long the line, and goes on after it.
    #[test]
    fn a_line_over_the_limit_is_never_held_whole() {
        let max = 1024;
        let mut file = vec![b'x'; 10 * max];
        file.push(b'\n');
        file.extend_from_slice(b"next\r\n");
        file.extend_from_slice(&vec![b'y'; max]);
        file.push(b'\n');
        file.extend_from_slice(&vec![b'z'; 3 * max + 1]);
        let mut input = io::BufReader::with_capacity(64, &file[..]);
        let mut buf = Vec::new();
        let mut reads = Vec::new();
        let mut most = 0;
        loop {
            let read = next_line(&mut input, max, &mut buf).unwrap();
            most = most.max(buf.capacity());
            if read == Read::End {
                break;
            }
            reads.push((
                read,
                if read == Read::Line {
                    buf.clone()
                } else {
                    Vec::new()
                },
            ));
        }
        assert_eq!(
            reads,
            [
                (Read::TooLong, Vec::new()),
                (Read::Line, b"next\r".to_vec()),
                (Read::Line, vec![b'y'; max]),
                (Read::TooLong, Vec::new()),
            ]
        );
        assert!(
            most <= max,
            "the buffer grew to {most} bytes for a limit of {max}"
        );
    }

    #[test]
    fn an_empty_input_and_a_last_line_without_newline() {
        let mut buf = Vec::new();
        assert_eq!(next_line(&mut &b""[..], 8, &mut buf).unwrap(), Read::End);
        let mut input = &b"a\n\nb"[..];
        let mut lines = Vec::new();
        while next_line(&mut input, 8, &mut buf).unwrap() == Read::Line {
            lines.push(String::from_utf8(buf.clone()).unwrap());
        }
        assert_eq!(lines, ["a", "", "b"]);
    }
}
