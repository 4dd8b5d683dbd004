pub mod auth;
pub mod media;
pub mod ops;
pub mod social;
pub mod users;
