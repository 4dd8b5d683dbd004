//! Search's pure rules: how text is folded for matching, how a query is read, how many typos
//! a query tolerates and what counts as one, and distances on the globe.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longer queries are refused (422).
pub const MAX_QUERY_CHARS: usize = 200;
/// A place search reaches at most this far.
pub const MAX_RADIUS_KM: f64 = 100.0;
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Case and accents folded away: compatibility decomposition, combining marks dropped,
/// lowercased (`José` → `jose`, `Ｆｕｌｌ` → `full`).
fn fold_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
}

/// Text as search compares it: folded, every run of characters other than letters and digits
/// one space, with a space in front so that every word starts after one (`" jose garcia"`;
/// empty stays empty). A display name is stored so, and a query is read so.
pub fn fold_words(text: &str) -> String {
    let mut folded = String::with_capacity(text.len() + 1);
    for c in fold_chars(text) {
        if c.is_alphanumeric() {
            if folded.is_empty() {
                folded.push(' ');
            }
            folded.push(c);
        } else if !folded.ends_with(' ') && !folded.is_empty() {
            folded.push(' ');
        }
    }
    if folded.ends_with(' ') {
        folded.pop();
    }
    folded
}

/// A hashtag as it is stored for lookups and looked up: folded (`#Café` and `#cafe` are one).
pub fn fold_tag(tag: &str) -> String {
    fold_chars(tag).collect()
}

/// The handle a query names, if it can name one (handles are a-z, 0-9, `_` and `.`; a leading
/// `@` is dropped): folded, so `@Jöse` looks for `jose`.
pub fn handle_query(query: &str) -> Option<String> {
    let folded: String = fold_chars(query.trim().trim_start_matches('@')).collect();
    let valid = !folded.is_empty()
        && folded
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    valid.then_some(folded)
}

