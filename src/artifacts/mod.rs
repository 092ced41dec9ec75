//! Artifacts besides AWS resources: static sites synced to S3 (and, later, container
//! images). Owns file hashing, uploads, invalidations and their progress display.

pub mod content_type;
pub mod progress;
pub mod site;
