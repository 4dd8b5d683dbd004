//! Uploaded media: purposes, processing states and the stored record.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaPurpose {
    Post,
    Avatar,
}

impl MediaPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaPurpose::Post => "post",
            MediaPurpose::Avatar => "avatar",
        }
    }
}

impl FromStr for MediaPurpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "post" => Ok(MediaPurpose::Post),
            "avatar" => Ok(MediaPurpose::Avatar),
            other => Err(format!("unknown media purpose '{other}'")),
        }
    }
}

/// pending → uploaded → processing → ready | failed. Every upload ends with a status, and a
/// failed one with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaStatus {
    Pending,
    Uploaded,
    Processing,
    Ready,
    Failed,
}

impl MediaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaStatus::Pending => "pending",
            MediaStatus::Uploaded => "uploaded",
            MediaStatus::Processing => "processing",
            MediaStatus::Ready => "ready",
            MediaStatus::Failed => "failed",
        }
    }
}

impl FromStr for MediaStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(MediaStatus::Pending),
            "uploaded" => Ok(MediaStatus::Uploaded),
            "processing" => Ok(MediaStatus::Processing),
            "ready" => Ok(MediaStatus::Ready),
            "failed" => Ok(MediaStatus::Failed),
            other => Err(format!("unknown media status '{other}'")),
        }
    }
}

/// One stored, servable rendition of a media item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVariant {
    pub name: String,
    pub key: String,
    pub width: u32,
    pub height: u32,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub id: Uuid,
    pub owner_id: UserId,
    pub purpose: MediaPurpose,
    pub status: MediaStatus,
    pub content_type: String,
    pub size_bytes: i64,
    pub error: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub blurhash: Option<String>,
    pub variants: Vec<StoredVariant>,
    pub upload_expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewMedia {
    pub id: Uuid,
    pub owner_id: UserId,
    pub purpose: MediaPurpose,
    pub content_type: String,
    pub size_bytes: i64,
    pub upload_expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

/// What processing produced, recorded when the media becomes ready.
#[derive(Debug, Clone)]
pub struct ProcessedMedia {
    pub width: u32,
    pub height: u32,
    pub blurhash: String,
    pub variants: Vec<StoredVariant>,
}
