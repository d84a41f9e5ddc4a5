//! Who the client is: the socket peer, or, behind a trusted proxy, the address the proxy
//! forwards. Used to key rate limits of anonymous callers.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// The rule for finding a client's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp {
    trusted_proxies: Vec<IpNet>,
    header: ForwardedHeader,
}

impl ClientIp {
    pub fn new(trusted_proxies: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self {
            trusted_proxies,
            header,
        }
    }

    /// The socket peer, unless that peer is a trusted proxy; then the right-most address of
    /// the configured forwarding header that is not a trusted proxy. Only that one header is
    /// read, so a client cannot choose the header it is keyed by.
    pub fn resolve(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let mut chain: Vec<IpAddr> = Vec::new();
        for value in headers.get_all(self.header.name()) {
            for element in value.to_str().unwrap_or("").split(',') {
                let node = match self.header {
                    ForwardedHeader::XForwardedFor => Some(element),
                    ForwardedHeader::Forwarded => element.split(';').find_map(|pair| {
                        let pair = pair.trim();
                        pair.strip_prefix("for=")
                            .or_else(|| pair.strip_prefix("For="))
                    }),
                };
                if let Some(ip) = node.and_then(parse_node) {
                    chain.push(ip);
                }
            }
        }
        Some(
            chain
                .into_iter()
                .rev()
                .find(|ip| !self.is_trusted(*ip))
                .unwrap_or(peer),
        )
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(ip))
    }
}

/// One node of a forwarding header: `1.2.3.4`, `1.2.3.4:5678`, `"[2001:db8::1]:80"`, `::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let node = raw.trim().trim_matches('"');
    if let Some(rest) = node.strip_prefix('[') {
        return rest
            .split(']')
            .next()?
            .parse::<IpAddr>()
            .ok()
            .map(|ip| ip.to_canonical());
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    // IPv4 with a port.
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Which header a trusted proxy puts the client's address in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`.
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(Self::XForwardedFor),
            "forwarded" => Some(Self::Forwarded),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// An address range (`10.0.0.0/8`, `::1/128`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (
                addr.trim().parse::<IpAddr>().ok()?,
                Some(prefix.trim().parse::<u8>().ok()?),
            ),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn behind(trusted: &[&str], header: ForwardedHeader) -> ClientIp {
        ClientIp::new(
            trusted.iter().filter_map(|t| IpNet::parse(t)).collect(),
            header,
        )
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_count_only_behind_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
        );
        let direct = behind(&[], ForwardedHeader::XForwardedFor);
        assert_eq!(
            direct.resolve(Some(ip("198.51.100.7")), &headers),
            Some(ip("198.51.100.7"))
        );
        let proxied = behind(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        assert_eq!(
            proxied.resolve(Some(ip("10.0.0.5")), &headers),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_ranges_and_ports_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9:4711"),
        );
        let proxied = behind(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        assert_eq!(
            proxied.resolve(Some(ip("::ffff:10.0.0.5")), &headers),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn only_the_configured_forwarding_header_is_read() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        headers.insert(
            "forwarded",
            HeaderValue::from_static(r#"for="[2001:db8::7]:443";proto=https, for=10.0.0.9"#),
        );
        let rfc = behind(&["10.0.0.0/8"], ForwardedHeader::Forwarded);
        assert_eq!(
            rfc.resolve(Some(ip("10.0.0.5")), &headers),
            Some(ip("2001:db8::7"))
        );
    }

    #[test]
    fn ip_ranges_match_by_prefix() {
        let net = IpNet::parse("192.168.1.0/24").unwrap();
        assert!(net.contains(ip("192.168.1.77")));
        assert!(!net.contains(ip("192.168.2.1")));
        assert!(IpNet::parse("::1").unwrap().contains(ip("::1")));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
    }
}