/// Typos a query of `chars` characters tolerates: none under 5, one under 9, two from 9.
pub fn typo_allowance(chars: usize) -> usize {
    match chars {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// The fewest typos (a character added, missing, replaced, or two swapped) that turn `query`
/// into the beginning of `word`: `jonsa` is one from `jonas` and from `jonasbrown`.
pub fn prefix_typos(query: &str, word: &str) -> usize {
    let q: Vec<char> = query.chars().collect();
    let w: Vec<char> = word.chars().collect();
    // Optimal string alignment distance between q and each prefix of w; rows by q.
    let mut before: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=w.len()).collect();
    for i in 1..=q.len() {
        let mut current = vec![i; w.len() + 1];
        for j in 1..=w.len() {
            let replace = previous[j - 1] + usize::from(q[i - 1] != w[j - 1]);
            let mut best = replace.min(previous[j] + 1).min(current[j - 1] + 1);
            if i > 1 && j > 1 && q[i - 1] == w[j - 2] && q[i - 2] == w[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous.into_iter().min().unwrap_or(0)
}

/// Whether `query` (folded) names `handle` or a word of `name` (both folded) within the typos
/// the query tolerates.
pub fn matches_with_typos(query: &str, handle: &str, name: &str) -> bool {
    let allowed = typo_allowance(query.chars().count());
    if allowed == 0 {
        return false;
    }
    let query = query.trim();
    if prefix_typos(query, handle) <= allowed {
        return true;
    }
    // A query of several words is compared with the name from each word on.
    let name = name.trim_start();
    name.char_indices()
        .filter(|(i, _)| *i == 0 || name[..*i].ends_with(' '))
        .any(|(i, _)| prefix_typos(query, &name[i..]) <= allowed)
}

/// The shortest beginnings of `sorted` words (ascending, no duplicates) that `query` is within
/// `allowed` typos of (`prefix_typos`): a word is within the query's typos exactly when it starts
/// with one of them. The words are walked as a trie, one row of typo counts per letter, and a
/// branch is left as soon as no longer word can come within the typos. At most `limit`, in word
/// order.
pub fn beginnings_within_typos(
    sorted: &[String],
    query: &str,
    allowed: usize,
    limit: usize,
) -> Vec<String> {
    let query: Vec<char> = query.chars().collect();
    let first: Vec<usize> = (0..=query.len()).collect();
    let mut walk = TrieWalk {
        sorted,
        query: &query,
        allowed,
        limit,
        found: Vec::new(),
    };
    walk.branch(0, sorted.len(), "", &first, &first);
    walk.found
}

struct TrieWalk<'a> {
    sorted: &'a [String],
    query: &'a [char],
    allowed: usize,
    limit: usize,
    found: Vec<String>,
}

impl TrieWalk<'_> {
    /// Words `lo..hi` all start with `prefix`, whose row is `row` (typos between each
    /// beginning of the query and `prefix`) and whose shorter prefix's row is `parent`.
    fn branch(&mut self, lo: usize, hi: usize, prefix: &str, row: &[usize], parent: &[usize]) {
        if self.found.len() >= self.limit {
            return;
        }
        if row[self.query.len()] <= self.allowed {
            self.found.push(prefix.to_owned());
            return;
        }
        let least = |r: &[usize]| r.iter().copied().min().unwrap_or(usize::MAX);
        // A letter more costs at least one more than the parent row (a swap) or adds to this one.
        if least(row) > self.allowed && least(parent) >= self.allowed {
            return;
        }
        let last = prefix.chars().next_back();
        let mut at = lo;
        while at < hi {
            let Some(letter) = self.sorted[at][prefix.len()..].chars().next() else {
                at += 1; // the word is `prefix` itself
                continue;
            };
            let end = at
                + self.sorted[at..hi].partition_point(|word| {
                    word[prefix.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c <= letter)
                });
            let next = self.next_row(row, parent, last, letter);
            let longer = format!("{prefix}{letter}");
            self.branch(at, end, &longer, &next, row);
            at = end;
        }
    }

    /// The row of `prefix` + `letter` (as in `prefix_typos`, with the roles of the two texts
    /// turned around).
    fn next_row(
        &self,
        row: &[usize],
        parent: &[usize],
        last: Option<char>,
        letter: char,
    ) -> Vec<usize> {
        let q = self.query;
        let mut next = vec![row[0] + 1; q.len() + 1];
        for i in 1..=q.len() {
            let replace = row[i - 1] + usize::from(q[i - 1] != letter);
            let mut best = replace.min(row[i] + 1).min(next[i - 1] + 1);
            if i > 1 && last == Some(q[i - 1]) && q[i - 2] == letter {
                best = best.min(parent[i - 2] + 1);
            }
            next[i] = best;
        }
        next
    }
}

/// The words an account is found by with typos (`name_words`, the dictionary typo-tolerant
/// search looks words up in): its handle, lowercased, and each word of its folded name.
pub fn name_words(handle: &str, search_name: &str) -> Vec<String> {
    let mut words = vec![handle.to_ascii_lowercase()];
    for word in search_name.split(' ').filter(|word| !word.is_empty()) {
        if !words.iter().any(|known| known == word) {
            words.push(word.to_owned());
        }
    }
    words
}

/// Name queries this long or longer match any word's beginning; shorter ones only the first
/// word's (an index of trigrams needs three characters to narrow anything down).
pub const WORD_PREFIX_MIN_CHARS: usize = 3;

/// Whether a folded name (`fold_words`) has `words` (`fold_words` of a query) at a word's
/// beginning, as the name-prefix match finds it.
pub fn name_has_prefix(search_name: &str, words: &str) -> bool {
    if words.trim_start().chars().count() < WORD_PREFIX_MIN_CHARS {
        search_name.starts_with(words)
    } else {
        search_name.contains(words)
    }
}

/// A post search as typed: `#tags` every result carries, and words its caption matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostQuery {
    /// Folded, deduplicated.
    pub tags: Vec<String>,
    /// Folded words (`fold_words`), space-separated with no leading space; empty for none.
    pub words: String,
}

/// A post search uses at most this many hashtags and this many words (the first ones): each is
/// one more index lookup joined to the others.
pub const MAX_QUERY_TERMS: usize = 8;

pub fn parse_post_query(query: &str) -> PostQuery {
    let mut tags: Vec<String> = Vec::new();
    let mut words = Vec::new();
    for token in query.split_whitespace() {
        match token.strip_prefix('#') {
            Some(tag) => {
                let tag = fold_tag(tag.trim_end_matches(|c: char| !c.is_alphanumeric()));
                if !tag.is_empty() && !tags.contains(&tag) && tags.len() < MAX_QUERY_TERMS {
                    tags.push(tag);
                }
            }
            None if words.len() < MAX_QUERY_TERMS => words.push(token),
            None => {}
        }
    }
    PostQuery {
        tags,
        words: fold_words(&words.join(" ")).trim_start().to_owned(),
    }
}

/// A point to search around, validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    pub lat: f64,
    pub lon: f64,
    pub radius_km: f64,
}

