//! The search benchmark: each kind of search through the running server, one request at a
//! time, against the naive query (`ILIKE '%q%'`, or a bounding box without an index) on the
//! same database, with the same queries, in the same run.

use std::time::{Duration, Instant};

use picshare_domain::search::{Near, distance_km};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::words;

/// One kind of search: its queries, as URL query strings and as the naive query's argument.
struct Kind {
    name: &'static str,
    queries: Vec<Query>,
}

enum Query {
    Users(String),
    Posts(String),
    Near(f64, f64, f64),
}

fn encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b',' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

impl Query {
    fn path(&self) -> String {
        match self {
            Query::Users(q) => format!("/v1/search/users?q={}", encoded(q)),
            Query::Posts(q) => format!("/v1/search/posts?q={}", encoded(q)),
            Query::Near(lat, lon, radius) => {
                format!("/v1/search/posts?near={lat:.5},{lon:.5}&radius_km={radius}")
            }
        }
    }
}

fn kinds(seed: u64) -> Vec<Kind> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5ea7c4);
    let places = (0..40)
        .map(|_| {
            let (_, lat, lon) = words::CITIES[rng.random_range(0..words::CITIES.len())];
            let radius = [1.0, 5.0, 20.0, 50.0][rng.random_range(0..4)];
            Query::Near(
                lat + rng.random_range(-0.05..0.05),
                lon + rng.random_range(-0.05..0.05),
                radius,
            )
        })
        .collect();
    vec![
        Kind {
            name: "users: prefix",
            queries: words::name_prefixes()
                .into_iter()
                .map(Query::Users)
                .collect(),
        },
        Kind {
            name: "users: one typo",
            queries: words::typo_queries()
                .into_iter()
                .map(Query::Users)
                .collect(),
        },
        Kind {
            name: "posts: caption words",
            queries: words::text_queries()
                .into_iter()
                .map(Query::Posts)
                .collect(),
        },
        Kind {
            name: "posts: hashtags",
            queries: words::tag_queries().into_iter().map(Query::Posts).collect(),
        },
        Kind {
            name: "posts: near a place",
            queries: places,
        },
    ]
}

enum Naive {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Naive {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        Ok(if url.starts_with("sqlite:") {
            Naive::Sqlite(sqlx::SqlitePool::connect(url).await?)
        } else {
            Naive::Postgres(sqlx::PgPool::connect(url).await?)
        })
    }

    /// The query a search box without a search index runs: a substring anywhere, then the
    /// first page in the order ours answers (most followed; most occurrences, as a relevance
    /// rank, when there are words; newest first for hashtags alone), or every located post in
    /// the box. People are ordered by `followers_count + 0`: the search's own index of accounts
    /// by followers (`users_followers_idx`) is not the naive query's to use.
    async fn run(&self, query: &Query) -> anyhow::Result<usize> {
        let (sql, text) = match query {
            Query::Users(q) => (
                "SELECT id FROM users WHERE lower(handle) LIKE '%' || $1 || '%'
                     OR lower(display_name) LIKE '%' || $1 || '%'
                 ORDER BY followers_count + 0 DESC LIMIT 20",
                q.to_lowercase(),
            ),
            Query::Posts(q) if q.split_whitespace().all(|word| word.starts_with('#')) => (
                "SELECT id FROM posts WHERE lower(caption) LIKE '%' || $1 || '%'
                 ORDER BY id DESC LIMIT 20",
                q.to_lowercase(),
            ),
            Query::Posts(q) => (
                "SELECT id FROM posts WHERE lower(caption) LIKE '%' || $1 || '%'
                 ORDER BY length(lower(caption)) - length(replace(lower(caption), $1, '')) DESC,
                          id DESC
                 LIMIT 20",
                q.to_lowercase(),
            ),
            Query::Near(lat, lon, radius) => return self.near(*lat, *lon, *radius).await,
        };
        Ok(match self {
            Naive::Sqlite(pool) => sqlx::query(sql).bind(text).fetch_all(pool).await?.len(),
            Naive::Postgres(pool) => sqlx::query(sql).bind(text).fetch_all(pool).await?.len(),
        })
    }

