//! Launchpad credentials and OAuth 1.0 PLAINTEXT signing. Launchpad accepts only PLAINTEXT: the
//! signature is `CONSUMER_SECRET&TOKEN_SECRET`, and the consumer secret is empty, so on the wire
//! it is `%26` followed by the token secret. Nonce and timestamp are sent (launchpadlib does) but
//! Launchpad has not checked them since 2014.
//!
//! The credentials file is launchpadlib's (`[1]` with `consumer_key`, `consumer_secret`,
//! `access_token`, `access_secret`), so existing launchpadlib credentials work here and ours work
//! there. It is written with mode 0600 and is the only file a secret is ever written to.

use std::fmt::Write as _;
use std::num::NonZeroU64;
use std::path::Path;

use crate::secret::Secret;

/// The consumer key this tool introduces itself with when it logs in.
pub const CONSUMER_KEY: &str = "image-builder";

/// An access token and the consumer it was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The application's name (not secret).
    pub consumer_key: String,
    /// Empty for every Launchpad consumer, but kept: the file has it.
    pub consumer_secret: Secret,
    /// The access token's key.
    pub access_token: Secret,
    /// The access token's secret.
    pub access_secret: Secret,
}

/// A credentials file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        cause: std::io::Error,
    },
    /// The path is a symlink: refused, rather than read or written through.
    #[error("{path} is a symbolic link; give the credentials file's real path")]
    Symlink {
        /// The file.
        path: String,
    },
    /// The file is not in launchpadlib's format.
    #[error("{path}: {problem} (expected launchpadlib's format: a [1] section with consumer_key, consumer_secret, access_token, access_secret)")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

impl Credentials {
    /// The file's text, in launchpadlib's format.
    pub fn to_file_text(&self) -> String {
        format!(
            "[1]\nconsumer_key = {}\nconsumer_secret = {}\naccess_token = {}\naccess_secret = {}\n\n",
            self.consumer_key,
            self.consumer_secret.expose(),
            self.access_token.expose(),
            self.access_secret.expose()
        )
    }

    /// Parses launchpadlib's format; `path` names the file in errors.
    pub fn parse(text: &str, path: &str) -> Result<Credentials, CredentialsError> {
        let problem = |problem: String| CredentialsError::Format {
            path: path.to_string(),
            problem,
        };
        // Errors name the line and the key, never a value: the values are secrets.
        let mut section = None;
        let mut values = std::collections::BTreeMap::new();
        for (number, line) in text.lines().map(str::trim).enumerate() {
            let number = number + 1;
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(name.to_string());
                continue;
            }
            if section.as_deref() != Some("1") {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .or_else(|| line.split_once(':'))
                .ok_or_else(|| {
                    problem(format!(
                        "line {number} in [1] is not `key = value` (its text is not shown: it may be a secret)"
                    ))
                })?;
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(problem(format!(
                    "line {number} in [1] has no key before its `=` (its text is not shown: it may be a secret)"
                )));
            }
            values.insert(key.to_string(), value.trim().to_string());
        }
        let mut take = |key: &str| {
            values
                .remove(key)
                .ok_or_else(|| problem(format!("`{key}` is missing from [1]")))
        };
        Ok(Credentials {
            consumer_key: take("consumer_key")?,
            consumer_secret: Secret::new(take("consumer_secret")?),
            access_token: Secret::new(take("access_token")?),
            access_secret: Secret::new(take("access_secret")?),
        })
    }

    /// Reads the file at `path`.
    pub fn load(path: &Path) -> Result<Credentials, CredentialsError> {
        let name = path.display().to_string();
        let metadata = std::fs::symlink_metadata(path).map_err(|cause| CredentialsError::Io {
            path: name.clone(),
            cause,
        })?;
        if metadata.file_type().is_symlink() {
            return Err(CredentialsError::Symlink { path: name });
        }
        let text = std::fs::read_to_string(path).map_err(|cause| CredentialsError::Io {
            path: name.clone(),
            cause,
        })?;
        Credentials::parse(&text, &name)
    }

    /// Writes the file at `path` with mode 0600, creating its directory (0700). The text goes
    /// to a new temporary file beside it (created with that mode, so the secret is never
    /// readable by others, not even for a moment), which then replaces the file in one rename:
    /// a crash leaves the old file or the new one, never half of either. A symlink at `path`
    /// is refused rather than followed.
    pub fn save(&self, path: &Path) -> Result<(), CredentialsError> {
        let io = |cause| CredentialsError::Io {
            path: path.display().to_string(),
            cause,
        };
        if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink()) {
            return Err(CredentialsError::Symlink {
                path: path.display().to_string(),
            });
        }
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(io)?;
        }
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let written = write_private(&temporary, self.to_file_text().as_bytes())
            .and_then(|()| std::fs::rename(&temporary, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written.map_err(io)
    }

    /// The `Authorization` header value for a request. `nonce` and `timestamp` are fixed only
    /// by tests; `None` means fresh ones.
    pub fn authorization(
        &self,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        timestamp: Option<NonZeroU64>,
    ) -> String {
        // PLAINTEXT signs neither the URL nor the parameters, so the URL without its query is
        // all the builder needs, and the form body is not passed.
        let base = url.split('?').next().unwrap_or(url);
        let client = oauth1_request::Credentials::new(
            self.consumer_key.as_str(),
            self.consumer_secret.expose(),
        );
        let token = oauth1_request::Credentials::new(
            self.access_token.expose(),
            self.access_secret.expose(),
        );
        let mut builder = oauth1_request::Builder::<_, _, &str>::new(client, EncodedPlaintext);
        builder.token(token).version(true);
        if nonce.is_some() {
            builder.nonce(nonce);
        }
        if timestamp.is_some() {
            builder.timestamp(timestamp);
        }
        builder.authorize(method, base, &())
    }
}

