//! The read front of a Spin build split in two (spin.toml): it answers GET and
//! HEAD itself, with only the handlers a read reaches, and passes every other
//! request on to the Spin component that runs the whole composition, through
//! Spin's local service chaining (`http://depot-writes.spin.internal`). Spin
//! routes by path, not by method; without the split, every GET would
//! instantiate the write handlers too.
//!
//! The request goes on as the client sent it (method, path, headers, body
//! streamed in bounded chunks), with the host the client used in
//! `x-forwarded-host`, since a `wasi:http` request cannot set `host`; the
//! answer comes back the same way.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingRequest, IncomingResponse, Method, OutgoingBody,
    OutgoingRequest, OutgoingResponse, ResponseOutparam, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::error::ApiError;
use crate::request::{FORWARDED_HOST, header};
use crate::response::{Response, SendError};

/// The Spin component that serves writes (its id in spin.toml), as Spin's
/// local service chaining names it.
pub const WRITES_AUTHORITY: &str = "depot-writes.spin.internal";

/// Most bytes moved between two streams at a time.
const CHUNK: u64 = 64 * 1024;

/// Headers that are not passed on: hop-by-hop ones, which `wasi:http` refuses
/// on a message it is given, `host` (the authority says where the request
/// goes) and the forwarded host, which this front sets itself.
const NOT_PASSED_ON: &[&str] = &[
    "connection",
    "host",
    "http2-settings",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    FORWARDED_HOST,
];

/// Passes `request` on to the writes component and relays its answer to
/// `out`; when it cannot be reached, answers 502 saying why.
pub fn forward(request: IncomingRequest, method: Method, out: ResponseOutparam) {
    let path = request.path_with_query().unwrap_or_else(|| "/".to_string());
    match send(&request, &method, &path) {
        Ok(response) => relay(response, out),
        Err(e) if path.starts_with("/v2/") => {
            crate::oci::with_version(crate::oci::error(&e.into())).send(out, false);
        }
        Err(e) => Response::error(&e).send(out, false),
    }
}

/// The headers of a message, without those that are not passed on, and with
/// `extra`.
fn passed_on(fields: &Fields, extra: Option<(&str, String)>) -> Result<Fields, ApiError> {
    let mut entries: Vec<(String, Vec<u8>)> = fields
        .entries()
        .into_iter()
        .filter(|(name, _)| !NOT_PASSED_ON.contains(&name.to_ascii_lowercase().as_str()))
        .collect();
    if let Some((name, value)) = extra {
        entries.push((name.to_string(), value.into_bytes()));
    }
    Fields::from_list(&entries)
        .map_err(|e| ApiError::bad_request(format!("a header cannot be passed on ({e:?})")))
}

/// Sends the request, its body streamed, and waits for the answer's head.
fn send(
    request: &IncomingRequest,
    method: &Method,
    path: &str,
) -> Result<IncomingResponse, ApiError> {
    let host = header(request, "host").or_else(|| request.authority());
    let headers = passed_on(&request.headers(), host.map(|host| (FORWARDED_HOST, host)))?;
    let outgoing = OutgoingRequest::new(headers);
    let set = outgoing
        .set_method(method)
        .and_then(|()| outgoing.set_scheme(Some(&Scheme::Http)))
        .and_then(|()| outgoing.set_authority(Some(WRITES_AUTHORITY)))
        .and_then(|()| outgoing.set_path_with_query(Some(path)));
    if set.is_err() {
        return Err(ApiError::bad_request(format!(
            "the request for {path} cannot be passed on; check its method and path"
        )));
    }
    let body = outgoing
        .body()
        .map_err(|()| ApiError::handler_failed("the forwarded request's body was taken"))?;
    let pending = outgoing_handler::handle(outgoing, None).map_err(|e| unreachable_writes(&e))?;

    let copied = copy_request_body(request, &body);
    // Finishing checks the length against a `content-length` sent. It fails
    // too when the writes component answered without reading the whole body
    // (a refusal, say): its answer then stands.
    let finished = OutgoingBody::finish(body, None);
    loop {
        match pending.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(e))) => return Err(request_failed(&e, finished.err(), copied.err())),
            Some(Err(())) => {
                return Err(ApiError::handler_failed(
                    "the writes component's answer was already taken",
                ));
            }
            None => pending.subscribe().block(),
        }
    }
}

