//! Secrets kept out of logs and errors.

/// A URL (or a comma-separated list of them) as it may be logged or
/// reported: credentials in the authority and the query are masked.
pub fn redacted_url(url: &str) -> String {
    url.split(',')
        .map(|one| {
            let one = one.trim();
            let (one, query) = match one.split_once('?') {
                Some((base, _)) => (base, "?***"),
                None => (one, ""),
            };
            let (scheme, rest) = one.split_once("://").unwrap_or(("", one));
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let authority = match authority.rsplit_once('@') {
                Some((_, host)) => format!("***@{host}"),
                None => authority.to_string(),
            };
            match scheme {
                "" => format!("{authority}{path}{query}"),
                _ => format!("{scheme}://{authority}{path}{query}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::redacted_url;

    #[test]
    fn credentials_in_urls_are_masked() {
        assert_eq!(
            redacted_url("nats://edge:s3cret@10.0.0.1:4222, tls://h:4223"),
            "nats://***@10.0.0.1:4222,tls://h:4223"
        );
        assert_eq!(redacted_url("u:p@h:4222"), "***@h:4222");
        assert_eq!(redacted_url("nats://h:4222"), "nats://h:4222");
        assert_eq!(
            redacted_url("https://k:v@otel.example:4318/v1/traces?api-key=abc"),
            "https://***@otel.example:4318/v1/traces?***"
        );
        assert_eq!(
            redacted_url("http://a/b@c"),
            "http://a/b@c",
            "an @ in the path is no userinfo"
        );
    }
}
