//! The blob driver on an S3 bucket, over `wasi:http/outgoing-handler` with
//! SigV4-signed requests ([`crate::sigv4`]): the store's key-value layout
//! (`depot_store::blobs`), one object per key, so no request carries more
//! than one 256 KiB chunk and a blob is streamed in bounded pieces both ways.
//! A key `chunk:<data>:<n>` is the object `<prefix>/chunk/<data>/<n>`. Path-style
//! addressing (`<endpoint>/<bucket>/<object>`), which S3-compatible servers
//! and AWS both take. A blob's header is put create-only (`If-None-Match:
//! *`), so of two writers storing the same content one names its chunks and
//! the other discards its own.

use std::time::Duration;

use depot_store::blobs::Kv;
use depot_store::spin_variables::S3Variables;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions,
    Scheme,
};
use wasi::io::streams::StreamError;

use crate::sigv4::{self, Credentials};

/// How long a request may take to connect, or wait for a byte.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The most bytes one output-stream write takes (WASI's
/// `blocking-write-and-flush` limit).
const WRITE: usize = 4096;

/// The bucket, and how to reach it.
#[derive(Debug)]
pub struct S3 {
    scheme: Scheme,
    /// `host[:port]`, as the `host` header says it.
    authority: String,
    bucket: String,
    /// Every object's name starts with this and `/`.
    prefix: String,
    credentials: Credentials,
}

/// What a request answered.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl S3 {
    /// The bucket the variables name: `s3_endpoint` (`http://host:port` or
    /// `https://host`), `s3_bucket`, objects under `s3_prefix` (`a/b`:
    /// letters, digits, `-`, `_`, `.` and `/`), signed with the credentials
    /// for `s3_region`.
    pub fn new(variables: &S3Variables) -> Result<Self, String> {
        let (endpoint, bucket, prefix) = (
            variables.endpoint.as_str(),
            variables.bucket.as_str(),
            variables.prefix.as_str(),
        );
        let credentials = Credentials {
            access_key: variables.access_key.clone(),
            secret_key: variables.secret_key.clone(),
            region: variables.region.clone(),
        };
        let (scheme, authority) = if let Some(rest) = endpoint.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = endpoint.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(format!(
                "`s3_endpoint` is `{endpoint}`: give the S3 endpoint as http://host:port or https://host"
            ));
        };
        let authority = authority.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '@', '?']) {
            return Err(format!(
                "`s3_endpoint` is `{endpoint}`: give only a scheme, a host and a port"
            ));
        }
        if bucket.is_empty()
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            return Err(format!(
                "`s3_bucket` is `{bucket}`: a bucket name has lowercase letters, digits, `-` and `.`"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty()
            || prefix.split('/').any(str::is_empty)
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        {
            return Err(format!(
                "`s3_prefix` is `{prefix}`: give path segments of letters, digits, `-`, `_` and `.`"
            ));
        }
        Ok(Self {
            scheme,
            authority: authority.to_string(),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            credentials,
        })
    }

    /// The path of the object for `key`: `:` becomes `/`, and the store's
    /// keys hold nothing else that needs encoding (they are checked).
    fn path(&self, key: &str) -> Result<String, String> {
        if !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.'))
        {
            return Err(format!("`{key}` cannot name an object"));
        }
        Ok(format!(
            "/{}/{}/{}",
            self.bucket,
            self.prefix,
            key.replace(':', "/")
        ))
    }

    /// Sends one signed request and reads the whole answer (at most one
    /// chunk, or an error document).
    fn send(&self, method: Method, key: &str, body: &[u8]) -> Result<Answer, String> {
        self.send_if(method, key, body, false)
    }

    /// [`S3::send`]; with `if_absent`, a `PUT` that the bucket refuses (412)
    /// when the object exists already.
    fn send_if(
        &self,
        method: Method,
        key: &str,
        body: &[u8],
        if_absent: bool,
    ) -> Result<Answer, String> {
        let path = self.path(key)?;
        let verb = match method {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            _ => return Err("unsupported method".into()),
        };
        let payload = sigv4::payload_hash(body);
        let now = wasi::clocks::wall_clock::now();
        let date = sigv4::amz_date(now.seconds);
        let length = body.len().to_string();
        let mut signed = vec![
            ("host", self.authority.as_str()),
            ("x-amz-content-sha256", payload.as_str()),
            ("x-amz-date", date.as_str()),
        ];
        if matches!(method, Method::Put) {
            signed.push(("content-length", length.as_str()));
        }
        if if_absent {
            signed.push(("if-none-match", "*"));
        }
        let authorization = sigv4::authorization(
            &sigv4::Request {
                method: verb,
                path: &path,
                headers: &signed,
                payload_hash: &payload,
            },
            &date,
            &self.credentials,
        );
        let mut headers: Vec<(String, Vec<u8>)> = signed
            .iter()
            .filter(|(name, _)| *name != "host")
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        headers.push(("authorization".into(), authorization.into_bytes()));
        let fields = Fields::from_list(&headers).map_err(|e| format!("bad header: {e:?}"))?;
        let request = OutgoingRequest::new(fields);
        let set = request
            .set_method(&method)
            .and_then(|()| request.set_scheme(Some(&self.scheme)))
            .and_then(|()| request.set_authority(Some(&self.authority)))
            .and_then(|()| request.set_path_with_query(Some(&path)));
        if set.is_err() {
            return Err(format!("{verb} {path} cannot be requested"));
        }
        let options = RequestOptions::new();
        let nanos = u64::try_from(TIMEOUT.as_nanos()).unwrap_or(u64::MAX);
        // A runtime that does not support a timeout keeps its own.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        let outgoing = request.body().map_err(|()| "no request body".to_string())?;
        let pending = outgoing_handler::handle(request, Some(options))
            .map_err(|e| format!("{verb} {path}: {}", describe(&e)))?;
        if !body.is_empty() {
            let stream = outgoing
                .write()
                .map_err(|()| "the request body cannot be written".to_string())?;
            for piece in body.chunks(WRITE) {
                stream
                    .blocking_write_and_flush(piece)
                    .map_err(|e| format!("{verb} {path}: the body was cut off ({e:?})"))?;
            }
        }
        OutgoingBody::finish(outgoing, None)
            .map_err(|e| format!("{verb} {path}: {}", describe(&e)))?;
        let response = loop {
            match pending.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(e))) => return Err(format!("{verb} {path}: {}", describe(&e))),
                Some(Err(())) => return Err("the response was already taken".into()),
                None => pending.subscribe().block(),
            }
        };
        let status = response.status();
        let body = read(&response).map_err(|e| format!("{verb} {path}: {e}"))?;
        Ok(Answer { status, body })
    }
}