impl Near {
    /// `near` as `<lat>,<lon>`; problems name `near` or `radius_km`.
    pub fn parse(near: &str, radius_km: f64) -> Result<Self, (&'static str, String)> {
        let bad = || ("near", "must be <lat>,<lon> in degrees".to_owned());
        let (lat, lon) = near.split_once(',').ok_or_else(bad)?;
        let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
        let lon: f64 = lon.trim().parse().map_err(|_| bad())?;
        if !(-90.0..=90.0).contains(&lat) {
            return Err(("near", "latitude must be within -90 and 90".into()));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(("near", "longitude must be within -180 and 180".into()));
        }
        if !(radius_km > 0.0 && radius_km <= MAX_RADIUS_KM) {
            return Err((
                "radius_km",
                format!("must be more than 0 and at most {MAX_RADIUS_KM}"),
            ));
        }
        Ok(Self {
            lat,
            lon,
            radius_km,
        })
    }

    /// Latitude and longitude ranges (degrees) that hold the whole circle; two longitude
    /// ranges when it crosses the antimeridian, all longitudes when it holds a pole.
    pub fn bounding_boxes(&self) -> Vec<(f64, f64, f64, f64)> {
        let dlat = (self.radius_km / EARTH_RADIUS_KM).to_degrees();
        let (south, north) = (self.lat - dlat, self.lat + dlat);
        if south <= -90.0 || north >= 90.0 {
            return vec![(south.max(-90.0), north.min(90.0), -180.0, 180.0)];
        }
        // The widest the circle gets in longitude, at the latitude nearest a pole it reaches.
        let ratio = (self.radius_km / EARTH_RADIUS_KM).sin() / self.lat.to_radians().cos();
        if ratio >= 1.0 {
            return vec![(south, north, -180.0, 180.0)];
        }
        let dlon = ratio.asin().to_degrees();
        let (west, east) = (self.lon - dlon, self.lon + dlon);
        if west < -180.0 {
            vec![
                (south, north, west + 360.0, 180.0),
                (south, north, -180.0, east),
            ]
        } else if east > 180.0 {
            vec![
                (south, north, west, 180.0),
                (south, north, -180.0, east - 360.0),
            ]
        } else {
            vec![(south, north, west, east)]
        }
    }
}