/// PLAINTEXT, with the signature percent-encoded in the header as RFC 5849 §3.5.1 requires and
/// Launchpad's documentation shows (`oauth_signature="%26SECRET"`). oauth1-request's own
/// `Plaintext` writes the `&` raw, which servers tolerate but is not the documented format.
#[derive(Debug, Clone, Copy)]
struct EncodedPlaintext;

/// The signing key, encoded for the header on the way out.
#[derive(Debug, Clone)]
struct EncodedPlaintextSign(String);

impl oauth1_request::signature_method::SignatureMethod for EncodedPlaintext {
    type Sign = EncodedPlaintextSign;

    fn sign_with(self, client_secret: &str, token_secret: Option<&str>) -> EncodedPlaintextSign {
        let key = format!(
            "{}&{}",
            percent_encode(client_secret),
            percent_encode(token_secret.unwrap_or_default())
        );
        EncodedPlaintextSign(percent_encode(&key))
    }
}

impl oauth1_request::signature_method::Sign for EncodedPlaintextSign {
    type Signature = String;

    fn get_signature_method_name(&self) -> &'static str {
        "PLAINTEXT"
    }

    fn request_method(&mut self, _method: &str) {}

    fn uri<T: std::fmt::Display>(&mut self, _uri: T) {}

    fn parameter<V: std::fmt::Display>(&mut self, _key: &str, _value: V) {}

    fn delimiter(&mut self) {}

    fn end(self) -> String {
        self.0
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters, as OAuth requires.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // A new file only (`create_new` does not follow a symlink planted at the name).
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Creates a directory (and its parents) readable by its owner only.
#[cfg(unix)]
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates a directory (and its parents).
#[cfg(not(unix))]
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Percent-decodes an OAuth parameter value (RFC 3986, as OAuth requires).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parameters of an `Authorization: OAuth ...` header, decoded; `None` if it is not OAuth.
pub fn parse_authorization(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header.trim().strip_prefix("OAuth")?.trim_start();
    let mut params = Vec::new();
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=')?;
        let value = value.trim().trim_matches('"');
        params.push((key.trim().to_string(), percent_decode(value)));
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            consumer_key: "image-builder".into(),
            consumer_secret: Secret::default(),
            access_token: Secret::new("PsK9cpbll1KwehhRDckr"),
            access_secret: Secret::new(
                "M2hsnmsfEIAjS3bTWg6t8X2GKhlm152PRDjLLmtQdr9C8KFZWPl9c8QbLfWddE0qpz5L56pMKKFKEfv1",
            ),
        }
    }

    #[test]
    fn authorization_header_is_launchpads_plaintext_format() {
        let header = credentials().authorization(
            "POST",
            "https://api.launchpad.net/devel/~o/p/+oci/redis/+recipe/r?ws.op=x",
            Some("4570291"),
            NonZeroU64::new(1700000000),
        );
        assert_eq!(
            header,
            "OAuth oauth_consumer_key=\"image-builder\",\
             oauth_nonce=\"4570291\",\
             oauth_signature_method=\"PLAINTEXT\",\
             oauth_timestamp=\"1700000000\",\
             oauth_token=\"PsK9cpbll1KwehhRDckr\",\
             oauth_version=\"1.0\",\
             oauth_signature=\"%26M2hsnmsfEIAjS3bTWg6t8X2GKhlm152PRDjLLmtQdr9C8KFZWPl9c8QbLfWddE0qpz5L56pMKKFKEfv1\""
        );
        let params = parse_authorization(&header).unwrap();
        let signature = params.iter().find(|(k, _)| k == "oauth_signature").unwrap();
        assert_eq!(
            signature.1,
            format!("&{}", credentials().access_secret.expose())
        );
    }

    #[test]
    fn fresh_headers_carry_a_nonce_and_timestamp() {
        let header = credentials().authorization("GET", "https://x/devel/", None, None);
        assert!(header.contains("oauth_nonce=\""), "{header}");
        assert!(header.contains("oauth_timestamp=\""), "{header}");
    }

    #[test]
    fn credentials_file_round_trips_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("ib-creds-{}", std::process::id()));
        let path = dir.join("sub/credentials");
        credentials().save(&path).unwrap();
        assert_eq!(Credentials::load(&path).unwrap(), credentials());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn saving_replaces_the_file_whole_and_keeps_the_directory_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ib-creds-replace-{}", std::process::id()));
        let path = dir.join("private/credentials");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("other"), "x").unwrap();
        credentials().save(&path).unwrap();
        credentials().save(&path).unwrap();
        assert_eq!(Credentials::load(&path).unwrap(), credentials());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join("private")), 0o700);
        assert_eq!(mode(&path), 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.join("private")).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlinked_credentials_path_is_refused_both_ways() {
        let dir = std::env::temp_dir().join(format!("ib-creds-link-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("elsewhere");
        std::fs::write(&target, "not yours").unwrap();
        let link = dir.join("credentials");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let saved = credentials().save(&link).unwrap_err();
        assert!(matches!(saved, CredentialsError::Symlink { .. }), "{saved}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "not yours");
        let loaded = Credentials::load(&link).unwrap_err();
        assert!(
            loaded.to_string().contains("is a symbolic link"),
            "{loaded}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_malformed_line_is_named_by_number_and_its_value_never_shown() {
        let text = "[1]\nconsumer_key = a\nsuper-secret-token-value\naccess_secret = b\n";
        let error = Credentials::parse(text, "f").unwrap_err().to_string();
        assert!(error.contains("line 3 in [1]"), "{error}");
        assert!(!error.contains("super-secret"), "{error}");
        let text = "[1]\n= orphan-secret-value\n";
        let error = Credentials::parse(text, "f").unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        assert!(!error.contains("orphan-secret"), "{error}");
    }

    #[test]
    fn launchpadlibs_own_file_parses() {
        let text = "[1]\nconsumer_key = my-app\nconsumer_secret = \naccess_token = abc\naccess_secret = def\n";
        let parsed = Credentials::parse(text, "f").unwrap();
        assert_eq!(parsed.consumer_key, "my-app");
        assert!(parsed.consumer_secret.is_empty());
        assert_eq!(parsed.access_secret.expose(), "def");
        let missing = Credentials::parse("[1]\nconsumer_key = a\n", "f").unwrap_err();
        assert!(
            missing.to_string().contains("`consumer_secret` is missing"),
            "{missing}"
        );
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let shown = format!("{:?}", credentials());
        assert!(!shown.contains("PsK9"), "{shown}");
        assert!(!shown.contains("M2hs"), "{shown}");
    }

    #[test]
    fn percent_encoding_round_trips() {
        for text in ["&abc", "a b/c+d", "é~-._"] {
            assert_eq!(percent_decode(&percent_encode(text)), text);
        }
        assert_eq!(percent_encode("&x y"), "%26x%20y");
    }

    #[test]
    fn percent_decoding_handles_escapes_and_stray_percents() {
        assert_eq!(percent_decode("%26abc"), "&abc");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%é%41"), "%éA");
    }
}
