//! Picking a capsule environment's own resources out of what a list call returned, by
//! their ownership tags. Listing stays with each adapter (every service pages its own
//! way, and some read tags in batches); nothing here calls AWS but through `tags_of`.

use std::collections::BTreeMap;

use crate::aws::{AwsError, Cx, Live};

/// Tags that mark a resource as this capsule environment's.
pub(super) fn owned(cx: &Cx, tags: &BTreeMap<String, String>) -> bool {
    Live { tags: tags.clone(), ..Live::default() }.is_owned_by(&cx.capsule, &cx.env)
}

/// Those of `items` whose tags, read one item at a time by `tags_of` (`None`: gone since it
/// was listed, left out), mark them as this capsule environment's; each with its tags.
/// (`tags_of` returns a future that does not borrow the item: an `AsyncFn` would, but its
/// future cannot be shown to be `Send` as the adapter trait needs.)
pub(super) async fn keep_owned<T, Tags>(
    cx: &Cx,
    items: impl IntoIterator<Item = T>,
    tags_of: impl Fn(&T) -> Tags,
) -> Result<Vec<(T, BTreeMap<String, String>)>, AwsError>
where
    Tags: Future<Output = Result<Option<BTreeMap<String, String>>, AwsError>>,
{
    let mut out = Vec::new();
    for item in items {
        if let Some(tags) = tags_of(&item).await?
            && owned(cx, &tags)
        {
            out.push((item, tags));
        }
    }
    Ok(out)
}
