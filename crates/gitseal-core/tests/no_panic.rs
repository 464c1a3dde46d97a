//! Every parser that sees user input returns an error instead of panicking.

use gitseal_core::keys::{Certificate, parse_private_keys};
use gitseal_core::manifest::{decode_text, parse_documents};
use gitseal_core::seal::InputSecret;
use gitseal_core::unseal::{UnsealOptions, unseal, unseal_raw};
use gitseal_core::{Scope, hybrid};
use proptest::prelude::*;

/// YAML-ish text: manifest punctuation, anchors, tags, quotes and indentation.
fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("apiVersion: v1\n".to_string()),
            Just("kind: Secret\n".to_string()),
            Just("kind: SealedSecret\n".to_string()),
            Just("kind: List\nitems:\n".to_string()),
            Just("metadata:\n  name: x\n".to_string()),
            Just("data:\n  a: ".to_string()),
            Just("stringData: {a: 1}\n".to_string()),
            Just("spec:\n  encryptedData:\n    a: AgA=\n".to_string()),
            Just("---\n".to_string()),
            Just("&a [*a]\n".to_string()),
            Just("!!binary ".to_string()),
            Just("{\"kind\":".to_string()),
            Just("- ".to_string()),
            Just("  ".to_string()),
            "[ -~]{0,12}".prop_map(|s| s),
            Just("\n".to_string()),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn manifests(text in yamlish()) {
        if let Ok(docs) = parse_documents(&text) {
            for d in docs {
                let _ = InputSecret::from_value(&d.value);
                if let Ok(ss) = serde_json::from_value::<gitseal_api::SealedSecret>(d.value) {
                    let _ = gitseal_core::validate::check_structure(&ss, None);
                    let _ = unseal::<gitseal_core::PrivateKey>(&ss, &[], UnsealOptions { accept_deprecated_v1_data: true, ..Default::default() });
                }
            }
        }
    }

    #[test]
    fn raw_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_text(&bytes);
        let _ = parse_private_keys(&bytes);
        let _ = Certificate::from_pem(&bytes);
        let _ = Certificate::from_der(&bytes);
        let _ = hybrid::declared_rsa_len(&bytes);
        let _ = hybrid::decrypt([], b"", &bytes);
        let _ = unseal_raw(&String::from_utf8_lossy(&bytes), &[], Scope::Strict, "n", "x");
    }

    #[test]
    fn templates(src in "[{}. |a-z0-9\"()$:=%\\`'-]{0,80}") {
        let data = [("a".to_string(), b"1".to_vec())].into();
        let _ = gotemplate::render(&src, &data);
    }
}