/// The whole body of `response`.
fn read(response: &IncomingResponse) -> Result<Vec<u8>, String> {
    let body = response
        .consume()
        .map_err(|()| "the response has no body".to_string())?;
    let stream = body
        .stream()
        .map_err(|()| "the response body cannot be read".to_string())?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(piece) => bytes.extend_from_slice(&piece),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!(
                    "the body broke off after {} bytes ({})",
                    bytes.len(),
                    e.to_debug_string()
                ));
            }
        }
    }
    Ok(bytes)
}

fn describe(e: &ErrorCode) -> String {
    match e {
        ErrorCode::DnsError(_) => "the S3 endpoint's host name does not resolve".to_string(),
        ErrorCode::ConnectionRefused => "the S3 endpoint refused the connection".to_string(),
        ErrorCode::HttpRequestDenied => {
            "the request was denied: is the S3 endpoint in the component's `allowed_outbound_hosts`?"
                .to_string()
        }
        other => format!("{other:?}"),
    }
}

/// What an error answer says: its status and S3's `<Code>`.
fn refused(answer: &Answer) -> String {
    let text = String::from_utf8_lossy(&answer.body);
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_string());
    match code {
        Some(code) => format!("the bucket answered HTTP {} ({code})", answer.status),
        None => format!("the bucket answered HTTP {}", answer.status),
    }
}

impl Kv for S3 {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let answer = self.send(Method::Get, key, &[])?;
        match answer.status {
            200 => Ok(Some(answer.body)),
            404 => Ok(None),
            _ => Err(refused(&answer)),
        }
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        let answer = self.send(Method::Put, key, value)?;
        match answer.status {
            200..=299 => Ok(()),
            _ => Err(refused(&answer)),
        }
    }

    fn set_new(&self, key: &str, value: &[u8]) -> Result<bool, String> {
        let answer = self.send_if(Method::Put, key, value, true)?;
        match answer.status {
            200..=299 => Ok(true),
            // 409: a conditional write racing another one.
            412 | 409 => Ok(false),
            _ => Err(refused(&answer)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        let answer = self.send(Method::Delete, key, &[])?;
        match answer.status {
            200..=299 | 404 => Ok(()),
            _ => Err(refused(&answer)),
        }
    }
}