/// Streams the client's body into `body`. Stops early, without error, when
/// the writes component stops reading (it answered without the rest).
fn copy_request_body(request: &IncomingRequest, body: &OutgoingBody) -> Result<(), String> {
    let Ok(incoming) = request.consume() else {
        return Ok(());
    };
    match pipe(incoming, body) {
        // Flushed, or nobody reads it any more.
        Ok(()) | Err(Piped::Flush(_)) => Ok(()),
        Err(Piped::Failed(e)) => Err(e),
        Err(Piped::NoStreams) => Err("the request body cannot be streamed".to_string()),
    }
}

/// Why [`pipe`] stopped short.
enum Piped {
    /// A body's stream could not be had.
    NoStreams,
    /// Reading or writing failed, for this reason.
    Failed(String),
    /// Everything was moved; flushing it failed (closed: nobody reads).
    Flush(StreamError),
}

/// Moves everything `incoming` holds into `body`, a chunk at a time, until
/// either side is closed, then flushes it. The trailers are not passed on.
fn pipe(incoming: IncomingBody, body: &OutgoingBody) -> Result<(), Piped> {
    let (Ok(input), Ok(output)) = (incoming.stream(), body.write()) else {
        return Err(Piped::NoStreams);
    };
    let piped = loop {
        match output.blocking_splice(&input, CHUNK) {
            Ok(_) => {}
            // The end of the input, or the output gone: the flush tells.
            Err(StreamError::Closed) => break output.blocking_flush().map_err(Piped::Flush),
            Err(StreamError::LastOperationFailed(e)) => {
                break Err(Piped::Failed(e.to_debug_string()));
            }
        }
    };
    // The streams are their bodies' children: gone before the bodies finish.
    drop(output);
    drop(input);
    drop(IncomingBody::finish(incoming));
    piped
}

/// Relays the writes component's answer: status, headers, body.
fn relay(response: IncomingResponse, out: ResponseOutparam) {
    let headers = match passed_on(&response.headers(), None) {
        Ok(headers) => headers,
        Err(e) => return Response::error(&e).send(out, false),
    };
    let outgoing = OutgoingResponse::new(headers);
    // A status the writes component sent is a valid one.
    let _ = outgoing.set_status_code(response.status());
    let Ok(body) = outgoing.body() else {
        return ResponseOutparam::set(out, Ok(outgoing));
    };
    ResponseOutparam::set(out, Ok(outgoing));
    let relayed = relay_body(&response, &body).and_then(|()| {
        OutgoingBody::finish(body, None)
            .map_err(|e| SendError::Failed(format!("finishing the body failed: {e:?}")))
    });
    match relayed {
        // A client going away mid-answer is normal.
        Ok(()) | Err(SendError::ClientGone) => {}
        Err(SendError::Failed(e)) => {
            eprintln!("depot-api: the writes component's answer was not relayed in full: {e}");
        }
    }
}

fn relay_body(response: &IncomingResponse, body: &OutgoingBody) -> Result<(), SendError> {
    let incoming = response
        .consume()
        .map_err(|()| "the answer's body was taken".to_string())?;
    pipe(incoming, body).map_err(|e| match e {
        Piped::NoStreams => "the answer's body cannot be streamed".to_string().into(),
        Piped::Failed(e) => SendError::Failed(format!("relaying the answer failed: {e}")),
        Piped::Flush(e) => SendError::stream(e, "flushing the answer failed"),
    })
}

/// The writes component could not be asked at all.
fn unreachable_writes(e: &ErrorCode) -> ApiError {
    ApiError::writes_unavailable(format!(
        "this registry's writes (the Spin component `depot-writes`, at \
         http://{WRITES_AUTHORITY}) cannot be reached ({e:?}); check that spin.toml serves it \
         and lets this component reach it in `allowed_outbound_hosts`"
    ))
}

/// The forwarded request got no answer (`e`): the client's body was cut
/// short (finishing it failed with `finish_error`, or reading it with
/// `copy_error`), or the writes component could not be reached.
fn request_failed(
    e: &ErrorCode,
    finish_error: Option<ErrorCode>,
    copy_error: Option<String>,
) -> ApiError {
    let short = |code: &ErrorCode| matches!(code, ErrorCode::HttpRequestBodySize(_));
    if short(e) || finish_error.as_ref().is_some_and(short) {
        return ApiError::bad_request(
            "the request body did not match its content-length; send the whole body",
        );
    }
    match copy_error {
        Some(copy) => ApiError::bad_request(format!(
            "the request body could not be read ({copy}); send it again"
        )),
        None => unreachable_writes(e),
    }
}
