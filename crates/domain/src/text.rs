//! Free text people write (captions, comments, names, bios): what is refused and what is removed
//! before it is stored, so nothing stored can break a database or deceive a reader.

/// Characters that reorder text around them (bidi embeddings, overrides, isolates and marks):
/// they make a name or caption read differently from what it is (`evil\u{202E}gpj.exe`).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Invisible characters with no job in written text (zero-width space, word joiner, byte-order
/// mark, Mongolian vowel separator, soft hyphen). Zero-width joiners and non-joiners stay: emoji
/// sequences and several scripts need them.
fn is_invisible_filler(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// Checks and cleans free text: control characters (NUL above all, which PostgreSQL refuses in
/// text) are refused, except newlines and tabs where `multiline`; bidi controls and invisible
/// fillers are removed; the result is trimmed and must be at most `max` characters.
pub fn clean_text(raw: &str, max: usize, multiline: bool) -> Result<String, String> {
    let allowed_control = |c: char| multiline && matches!(c, '\n' | '\t' | '\r');
    if raw.chars().any(|c| c.is_control() && !allowed_control(c)) {
        return Err("must not contain control characters".into());
    }
    let cleaned: String = raw
        .chars()
        .filter(|&c| !is_bidi_control(c) && !is_invisible_filler(c))
        .collect();
    let text = cleaned.trim();
    if text.chars().count() > max {
        return Err(format!("must be at most {max} characters long"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_other_controls_are_refused() {
        assert!(clean_text("a\u{0}b", 10, true).is_err());
        assert!(clean_text("a\u{1b}[31mred", 20, true).is_err());
        assert!(clean_text("two\nlines", 20, false).is_err());
        assert_eq!(clean_text("two\nlines", 20, true).unwrap(), "two\nlines");
    }

    #[test]
    fn bidi_controls_and_zero_width_fillers_are_removed_but_joiners_stay() {
        assert_eq!(
            clean_text("evil\u{202E}gpj.exe", 30, false).unwrap(),
            "evilgpj.exe"
        );
        assert_eq!(
            clean_text("\u{200B}\u{FEFF}ann\u{2066}a", 30, false).unwrap(),
            "anna"
        );
        let family = "👨\u{200D}👩\u{200D}👧";
        assert_eq!(clean_text(family, 30, false).unwrap(), family);
    }

    #[test]
    fn length_is_counted_after_cleaning() {
        let padded = format!("{}abc", "\u{200B}".repeat(100));
        assert_eq!(clean_text(&padded, 3, false).unwrap(), "abc");
        assert!(clean_text("abcd", 3, false).is_err());
    }
}
