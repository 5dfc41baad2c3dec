//! Header parsing: never panics; a parsed header writes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel::Header;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, payload)) = Header::parse(data) {
        let mut written = Vec::new();
        header.write(&mut written);
        // Writing picks the canonical (shortest) form, so a header read in the extended
        // form without need comes back shorter; its meaning must not change.
        assert!(written.len() + payload.len() <= data.len());
        let (again, rest) = Header::parse(&written).expect("a written header parses");
        assert_eq!(again, header);
        assert!(rest.is_empty());
        let _ = header.verify(payload);
    }
});
