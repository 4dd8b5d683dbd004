//! Text and places for generated accounts and posts: names with accents, captions of common
//! words with hashtags (both Zipf-like, as real text is), and locations clustered around cities.
//! Each is a pure function of the account's index or the post's id, so the loader needs no
//! extra memory and the search benchmark can find what was loaded.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

const FIRST_NAMES: [&str; 40] = [
    "María",
    "José",
    "Jonas",
    "Anna",
    "Léa",
    "Chloé",
    "Noah",
    "Liam",
    "Emma",
    "Olivia",
    "Lucas",
    "Mateo",
    "Sofía",
    "Zoë",
    "Björn",
    "Søren",
    "Ingrid",
    "Amélie",
    "François",
    "Hélène",
    "Kenji",
    "Yuki",
    "Aiko",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Leila",
    "Chen",
    "Wei",
    "Mei",
    "Ivan",
    "Olga",
    "Dmitri",
    "Nikos",
    "Eleni",
    "Giulia",
    "Marco",
    "Kristopher",
    "Siobhán",
];

const LAST_NAMES: [&str; 40] = [
    "García",
    "Müller",
    "Dubois",
    "Rossi",
    "Nowak",
    "Novák",
    "Jensen",
    "Andersson",
    "Smith",
    "Johnson",
    "Brown",
    "Silva",
    "Santos",
    "Pereira",
    "Kowalski",
    "Horváth",
    "Yılmaz",
    "Öztürk",
    "Tanaka",
    "Suzuki",
    "Kim",
    "Nguyen",
    "Patel",
    "Singh",
    "Haddad",
    "Cohen",
    "Ivanova",
    "Petrov",
    "Papadopoulos",
    "Bianchi",
    "Fernández",
    "López",
    "Martínez",
    "Gómez",
    "Lefèvre",
    "Moreau",
    "O'Brien",
    "Murphy",
    "Wójcik",
    "Ramírez",
];

/// Words captions are made of, most common first (rank r is drawn about 1/r as often).
const WORDS: [&str; 119] = [
    "the",
    "a",
    "and",
    "of",
    "at",
    "with",
    "in",
    "on",
    "my",
    "our",
    "day",
    "sunset",
    "beach",
    "morning",
    "coffee",
    "city",
    "night",
    "walk",
    "friends",
    "family",
    "view",
    "light",
    "summer",
    "winter",
    "autumn",
    "spring",
    "rain",
    "snow",
    "mountain",
    "lake",
    "river",
    "sea",
    "sky",
    "clouds",
    "garden",
    "flowers",
    "street",
    "market",
    "food",
    "dinner",
    "breakfast",
    "lunch",
    "cake",
    "bread",
    "wine",
    "music",
    "concert",
    "festival",
    "trip",
    "travel",
    "road",
    "train",
    "station",
    "bridge",
    "tower",
    "museum",
    "art",
    "painting",
    "church",
    "castle",
    "harbour",
    "boats",
    "island",
    "forest",
    "trees",
    "hiking",
    "running",
    "cycling",
    "swimming",
    "dog",
    "cat",
    "birds",
    "horse",
    "baby",
    "wedding",
    "birthday",
    "party",
    "holiday",
    "weekend",
    "home",
    "kitchen",
    "window",
    "books",
    "reading",
    "library",
    "school",
    "work",
    "office",
    "golden",
    "blue",
    "green",
    "quiet",
    "busy",
    "old",
    "new",
    "first",
    "last",
    "best",
    "little",
    "big",
    "beautiful",
    "lovely",
    "happy",
    "together",
    "finally",
    "again",
    "today",
    "tonight",
    "yesterday",
    "sunrise",
    "fog",
    "storm",
    "rainbow",
    "stars",
    "moon",
    "fireworks",
    "picnic",
    "café",
    "crêpes",
];

const TAGS: [&str; 40] = [
    "photography",
    "sunset",
    "travel",
    "nature",
    "food",
    "love",
    "instagood",
    "beach",
    "city",
    "art",
    "summer",
    "friends",
    "family",
    "coffee",
    "music",
    "dog",
    "cat",
    "mountains",
    "sea",
    "architecture",
    "streetphotography",
    "flowers",
    "winter",
    "hiking",
    "café",
    "paris",
    "tokyo",
    "nyc",
    "london",
    "berlin",
    "sky",
    "clouds",
    "night",
    "weekend",
    "fitness",
    "running",
    "portrait",
    "blackandwhite",
    "vintage",
    "goldenhour",
];

