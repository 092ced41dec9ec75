//! Values that must never be printed: generated database passwords and cache auth tokens.
//! They are sent only in the AWS requests that set them (fields the SDK redacts from its
//! Debug output) and written only to connection secrets.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use rand::Rng;

/// URL userinfo: everything but unreserved characters is percent-encoded.
pub(super) const USERINFO: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A secret value. Debug and Display print `(sensitive)`; only `expose` gives the text.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Sensitive(String);

impl Sensitive {
    /// `len` characters drawn at random from `chars`.
    pub(super) fn generate(chars: &[u8], len: usize) -> Sensitive {
        let mut rng = rand::rng();
        Sensitive((0..len).map(|_| chars[rng.random_range(0..chars.len())] as char).collect())
    }

    /// A value read back from where it is kept.
    pub(super) fn new(value: impl Into<String>) -> Sensitive {
        Sensitive(value.into())
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_random_and_never_printed() {
        let a = Sensitive::generate(b"ab", 40);
        assert_eq!(a.expose().len(), 40);
        assert!(a.expose().bytes().all(|c| c == b'a' || c == b'b'));
        assert_ne!(a, Sensitive::generate(b"ab", 40));
        assert_eq!(format!("{a} {a:?} {:?}", Some(&a)), "(sensitive) (sensitive) Some((sensitive))");
    }
}
