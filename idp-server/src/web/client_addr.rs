//! The client's address, as throttling and the audit log see it. It cannot be forged: a
//! forwarding header is read only when the TCP peer is one of `[server] trusted_proxies`, and
//! then only the right-most address that is not itself a trusted proxy counts (every proxy
//! appends the peer it saw, so everything left of our own proxies' entries may be made up by the
//! client). `Forwarded` (RFC 7239) is never read.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The client address of a request from `peer` carrying these `X-Forwarded-For` header values
/// (in the order they appear).
pub fn client_ip<'a>(
    peer: Option<IpAddr>,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Not an address: nothing our proxies wrote. The nearest hop they vouched for counts.
            return Some(nearest);
        };
        if !is_trusted(&ip) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

/// `1.2.3.4`, `2001:db8::1`, `1.2.3.4:5678` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }
    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("203.0.113.7"), ["1.2.3.4"].into_iter(), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(ip("203.0.113.7"), ["1.2.3.4"].into_iter(), &[]),
            ip("203.0.113.7"),
            "no trusted proxies: headers are never read"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_counts() {
        let trusted = nets(&["10.0.0.0/8", "192.168.1.1/32"]);
        // The client sent a made-up header; our proxy appended the real peer.
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                ["6.6.6.6, 198.51.100.9"].into_iter(),
                &trusted
            ),
            ip("198.51.100.9")
        );
        // Two of our proxies in a row.
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                ["6.6.6.6", "198.51.100.9, 192.168.1.1"].into_iter(),
                &trusted
            ),
            ip("198.51.100.9")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.2"), std::iter::empty(), &trusted),
            ip("10.0.0.2")
        );
        // Garbage where an address should be: the nearest hop our proxies vouched for.
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                ["198.51.100.9, not-an-ip, 10.1.1.1"].into_iter(),
                &trusted
            ),
            ip("10.1.1.1")
        );
        // Ports and IPv6, and IPv4-mapped IPv6 peers.
        assert_eq!(
            client_ip(
                ip("::ffff:10.0.0.2"),
                ["[2001:db8::5]:4444"].into_iter(),
                &trusted
            ),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), ["198.51.100.9:1234"].into_iter(), &trusted),
            ip("198.51.100.9")
        );
    }

    proptest::proptest! {
        /// Whatever a client puts in the header, the answer is an address our proxies appended or
        /// the peer itself, never a value to the left of the last untrusted hop.
        #[test]
        fn a_client_cannot_choose_its_address(made_up in proptest::collection::vec("[0-9a-f.:, ]{0,20}", 0..4), last in 0u8..=255) {
            let trusted = nets(&["10.0.0.0/8"]);
            let real = format!("198.51.100.{last}");
            let mut header = made_up.join(",");
            header.push_str(&format!(", {real}"));
            let got = client_ip(ip("10.0.0.2"), [header.as_str()].into_iter(), &trusted);
            proptest::prop_assert_eq!(got, ip(&real));
        }
    }
}
