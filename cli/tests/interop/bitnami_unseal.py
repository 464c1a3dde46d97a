#!/usr/bin/env python3
"""An independent Sealed Secrets unsealer, written from the format description
(not from gitseal's code), to check that what gitseal seals opens elsewhere.

Usage: bitnami_unseal.py KEY.pem < sealedsecret.json
Prints {"item": "<base64 plaintext>", ...} as JSON.

Format: base64( u16be len(R) || R || AES-GCM(session key, nonce=0^12, no AAD) ),
R = RSA-OAEP(SHA-256, MGF1-SHA-256, label) of the session key; label is
"<ns>/<name>" (strict), "<ns>" (namespace-wide) or "" (cluster-wide), chosen by
the SealedSecret's own metadata annotations.
"""
import base64
import json
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def label_for(meta):
    ann = meta.get("annotations") or {}
    ns, name = meta.get("namespace", ""), meta.get("name", "")
    if ann.get("sealedsecrets.bitnami.com/cluster-wide") == "true":
        return b""
    if ann.get("sealedsecrets.bitnami.com/namespace-wide") == "true":
        return ns.encode()
    return f"{ns}/{name}".encode()


def main():
    with open(sys.argv[1], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    sealed = json.load(sys.stdin)
    label = label_for(sealed["metadata"])
    out = {}
    for item, value in sealed["spec"]["encryptedData"].items():
        raw = base64.b64decode(value, validate=True)
        (rsa_len,) = struct.unpack(">H", raw[:2])
        wrapped, body = raw[2 : 2 + rsa_len], raw[2 + rsa_len :]
        session = key.decrypt(
            wrapped,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None),
        )
        plain = AESGCM(session).decrypt(b"\0" * 12, body, None)
        out[item] = base64.b64encode(plain).decode()
    json.dump(out, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
