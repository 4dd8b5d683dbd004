//! API tests: the real server on port 0 against a fresh database per test. The backend is SQLite
//! unless PICSHARE_TEST_DATABASE_URL names a PostgreSQL server; Redis is used for shared state
//! when PICSHARE_TEST_REDIS_URL is set.

mod accounts;
mod auth;
mod authorization;
mod batch;
mod errors;
mod feed;
mod feed_pages;
mod hardening;
mod helpers;
mod invites;
mod media;
mod messaging;
mod moderation;
mod notifications;
mod ops;
mod posts;
mod processes;
mod quotas;
mod realtime;
mod search;
mod social;
mod statistics;
mod store_conformance;
mod telemetry;
mod throttle;
mod timelines;
mod trust;
mod users;
