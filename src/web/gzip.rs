//! Pages and events gzipped for a browser that takes it: a fleet page of 60 images on 4 series
//! is about 150 kB of HTML (the Launchpad links of 240 cells) and about a tenth of that
//! gzipped. A live page's events are one gzip stream, flushed after each event, so the browser
//! reads each as it comes and what repeats between them costs little.

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Whether the request says it takes gzip (`Accept-Encoding: gzip`, not with `q=0`).
pub(super) fn accepted(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next() == Some("gzip")
                && !parts.any(|p| {
                    let weight = p.strip_prefix("q=").map(|q| q.trim().parse::<f32>());
                    matches!(weight, Some(Ok(q)) if q == 0.0)
                })
        })
}

/// Gzips an answer made whole in memory (a page, the style, the script) when the request takes
/// it; an answer that chose its own encoding (the events) is left as it is.
pub(super) async fn squeeze(request: Request, next: Next) -> Response {
    let gzip = accepted(request.headers());
    let response = next.run(request).await;
    if !gzip || response.headers().contains_key(header::CONTENT_ENCODING) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    mark(&mut parts.headers);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(whole(&bytes)))
}

/// The headers of a gzipped answer.
pub(super) fn mark(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
}

/// A whole body, gzipped.
pub(super) fn whole(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 8), Compression::fast());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// A stream of chunks, each readable once sent: gzipped (flushed after each) or as they are.
pub(super) enum Stream {
    Plain,
    Gzip(Box<GzEncoder<Vec<u8>>>),
}

impl Stream {
    pub(super) fn new(gzip: bool) -> Stream {
        if gzip {
            Stream::Gzip(Box::new(GzEncoder::new(Vec::new(), Compression::fast())))
        } else {
            Stream::Plain
        }
    }

    /// The bytes to send for `chunk`.
    pub(super) fn chunk(&mut self, chunk: &[u8]) -> Bytes {
        match self {
            Stream::Plain => Bytes::copy_from_slice(chunk),
            Stream::Gzip(encoder) => {
                encoder.write_all(chunk).expect("writing to memory");
                // A sync flush: everything written so far can be decoded.
                encoder.flush().expect("writing to memory");
                Bytes::from(std::mem::take(encoder.get_mut()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn gzip_is_used_only_when_taken_and_each_chunk_reads_at_once() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
            headers
        };
        assert!(accepted(&headers("gzip, deflate, br")));
        assert!(accepted(&headers("br;q=1.0, gzip;q=0.8")));
        assert!(!accepted(&headers("gzip;q=0")));
        assert!(!accepted(&headers("gzip; q=0.0")));
        assert!(!accepted(&headers("identity")));
        assert!(!accepted(&HeaderMap::new()));
        let mut stream = Stream::new(true);
        let mut sent = Vec::new();
        for event in ["event: page\ndata: one\n\n", "event: page\ndata: two\n\n"] {
            sent.extend_from_slice(&stream.chunk(event.as_bytes()));
            // What was sent so far decodes to every event so far (the stream is not ended).
            let mut decoded = String::new();
            let mut decoder = flate2::read::GzDecoder::new(&sent[..]);
            let _ = decoder.read_to_string(&mut decoded);
            assert!(decoded.ends_with(event), "{decoded:?}");
        }
        let mut page = String::new();
        flate2::read::GzDecoder::new(&whole(b"<p>hi</p>")[..])
            .read_to_string(&mut page)
            .unwrap();
        assert_eq!(page, "<p>hi</p>");
    }
}
