//! Secrets (tokens, token secrets, webhook secrets) in a type that cannot be printed: `Debug` and
//! `Display` say `[redacted]`, so a secret cannot reach a log line, an error or a message by
//! accident. [`Secret::expose`] is called only where the value goes on the wire or into the
//! credentials file.

use std::fmt;

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// A string that must never be shown.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the wire or the credentials file only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the secret, compared in constant time: both are reduced to their
    /// HMAC under one label and the two are compared by the HMAC's own constant-time check, so
    /// neither a shared prefix nor the length of `given` shows in the time taken.
    pub fn matches_in_constant_time(&self, given: &str) -> bool {
        const LABEL: &[u8] = b"image-builder: a secret compared";
        hmac_sha1_matches(
            self.0.as_bytes(),
            LABEL,
            &hmac_sha1_hex(given.as_bytes(), LABEL),
        )
    }

    /// Whether the secret is empty (Launchpad's consumer secret usually is).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The HMAC-SHA1 of `data` under `key`, in lower-case hex: how Launchpad signs a webhook
/// delivery (`X-Hub-Signature: sha1=…`), and how the bot signs its Mattermost buttons.
pub fn hmac_sha1_hex(key: &[u8], data: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `hex` is the HMAC-SHA1 of `data` under `key` ([`hmac_sha1_hex`]), compared in
/// constant time; anything that is not hex is not.
pub fn hmac_sha1_matches(key: &[u8], data: &[u8], hex: &str) -> bool {
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("hunter2");
        assert_eq!(
            format!("{secret} {secret:?} {:?}", Some(&secret)),
            "[redacted] [redacted] Some([redacted])"
        );
        assert_eq!(secret.expose(), "hunter2");
    }
}
