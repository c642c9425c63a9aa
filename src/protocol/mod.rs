//! What clients and members exchange over the client API: the JSON shapes of the HTTP API
//! (`json`, SPEC.md §7.1) and the QUIC framing and operations (`quic`, §7.2). Node-free: the
//! member's servers and the SDK's clients share them.

pub mod json;
pub mod quic;