/// Cities located posts gather around: (name, lat, lon).
pub const CITIES: [(&str, f64, f64); 20] = [
    ("Paris", 48.8566, 2.3522),
    ("London", 51.5074, -0.1278),
    ("New York", 40.7128, -74.0060),
    ("Tokyo", 35.6762, 139.6503),
    ("Berlin", 52.5200, 13.4050),
    ("Madrid", 40.4168, -3.7038),
    ("Rome", 41.9028, 12.4964),
    ("São Paulo", -23.5505, -46.6333),
    ("Mumbai", 19.0760, 72.8777),
    ("Sydney", -33.8688, 151.2093),
    ("Cairo", 30.0444, 31.2357),
    ("Istanbul", 41.0082, 28.9784),
    ("Mexico City", 19.4326, -99.1332),
    ("Seoul", 37.5665, 126.9780),
    ("Lagos", 6.5244, 3.3792),
    ("Moscow", 55.7558, 37.6173),
    ("Toronto", 43.6532, -79.3832),
    ("Buenos Aires", -34.6037, -58.3816),
    ("Suva", -18.1416, 178.4419),
    ("Reykjavík", 64.1466, -21.9426),
];

/// Share of posts with a location.
const LOCATED_SHARE: f64 = 0.2;

fn zipf(rng: &mut StdRng, n: usize) -> usize {
    // Inverse of a 1/r density's cumulative share, close enough for text.
    let u: f64 = rng.random_range(0.0..1.0);
    (((n as f64 + 1.0).powf(u) - 1.0) as usize).min(n - 1)
}

fn rng_of(id: Uuid, salt: u64) -> StdRng {
    StdRng::seed_from_u64((id.as_u128() as u64) ^ ((id.as_u128() >> 64) as u64) ^ salt)
}

fn ascii(text: &str) -> String {
    picshare_domain::search::fold_words(text)
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The `index`th account's display name.
pub fn display_name(index: usize) -> String {
    let first = FIRST_NAMES[index % FIRST_NAMES.len()];
    let last = LAST_NAMES[(index / FIRST_NAMES.len()) % LAST_NAMES.len()];
    format!("{first} {last}")
}

/// The `index`th account's handle: its name in ASCII and its index (unique).
pub fn handle(index: usize) -> String {
    let first = ascii(FIRST_NAMES[index % FIRST_NAMES.len()]);
    let last = ascii(LAST_NAMES[(index / FIRST_NAMES.len()) % LAST_NAMES.len()]);
    let name: String = format!("{first}_{last}").chars().take(22).collect();
    format!("{name}{index}")
}

/// A post's caption: 3 to 15 common words, then 0 to 3 hashtags.
pub fn caption(post: Uuid) -> String {
    let mut rng = rng_of(post, 0xca97);
    let words = rng.random_range(3..=15);
    let mut caption: Vec<String> = (0..words)
        .map(|_| WORDS[zipf(&mut rng, WORDS.len())].to_owned())
        .collect();
    for _ in 0..rng.random_range(0..=3) {
        caption.push(format!("#{}", TAGS[zipf(&mut rng, TAGS.len())]));
    }
    caption.join(" ")
}

/// Where a post was taken, for a fifth of them: within a few km of a city (most within 5).
pub fn location(post: Uuid) -> Option<(String, f64, f64)> {
    let mut rng = rng_of(post, 0x9e0);
    if !rng.random_bool(LOCATED_SHARE) {
        return None;
    }
    let (name, lat, lon) = CITIES[zipf(&mut rng, CITIES.len())];
    // Offsets of up to ~0.15° (16 km), most near the centre.
    let spread = rng.random_range(0.0f64..1.0).powi(2) * 0.15;
    let angle = rng.random_range(0.0..std::f64::consts::TAU);
    let lat = (lat + spread * angle.sin()).clamp(-90.0, 90.0);
    let mut lon = lon + spread * angle.cos() / lat.to_radians().cos().max(0.1);
    if lon > 180.0 {
        lon -= 360.0;
    } else if lon < -180.0 {
        lon += 360.0;
    }
    Some((name.to_owned(), lat, lon))
}

/// Queries the search benchmark sends, drawn as people would type them.
pub fn name_prefixes() -> Vec<String> {
    let mut prefixes: Vec<String> = FIRST_NAMES
        .iter()
        .map(|name| ascii(name).chars().take(3).collect())
        .collect();
    prefixes.extend(LAST_NAMES.iter().map(|name| name.to_lowercase()));
    prefixes
}

/// Last names with one typo (two letters swapped, or one replaced), 5+ characters.
pub fn typo_queries() -> Vec<String> {
    LAST_NAMES
        .iter()
        .map(|name| ascii(name))
        .filter(|name| name.len() >= 5)
        .map(|name| {
            let mut chars: Vec<char> = name.chars().collect();
            chars.swap(2, 3);
            chars.into_iter().collect()
        })
        .collect()
}

pub fn text_queries() -> Vec<String> {
    [
        "sunset",
        "beach walk",
        "coffee morning",
        "mountain lake",
        "golden light",
        "crêpes",
    ]
    .iter()
    .chain(WORDS[20..60].iter())
    .map(|q| (*q).to_owned())
    .collect()
}

pub fn tag_queries() -> Vec<String> {
    TAGS.iter()
        .map(|tag| format!("#{tag}"))
        .chain(["#sunset beach", "#travel city", "#food dinner"].map(str::to_owned))
        .collect()
}
