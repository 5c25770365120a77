//! A surgical edit of an INI text: set some keys of one section and keep every other byte.
//!
//! The AWS shared credentials file is read by botocore's `configparser`, so this reads it the
//! same way: `[section]` headers, `key = value` or `key: value` lines, `#` and `;` comments,
//! blank lines, and indented lines that continue the previous value. Anything else makes the
//! text unreadable, and an unreadable text is not edited at all. The result holds secrets, so
//! it is built in a zeroizing buffer that is reserved once and never grows.

use zeroize::Zeroizing;

/// Why the text was not edited.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum IniError {
    /// The 1-based line is not INI.
    Malformed { line: usize },
    /// The section's header appears on both 1-based lines.
    DuplicateSection { first: usize, second: usize },
}

/// Where the section is and which of its lines hold the keys being set.
struct Scan {
    header: Option<usize>,
    replaced: Vec<bool>,
}

fn scan(lines: &[&str], section: &str, keys: &[&str]) -> Result<Scan, IniError> {
    let mut header: Option<usize> = None;
    let mut current: Option<&str> = None;
    // Whether the last key line was replaced; `None` before the first key of a section.
    let mut last_key_replaced: Option<bool> = None;
    let mut replaced = vec![false; lines.len()];
    for (index, line) in lines.iter().enumerate() {
        let text = line.trim_end_matches(['\n', '\r']);
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if text.starts_with([' ', '\t']) {
            let malformed = IniError::Malformed { line: index + 1 };
            replaced[index] = last_key_replaced.ok_or(malformed)?;
            continue;
        }
        if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            if name == section {
                if let Some(first) = header {
                    return Err(IniError::DuplicateSection {
                        first: first + 1,
                        second: index + 1,
                    });
                }
                header = Some(index);
            }
            (current, last_key_replaced) = (Some(name), None);
            continue;
        }
        match trimmed.find(['=', ':']) {
            Some(at) if at > 0 && current.is_some() => {
                let key = trimmed[..at].trim().to_ascii_lowercase();
                replaced[index] = current == Some(section) && keys.contains(&key.as_str());
                last_key_replaced = Some(replaced[index]);
            }
            _ => return Err(IniError::Malformed { line: index + 1 }),
        }
    }
    Ok(Scan { header, replaced })
}

/// Returns `old` with `keys` of `[section]` set to `values`: in place of the first old key line,
/// or right under the header, or in a new section at the end. Key names are matched without
/// regard to case; new lines use the text's line ending.
pub(super) fn set_keys(
    old: &str,
    section: &str,
    keys: &[&str],
    values: &[&str],
) -> Result<Zeroizing<String>, IniError> {
    let lines: Vec<&str> = old.split_inclusive('\n').collect();
    let Scan { header, replaced } = scan(&lines, section, keys)?;
    let crlf = lines.first().is_some_and(|line| line.ends_with("\r\n"));
    let eol = if crlf { "\r\n" } else { "\n" };

    let pairs = keys.iter().zip(values);
    let capacity =
        old.len() + section.len() + pairs.map(|(k, v)| k.len() + v.len() + 5).sum::<usize>();
    let mut out = Zeroizing::new(String::with_capacity(capacity + 12));
    let reserved = out.capacity();
    let push_keys = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(eol);
        }
        for (key, value) in keys.iter().zip(values) {
            for piece in [key, " = ", value, eol] {
                out.push_str(piece);
            }
        }
    };
    match header {
        Some(header) => {
            let insert_at = replaced.iter().position(|&r| r).unwrap_or(header + 1);
            for (index, line) in lines.iter().enumerate() {
                if index == insert_at {
                    push_keys(&mut out);
                }
                if !replaced[index] {
                    out.push_str(line);
                }
            }
            if insert_at == lines.len() {
                push_keys(&mut out);
            }
        }
        None => {
            out.push_str(old);
            if lines.last().is_some_and(|line| !line.trim().is_empty()) {
                // End the last line if needed, then leave a blank line before the new section.
                if !old.ends_with('\n') {
                    out.push_str(eol);
                }
                out.push_str(eol);
            }
            for piece in ["[", section, "]", eol] {
                out.push_str(piece);
            }
            push_keys(&mut out);
        }
    }
    debug_assert_eq!(
        out.capacity(),
        reserved,
        "the buffer must not have been reallocated"
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 2] = ["aws_access_key_id", "aws_session_token"];
    const NEW: &str = "aws_access_key_id = ASIANEW\naws_session_token = newtoken\n";

    fn set(old: &str) -> Result<String, IniError> {
        set_keys(old, "grant", &KEYS, &["ASIANEW", "newtoken"]).map(|out| out.to_string())
    }

    #[test]
    fn replaces_the_keys_and_keeps_every_other_byte() {
        let old = "# my keys ; keep\n[default]\naws_access_key_id = AKIAOLD\n\n[grant]\n\
            region = eu-west-1\nAWS_ACCESS_KEY_ID=ASIAOLD\nmfa: x\naws_session_token: old\n  \
            continued old\n\n  \nother = 1\n[other]\naws_session_token = keep";
        let expected = format!(
            "# my keys ; keep\n[default]\naws_access_key_id = AKIAOLD\n\n[grant]\n\
            region = eu-west-1\n{NEW}mfa: x\n\n  \nother = 1\n[other]\naws_session_token = keep"
        );
        assert_eq!(set(old), Ok(expected));
    }

    #[test]
    fn adds_keys_under_a_header_that_has_none() {
        assert_eq!(
            set("[grant]\nregion = x\n"),
            Ok(format!("[grant]\n{NEW}region = x\n"))
        );
        assert_eq!(set("# c\n[grant]"), Ok(format!("# c\n[grant]\n{NEW}")));
    }

    #[test]
    fn appends_a_missing_section_after_a_blank_line() {
        assert_eq!(set(""), Ok(format!("[grant]\n{NEW}")));
        assert_eq!(
            set("[a]\nx = 1\n"),
            Ok(format!("[a]\nx = 1\n\n[grant]\n{NEW}"))
        );
        assert_eq!(
            set("[a]\nx = 1"),
            Ok(format!("[a]\nx = 1\n\n[grant]\n{NEW}"))
        );
        assert_eq!(set("[a]\n\n"), Ok(format!("[a]\n\n[grant]\n{NEW}")));
        let crlf = "[a]\r\nx = 1\r\n";
        let expected = format!("{crlf}\r\n[grant]\r\n{}", NEW.replace('\n', "\r\n"));
        assert_eq!(set(crlf), Ok(expected));
    }

    #[test]
    fn refuses_text_that_is_not_ini() {
        let cases = [
            ("[default]\nthis is not ini\n", 2),
            ("aws_access_key_id = before any section\n", 1),
            ("  indented first\n[grant]\n", 1),
            ("[grant]\n  indented before a key\n", 2),
            ("[default]\n= no key\n", 2),
            ("[unclosed\n", 1),
        ];
        for (old, line) in cases {
            assert_eq!(set(old), Err(IniError::Malformed { line }), "{old:?}");
        }
        let twice = "[grant]\nx = 1\n[default]\n[grant]\n";
        assert_eq!(
            set(twice),
            Err(IniError::DuplicateSection {
                first: 1,
                second: 4
            })
        );
    }
}
