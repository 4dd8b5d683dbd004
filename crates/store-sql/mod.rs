//! The store code both database backends share, compiled into each of them as its `shared`
//! module; what differs lives in each backend's `dialect` module (docs/architecture.md).

mod accounts;
mod batch;
mod comments;
mod conversations;
mod counters;
mod errors;
mod export;
mod id_lists;
mod invites;
mod jobs;
mod likes;
mod media;
mod moderation;
mod notifications;
mod pages;
mod posts;
mod rows;
mod search;
mod social;
mod store;
pub(crate) mod timelines;
mod tokens;
mod trust;
mod users;

pub(crate) use errors::db_err;