/// Great-circle distance (haversine), in km.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_drops_case_accents_and_punctuation() {
        assert_eq!(fold_words("José  GARCÍA-López!"), " jose garcia lopez");
        assert_eq!(fold_words("Ｆｕｌｌ width"), " full width");
        assert_eq!(fold_words("東京 タワー"), " 東京 タワー");
        assert_eq!(fold_words("  "), "");
        assert_eq!(fold_tag("Café"), "cafe");
        assert_eq!(handle_query("@Jöse_B."), Some("jose_b.".into()));
        assert_eq!(handle_query("jose garcia"), None);
    }

    #[test]
    fn the_trie_walk_finds_exactly_the_words_within_the_typos() {
        let mut words: Vec<String> = [
            "garcia",
            "garcias",
            "gracia",
            "garza",
            "maria_garcia1",
            "muller",
            "mullen",
            "mueller",
            "jonas",
            "jonasbrown",
            "jon",
            "jonsa_x",
            "kristopher",
            "kristofer",
            "a",
            "",
        ]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
        words.sort();
        for query in [
            "gacria",
            "mulelr",
            "jonsa",
            "kristofer",
            "krisx",
            "garcia",
            "zzzzz",
            "jnoas",
        ] {
            let allowed = typo_allowance(query.chars().count());
            let beginnings = beginnings_within_typos(&words, query, allowed, 100);
            let found: Vec<&String> = words
                .iter()
                .filter(|word| beginnings.iter().any(|b| word.starts_with(b.as_str())))
                .collect();
            let expected: Vec<&String> = words
                .iter()
                .filter(|word| prefix_typos(query, word) <= allowed)
                .collect();
            assert_eq!(found, expected, "{query}");
        }
        let words = ["gacria".to_owned()];
        assert_eq!(beginnings_within_typos(&words, "garcia", 1, 10), ["gacria"]);
        assert!(beginnings_within_typos(&words, "garcia", 1, 0).is_empty());
    }

    #[test]
    fn an_account_is_found_by_its_handle_and_each_word_of_its_name_once() {
        assert_eq!(
            name_words("Jose_G", " jose garcia jose"),
            ["jose_g", "jose", "garcia"]
        );
        assert_eq!(name_words("solo", ""), ["solo"]);
    }

    #[test]
    fn a_post_search_keeps_its_first_eight_words_and_hashtags() {
        let query = parse_post_query(
            "#a #b #c #d #e #f #g #h #i one two three four five six seven eight nine",
        );
        assert_eq!(query.tags.len(), MAX_QUERY_TERMS);
        assert!(!query.tags.contains(&"i".to_owned()));
        assert_eq!(query.words, "one two three four five six seven eight");
    }

    #[test]
    fn typos_are_counted_against_the_beginning_of_a_word() {
        assert_eq!(prefix_typos("jonas", "jonasbrown"), 0);
        assert_eq!(prefix_typos("jonsa", "jonas"), 1, "a swap is one typo");
        assert_eq!(prefix_typos("jnas", "jonas"), 1);
        assert_eq!(prefix_typos("joxas", "jonas"), 1);
        assert_eq!(prefix_typos("xxnas", "jonas"), 2);
        assert_eq!(typo_allowance(4), 0);
        assert_eq!(typo_allowance(5), 1);
        assert_eq!(typo_allowance(9), 2);
    }

    #[test]
    fn a_query_matches_a_handle_or_a_word_of_the_name_within_its_allowance() {
        assert!(matches_with_typos("jonsa", "jonas_b", " someone"));
        assert!(
            !matches_with_typos("jnsa", "jonas_b", ""),
            "under 5: exact only"
        );
        assert!(matches_with_typos("garica", "x", " jose garcia"));
        assert!(matches_with_typos("jose garica", "x", " maria jose garcia"));
        assert!(
            !matches_with_typos("gxrxca", "x", " jose garcia"),
            "two typos in 6"
        );
        assert!(
            matches_with_typos("kristofer", "x", " kristopher"),
            "two in 9"
        );
    }

    #[test]
    fn post_queries_split_tags_from_words() {
        assert_eq!(
            parse_post_query("#Sunset beach #café, #sunset Évening"),
            PostQuery {
                tags: vec!["sunset".into(), "cafe".into()],
                words: "beach evening".into(),
            }
        );
        assert_eq!(parse_post_query("#"), PostQuery::default());
    }

    #[test]
    fn places_are_validated_and_boxed_across_the_antimeridian_and_poles() {
        assert_eq!(Near::parse("91,0", 1.0).unwrap_err().0, "near");
        assert_eq!(Near::parse("0,181", 1.0).unwrap_err().0, "near");
        assert_eq!(Near::parse("0,x", 1.0).unwrap_err().0, "near");
        assert_eq!(Near::parse("0,0", 100.5).unwrap_err().0, "radius_km");
        assert_eq!(Near::parse("0,0", 0.0).unwrap_err().0, "radius_km");
        let fiji = Near::parse("-17.7, 179.9", 50.0).unwrap();
        let boxes = fiji.bounding_boxes();
        assert_eq!(boxes.len(), 2);
        assert!(boxes.iter().any(|b| b.3 == 180.0) && boxes.iter().any(|b| b.2 == -180.0));
        let pole = Near::parse("89.9,10", 50.0).unwrap();
        assert_eq!(pole.bounding_boxes()[0].2, -180.0);
        // 1° of latitude is about 111.2 km.
        assert!((distance_km(0.0, 0.0, 1.0, 0.0) - 111.19).abs() < 0.05);
        assert!((distance_km(0.0, 179.9, 0.0, -179.9) - 22.24).abs() < 0.05);
    }
}
