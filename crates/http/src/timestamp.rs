//! Timestamps on the wire: RFC 3339, UTC, millisecond precision (`2026-11-23T10:00:00.123Z`).

use serde::Serializer;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

const FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

pub fn format(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_default()
}

pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*at))
}

pub fn serialize_option<S: Serializer>(
    at: &Option<OffsetDateTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(
            super::format(datetime!(2026-11-23 11:00:00.123456 +01:00)),
            "2026-11-23T10:00:00.123Z"
        );
    }
}
