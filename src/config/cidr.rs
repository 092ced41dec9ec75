//! IPv4 CIDR blocks: parsing as `[network] cidr` is written, carving a block into
//! equal parts, and the default block of a capsule environment (a /20 in 10.0.0.0/8
//! derived from its names). Pure arithmetic; no I/O.

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 block such as `10.20.0.0/16`, with no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: u32,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/p`; the reason it is not one otherwise.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = text.split_once('/').ok_or("write it as ADDRESS/PREFIX, e.g. 10.20.0.0/16")?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| format!("`{addr}` is not an IPv4 address"))?;
        let prefix: u8 =
            prefix.parse().ok().filter(|p| *p <= 32).ok_or(format!("`/{prefix}` is not a prefix length"))?;
        let base = u32::from(addr);
        let cidr = Cidr { base: base & mask(prefix), prefix };
        if cidr.base != base {
            return Err(format!("host bits are set: the block is {cidr}"));
        }
        Ok(cidr)
    }

    /// Part `index` of the block split into parts of `prefix` bits.
    pub fn part(self, prefix: u8, index: u32) -> Cidr {
        debug_assert!(prefix >= self.prefix && index < (1u64 << (prefix - self.prefix)) as u32);
        Cidr { base: self.base + (index << (32 - prefix)), prefix }
    }

    /// Inside one of the private ranges of RFC 1918.
    pub fn is_private(self) -> bool {
        [(0x0A00_0000, 8), (0xAC10_0000, 12), (0xC0A8_0000, 16)]
            .iter()
            .any(|&(net, len)| self.prefix >= len && self.base & mask(len) == net)
    }

    /// The default block of one capsule environment: one of the 4096 /20 blocks of
    /// 10.0.0.0/8, chosen by a hash of `<capsule>/<env>`, so that two capsules' VPCs
    /// rarely overlap (which matters once they are peered or joined by a transit gateway).
    pub fn default_for(capsule: &str, env: &str) -> Cidr {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(format!("{capsule}/{env}").as_bytes());
        let index = u32::from(u16::from_be_bytes([hash[0], hash[1]]) & 0x0FFF);
        Cidr { base: 0x0A00_0000, prefix: 8 }.part(20, index)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_parse_and_refuse_what_is_not_one() {
        assert_eq!(Cidr::parse("10.20.0.0/16").map(|c| c.to_string()), Ok("10.20.0.0/16".to_string()));
        assert!(Cidr::parse("10.20.0.1/16").unwrap_err().contains("10.20.0.0/16"));
        assert!(Cidr::parse("10.20.0.0").is_err());
        assert!(Cidr::parse("10.300.0.0/16").is_err());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn parts_are_consecutive_blocks() {
        let vpc = Cidr::parse("10.20.0.0/16").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(vpc.part(18, 0).to_string(), "10.20.0.0/18");
        assert_eq!(vpc.part(18, 3).to_string(), "10.20.192.0/18");
        assert_eq!(vpc.part(21, 7).to_string(), "10.20.56.0/21");
    }

    #[test]
    fn private_ranges_are_recognised() {
        for (text, private) in
            [("10.1.0.0/16", true), ("172.31.0.0/16", true), ("172.32.0.0/16", false), ("192.168.0.0/16", true)]
        {
            assert_eq!(Cidr::parse(text).map(Cidr::is_private), Ok(private), "{text}");
        }
    }

    #[test]
    fn default_blocks_are_stable_private_slash_twenty_and_spread() {
        let a = Cidr::default_for("shop", "production");
        assert_eq!(a, Cidr::default_for("shop", "production"));
        assert_eq!(a.prefix, 20);
        assert!(a.is_private());
        let blocks: std::collections::BTreeSet<u32> =
            (0..100).map(|i| Cidr::default_for(&format!("app{i}"), "production").base).collect();
        // 100 capsules in 4096 blocks: a few pairs may meet, most do not.
        assert!(blocks.len() >= 95, "{} distinct blocks of 100", blocks.len());
    }
}
