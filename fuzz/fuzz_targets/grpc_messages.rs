//! Arbitrary bytes as every request message of the gRPC services (what a hostile client
//! controls): decoding gives errors only, and what decodes re-encodes to a message that
//! decodes equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use satchel_grpc::proto;

fn check<M: Message + Default + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(message) = M::decode(data) {
        let again = M::decode(message.encode_to_vec().as_slice()).expect("re-encoded decodes");
        assert_eq!(again, message);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 10 {
        0 => check::<proto::GetRequest>(rest),
        1 => check::<proto::SetRequest>(rest),
        2 => check::<proto::DeleteRequest>(rest),
        3 => check::<proto::TouchRequest>(rest),
        4 => check::<proto::ScanRequest>(rest),
        5 => check::<proto::CreateSessionRequest>(rest),
        6 => check::<proto::OpenSessionRequest>(rest),
        7 => check::<proto::ExtendSessionRequest>(rest),
        8 => check::<proto::CloseSessionRequest>(rest),
        _ => check::<proto::Entry>(rest),
    }
});
