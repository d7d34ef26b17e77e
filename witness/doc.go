// Package witness is an independent transparency-log witness: it implements
// the add-checkpoint and checkpoint-retrieval APIs of [c2sp.org/tlog-witness]
// for logs that publish [c2sp.org/tlog-checkpoint] checkpoints as
// [c2sp.org/signed-note] notes, and cosigns the checkpoints that are
// consistent with what it cosigned before, with timestamped Ed25519
// cosignature/v1 signatures of [c2sp.org/tlog-cosignature]. It reads the
// logs it witnesses from a list in the witness network's logs/v0 format
// ([witness-network.org/log-list-format]).
//
// It imports nothing else of vigil, so it can witness logs that vigil does
// not run.
//
// # add-checkpoint
//
// A request body is an old size line, up to 63 consistency proof lines, an
// empty line and the signed checkpoint:
//
//	old 4
//	lK+4osoFHAVFjqOdzRmxvWjn4zUp8QtDnSphWlH2NuI=
//
//	example.com/log
//	7
//	mMl/C6MXXNCLAx3QhLncTmSbZNGijm6mlGRlAxc6tYc=
//
//	— example.com/log pbAbU9BptxHJ3WmOT/HkThGmK3gSB/7rOSk+vih6tAak4z/k2svXWP36LDZPag50mTQV5FSVMMazPGFKKtX73ETImwc=
//
// The witness answers, checking in the specification's order:
//
//   - 400 for a body that does not parse ([ErrMalformed]);
//   - 404 for an origin not in its list of logs;
//   - 403 when no signature by a key of the log is present, or one whose key
//     name and ID match a key of the log does not verify;
//   - 400 for an old size larger than the checkpoint's;
//   - 409, with Content-Type text/x.tlog.size and the size in decimal, when
//     the old size is not the size of the checkpoint it cosigned last for the
//     log (0 if none);
//   - 422 when the checkpoint is inconsistent with that one: a consistency
//     proof that does not verify, a proof sent with old size 0, a checkpoint
//     of size 0 whose root is not the empty tree's, or the same size with
//     another root: a fork, which the current draft of the specification
//     (C2SP/C2SP#280) answers with 422 where v1.0.0 said 409;
//   - 200 with the cosignature line, "— <witness name> <base64>\n", once the
//     cosigned checkpoint is durably stored;
//   - 503 with Retry-After while the witness closes or when the log's lock
//     stays busy for 10 s, and 500 when storing fails (the log is then
//     refused until a restart).
//
// A log's first checkpoint is accepted on trust with old size 0 and no proof,
// whatever its size: the specification compares the old size with 0 when the
// witness never cosigned for the log, and the empty tree is consistent with
// every tree.
//
// A validly signed checkpoint of the size the witness cosigned last but with
// another root proves that the log forked. The witness keeps both
// checkpoints under evidence/ in its state directory, counts the request in
// witness_forks_detected_total and logs it at level Error, whatever the old
// size of the request.
//
// # Monitoring
//
// GET /<origin hash>/checkpoint, where the origin hash is the lowercase hex
// SHA-256 of the origin line, serves the latest checkpoint the witness
// cosigned for the log: its text, the log's signatures the witness verified
// and the witness's cosignature. It is 404 until the witness cosigns one.
//
// # Logs list
//
// The logs/v0 format, parsed by [ParseLogs]: comments (#) and blank lines are
// ignored, and every line is trimmed of surrounding spaces. Each log is a vkey
// line (an Ed25519 note verifier key), an optional origin line (default: the
// key's name), a qpd line and a contact line, in this order.
//
//	logs/v0
//
//	# one item per log
//	vkey example.com/log+a5b01b53+ARxKRXN3If8k2yAnmz8yvcFkykKDzWgqgAjz55MeLVrm
//	qpd 86400
//	contact ops@example.com
//
//	vkey other-key-name+42bc1044+AdkRa2qAindNU93q10iQrOnITWwJGVkZW8E46oCacHDG
//	origin other.example/log
//	qpd 24
//	contact https://other.example/contact
//
// # State directory
//
//	LOCK                     flock(2)ed while a Witness has the directory open
//	checkpoints/<origin hash>  the latest cosigned checkpoint of a log, as GET serves it
//	evidence/<origin hash>-<size>-<digest>/  a fork: the files cosigned (the witness's
//	                         checkpoint), conflicting (the log's other one, as received)
//	                         and info (origin, size, time of detection)
//
// The size and root the witness builds on are those of the stored
// checkpoint. It is replaced by writing a temporary file, fsyncing it,
// renaming it into place and fsyncing the directory, all before the
// cosignature is sent, with the log's lock held from the check of the old
// size on. So after a crash at any moment, kill -9 included, the stored
// checkpoint is at least as new as every cosignature that left, and the
// witness never cosigns a checkpoint inconsistent with one it cosigned
// before. Temporary files left by a crash are removed at start.
//
// Pull mode (Witness.Follow, vigil-witness --follow) serves logs that do not
// push: the witness reads a log's checkpoint over its tlog-tiles API, builds
// the consistency proof from the tiles, and cosigns through the same checks.
//
// Not implemented yet: enforcing qpd, and ML-DSA-44 cosignatures.
//
// [c2sp.org/tlog-witness]: https://c2sp.org/tlog-witness
// [c2sp.org/tlog-checkpoint]: https://c2sp.org/tlog-checkpoint
// [c2sp.org/signed-note]: https://c2sp.org/signed-note
// [c2sp.org/tlog-cosignature]: https://c2sp.org/tlog-cosignature
// [witness-network.org/log-list-format]: https://witness-network.org/log-list-format
package witness
