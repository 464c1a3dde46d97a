// Command go-unseal opens SealedSecrets with Go's standard library, making the
// same calls as the Sealed Secrets controller (crypto/rsa.DecryptOAEP with
// SHA-256, AES-GCM with a zero nonce). It is written from the format description,
// not from gitseal's code, and proves that what gitseal seals, that controller
// can unseal.
//
// Usage: go-unseal KEY.pem < sealedsecret.json
// Prints {"item": "<base64 plaintext>", ...}.
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
)

type sealedSecret struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		EncryptedData map[string]string `json:"encryptedData"`
	} `json:"spec"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	keyPEM, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		fail("no PEM block")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		fail("%v", err)
	}
	var ss sealedSecret
	if err := json.NewDecoder(os.Stdin).Decode(&ss); err != nil {
		fail("%v", err)
	}
	label := []byte(ss.Metadata.Namespace + "/" + ss.Metadata.Name)
	if ss.Metadata.Annotations["sealedsecrets.bitnami.com/cluster-wide"] == "true" {
		label = []byte{}
	} else if ss.Metadata.Annotations["sealedsecrets.bitnami.com/namespace-wide"] == "true" {
		label = []byte(ss.Metadata.Namespace)
	}
	out := map[string]string{}
	for item, value := range ss.Spec.EncryptedData {
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			fail("%s: %v", item, err)
		}
		if len(raw) < 2 {
			fail("%s: too short", item)
		}
		rsaLen := int(binary.BigEndian.Uint16(raw))
		if len(raw) < rsaLen+2 {
			fail("%s: too short", item)
		}
		sessionKey, err := rsa.DecryptOAEP(sha256.New(), rand.Reader, key, raw[2:2+rsaLen], label)
		if err != nil {
			fail("%s: %v", item, err)
		}
		blockCipher, err := aes.NewCipher(sessionKey)
		if err != nil {
			fail("%s: %v", item, err)
		}
		aead, err := cipher.NewGCM(blockCipher)
		if err != nil {
			fail("%s: %v", item, err)
		}
		plain, err := aead.Open(nil, make([]byte, aead.NonceSize()), raw[2+rsaLen:], nil)
		if err != nil {
			fail("%s: %v", item, err)
		}
		out[item] = base64.StdEncoding.EncodeToString(plain)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("%v", err)
	}
}
