//! Artifacts besides AWS resources: static sites synced to S3 and container images
//! built and pushed to the registry. Owns file hashing, uploads, invalidations and their progress display.

pub mod content_type;
pub mod image;
pub mod progress;
pub mod site;
