//! The QUIC client protocol's framing and requests as the node reads them: `read_frame` over
//! the stream's bytes (bounded by `MAX_REQUEST`, or a small cap to reach `TooLarge`) and
//! `Request::from_bytes` on each frame body. Both canonical: `frame(body)` gives back the
//! bytes a frame was read from, and a parsed request re-encodes to exactly its body.
#![no_main]
use curtain::protocol::quic::{frame, read_frame, Request, MAX_REQUEST};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for max in [MAX_REQUEST, 64] {
        let mut rest = data;
        loop {
            let before = rest;
            match futures::executor::block_on(read_frame(&mut rest, max)) {
                Ok(Some(body)) => {
                    let used = before.len() - rest.len();
                    assert_eq!(frame(&body), &before[..used], "frame re-encodes differently");
                    if let Ok(req) = Request::from_bytes(&body) {
                        assert_eq!(req.to_bytes(), body, "request re-encodes differently");
                    }
                }
                Ok(None) => {
                    assert!(rest.is_empty());
                    break;
                }
                Err(_) => break,
            }
        }
    }
    if let Ok(req) = Request::from_bytes(data) {
        assert_eq!(req.to_bytes(), data, "request re-encodes differently");
    }
});
