// Package client is the verifying side of vigil and the home of every format
// the log and its clients share: the evidence model (DSSE envelopes carrying
// in-toto statements, the five entry kinds, UDIs, keys), the canonical leaf,
// the authority rules folded from the log's history, C2SP tlog-proofs and
// evidence bundles, and a small HTTP client for a log's API. It imports no
// other package of vigil's and nothing of Tessera's server side, so anyone
// can verify vigil's evidence with it alone.
//
// # Submissions
//
// Every entry is a [DSSE] envelope whose payload type is
// "application/vnd.in-toto+json" and whose payload is an [in-toto Statement
// v1]. It carries exactly one signature, whose keyid is the signer's key ID:
// the lowercase hex SHA-256 of its DER SubjectPublicKeyInfo. Keys are Ed25519
// or ECDSA P-256; an ECDSA signature is ASN.1 DER over SHA-256 of the DSSE
// pre-authentication encoding, as cosign makes them.
//
// The statement's predicateType names the entry's kind:
//
//	kind          predicateType                          signed by
//	enrollment    https://vigil.dev/enrollment/v1        a trust-root manufacturer key
//	attestation   https://vigil.dev/attestation/v1       the enrolled device key
//	sbom          https://cyclonedx.org/bom[/vX.Y]       a manufacturer key
//	              https://spdx.dev/Document[/vX.Y]
//	revocation    https://vigil.dev/revocation/v1        a manufacturer key
//	field-action  https://vigil.dev/field-action/v1      a manufacturer key
//
// Predicates are JSON objects; unknown fields are refused. Digests are
// lowercase hex SHA-256; times are RFC 3339.
//
// Enrollment binds a device's UDI to its hardware-rooted key. The subject is
// {"name": <UDI in canonical form>, "digest": {"sha256": <device key ID>}}.
// proofOfPossession is the device key's signature over
// PossessionMessage(udi, manufacturer key ID), so an enrollment cannot be
// made for a key the device does not hold, nor replayed elsewhere.
//
//	{
//	  "udi": "(01)00614141999996(21)PUMP0001",          // GS1, HIBCC or ICCBBA human-readable form, with serial
//	  "deviceKey": "-----BEGIN PUBLIC KEY-----\n...",   // PKIX PEM, Ed25519 or P-256
//	  "model": "Acme IP-300 infusion pump",             // 1-1024 bytes
//	  "binding": {"type": "secure-element",             // "puf", "secure-element" or "tpm"
//	              "evidence": "<base64, 1-8192 bytes>"},
//	  "proofOfPossession": "<base64 signature>"
//	}
//
// Attestation is a device's report of its state. The subject is
// {"name": <UDI>, "digest": {"sha256": <firmware digest>}}. Attestations of a
// device form a chain: seq counts from 0, prev is the SHA-256 of the previous
// attestation's payload (empty for seq 0). The log records chain breaks rather
// than refusing them; an audit reports them.
//
//	{
//	  "udi": "(01)00614141999996(21)PUMP0001",
//	  "seq": 1,
//	  "prev": "<sha256 of the seq 0 payload>",
//	  "time": "2026-11-21T09:00:00Z",                    // the device's clock
//	  "firmware": {"version": "4.2.1", "digest": "<sha256 of the image>"},
//	  "configDigest": "<sha256 of the configuration baseline>",
//	  "measurements": [{"name": "bootloader", "digest": "<sha256>"}],  // at most 64
//	  "verdict": "pass"                                  // "pass", "fail" or "unknown"
//	}
//
// SBOM statements carry a CycloneDX or SPDX JSON document as the predicate
// (parsed with the CycloneDX and SPDX Go libraries) and have one subject: the
// firmware image, named, with its sha256 digest. An SBOM envelope may be up to
// 16 MiB; its payload is stored as a blob and the leaf commits to its digest.
//
// Revocation withdraws a device key, a UDI, a firmware build or a
// manufacturer key, from its position in the log on. Key and firmware targets
// are named by hex SHA-256 (key ID or image digest), a UDI by its text. The
// subject is {"name": <target type>, "digest": {"sha256": <target ID, or the
// SHA-256 of the UDI text>}} (see NewStatement).
//
//	{
//	  "target": {"type": "device-key", "id": "<key ID>"},  // device-key, udi, firmware, manufacturer-key
//	  "reason": "key extracted from a returned unit",
//	  "effective": "2026-11-20T00:00:00Z"
//	}
//
// A field action is a field safety corrective action (FSCA) or recall. Its
// subject is {"name": <id>, "digest": {"sha256": <SHA-256 of the predicate's
// JSON exactly as it appears in the statement>}}.
//
//	{
//	  "id": "FSCA-2026-0042",
//	  "title": "Occlusion alarm may not sound",
//	  "issued": "2026-11-21T00:00:00Z",
//	  "affected": {"firmware": ["<sha256>"], "udiDIs": ["(01)00614141999996"]},
//	  "remedy": {"version": "4.2.2", "digest": "<sha256>"},  // optional
//	  "references": ["EU MDR Art. 89 FSN 2026-11"]          // optional
//	}
//
// # Authority
//
// State.Check holds the rules the log applies before it accepts an entry,
// against the state folded from the entries before it: the signer is a
// trust-root manufacturer key (or, for an attestation, an enrolled device
// key), not revoked, and its signature verifies; an enrollment's UDI-DI lies
// under the manufacturer's prefixes, its proof of possession verifies, and
// neither the device key nor the UDI is bound already; an SBOM's firmware is
// not another manufacturer's; revocations and field actions name only the
// signer's own devices, UDI-DIs, firmware and keys. Trust roots are a file the
// operator and every verifier hold (ParseTrustRoots). Revoking a manufacturer
// key stops its own later entries; the devices it enrolled keep their keys
// until they are revoked themselves. Attestation chains are not enforced at
// admission: a gap or fork is evidence to record, and an audit reports it.
//
// # Leaves and evidence
//
// The log stores each accepted entry as a Leaf: a small deterministic binary
// encoding, described on the type, of at most 65,535 bytes. An accepted
// entry's evidence is a Bundle, whose core is a [C2SP tlog-proof] with the
// leaf as its extra data; Bundle.Verify checks it offline.
//
// # Trusted state, audit and questions
//
// A Tracker keeps a client's latest policy-verified checkpoint of a log and
// proves every newer one consistent from tiles (a contradiction is a
// ForkProof). Audit replays the whole log and yields a Fact per entry to an
// Indexer: the same fold builds the log server's query index and an
// auditor's own. A Querier asks the log's query API (devices, histories,
// state at a time, impact of a package URL or an [OSV] advisory, field
// actions) and proves every item of each answer before returning it.
//
// [DSSE]: https://github.com/secure-systems-lab/dsse
// [in-toto Statement v1]: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
// [C2SP tlog-proof]: https://c2sp.org/tlog-proof
// [OSV]: https://ossf.github.io/osv-schema/
package client
