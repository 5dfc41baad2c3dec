//! Header parsing: never panics; a parsed header writes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel::Header;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, payload)) = Header::parse(data) {
        let mut written = Vec::new();
        header.write(&mut written);
        assert_eq!(written.len() + payload.len(), data.len());
        // The compact form is canonical, so a header may be re-written shorter only if it
        // was written in the extended form without need; its meaning must not change.
        let (again, _) = Header::parse(&written).expect("a written header parses");
        assert_eq!(again, header);
        let _ = header.verify(payload);
    }
});