    async fn near(&self, lat: f64, lon: f64, radius_km: f64) -> anyhow::Result<usize> {
        let circle = Near::parse(&format!("{lat},{lon}"), radius_km)
            .map_err(|(_, message)| anyhow::anyhow!(message))?;
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (south, north, west, east) in circle.bounding_boxes() {
            let sql =
                "SELECT lat, lon FROM posts WHERE lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4";
            let rows: Vec<(f64, f64)> = match self {
                Naive::Sqlite(pool) => {
                    let query = sqlx::query_as(sql)
                        .bind(south)
                        .bind(north)
                        .bind(west)
                        .bind(east);
                    query.fetch_all(pool).await?
                }
                Naive::Postgres(pool) => {
                    let query = sqlx::query_as(sql)
                        .bind(south)
                        .bind(north)
                        .bind(west)
                        .bind(east);
                    query.fetch_all(pool).await?
                }
            };
            points.extend(rows);
        }
        let mut distances: Vec<f64> = points
            .into_iter()
            .map(|(a, b)| distance_km(lat, lon, a, b))
            .filter(|d| *d <= radius_km)
            .collect();
        distances.sort_by(f64::total_cmp);
        Ok(distances.len().min(20))
    }
}

fn mean(samples: &[Duration]) -> f64 {
    samples.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / samples.len().max(1) as f64
}

fn percentile(sorted: &[Duration], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// The slowest queries of a kind, each with its median time: where a tail comes from.
const SLOWEST_SHOWN: usize = 5;

pub async fn run(
    base: &str,
    database_url: &str,
    seed: u64,
    samples: usize,
    only: &str,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let naive = Naive::connect(database_url).await?;
    println!(
        "| search | ours p50 / p99 / mean ms (HTTP) | naive p50 / p99 / mean ms (SQL) | naive ÷ ours p50 / p99 / mean | results (first query) |"
    );
    println!("|---|---|---|---|---|");
    for kind in kinds(seed)
        .into_iter()
        .filter(|kind| kind.name.starts_with(only))
    {
        // Each query once, untimed: caches and the planner as a steady server has them.
        for query in &kind.queries {
            client.get(format!("{base}{}", query.path())).send().await?;
        }
        let mut ours = Vec::with_capacity(samples);
        let mut theirs = Vec::with_capacity(samples);
        let mut first_count = None;
        let mut by_query = vec![Vec::new(); kind.queries.len()];
        for i in 0..samples {
            let query_index = i % kind.queries.len();
            let query = &kind.queries[query_index];
            let started = Instant::now();
            let response = client.get(format!("{base}{}", query.path())).send().await?;
            let status = response.status();
            let body: serde_json::Value = response.json().await?;
            let took = started.elapsed();
            ours.push(took);
            by_query[query_index].push(took);
            anyhow::ensure!(
                status.is_success(),
                "{} answered {status}: {body}",
                query.path()
            );
            let found = body["items"].as_array().map_or(0, Vec::len);
            first_count.get_or_insert(found);
            // The naive query is slow: a tenth as many samples, at least 5.
            if i % 10 == 0 || i < 5 {
                let started = Instant::now();
                naive.run(query).await?;
                theirs.push(started.elapsed());
            }
        }
        ours.sort();
        theirs.sort();
        println!(
            "| {} | {:.2} / {:.2} / {:.2} | {:.1} / {:.1} / {:.1} | {:.0}× / {:.0}× / {:.0}× | {} |",
            kind.name,
            percentile(&ours, 50),
            percentile(&ours, 99),
            mean(&ours),
            percentile(&theirs, 50),
            percentile(&theirs, 99),
            mean(&theirs),
            percentile(&theirs, 50) / percentile(&ours, 50).max(1e-6),
            percentile(&theirs, 99) / percentile(&ours, 99).max(1e-6),
            mean(&theirs) / mean(&ours).max(1e-6),
            first_count.unwrap_or(0)
        );
        let medians = by_query.into_iter().map(|mut times| {
            times.sort();
            times.get(times.len() / 2).copied().unwrap_or_default()
        });
        let mut by_time: Vec<(Duration, &Query)> = medians.zip(&kind.queries).collect();
        by_time.sort_by_key(|(took, _)| std::cmp::Reverse(*took));
        let shown: Vec<String> = by_time
            .iter()
            .take(SLOWEST_SHOWN)
            .map(|(took, query)| format!("{} {:.2} ms", query.path(), took.as_secs_f64() * 1000.0))
            .collect();
        eprintln!("{}, slowest (median): {}", kind.name, shown.join(", "));
    }
    Ok(())
}
