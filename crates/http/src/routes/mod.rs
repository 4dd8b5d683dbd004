pub mod auth;
pub mod feed;
pub mod media;
pub mod ops;
pub mod posts;
pub mod social;
pub mod users;
