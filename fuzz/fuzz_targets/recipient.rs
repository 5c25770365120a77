//! Any text as a recipient: parsing must never panic, and a recipient that parses must read
//! back the same from its canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsgrant::seal::Recipient;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(recipient) = text.parse::<Recipient>() {
        let again: Recipient = recipient.to_string().parse().expect("the canonical form parses");
        assert_eq!(again.fingerprint(), recipient.fingerprint());
    }
});
