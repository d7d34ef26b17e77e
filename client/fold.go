package client

import "context"

// Fact is what one log entry tells an index, as Audit judges it: the entry,
// whether the log was right to accept it, and what the audit derived from
// the entries before it. A server's index and an auditor's local index are
// both built from Facts, by the same Audit, so their answers can be compared
// row for row.
type Fact struct {
	// Index is the entry's log index.
	Index uint64
	// Entry is the decoded entry; nil for a leaf that does not decode (its
	// anomaly says why).
	Entry *Entry
	// Accepted says the entry passes the log's checks against the entries
	// before it. An entry that does not was wrongly logged: it has an
	// anomaly that ShouldHaveBeenRefused, and an index must not let it
	// change any answer.
	Accepted bool
	// Manufacturer is the trust-root manufacturer behind the entry: the
	// signer of an enrollment, SBOM, revocation or field action, or, for an
	// attestation, the manufacturer that enrolled the device.
	Manufacturer string
	// Head says an accepted attestation advanced its device's chain (see
	// the chain anomalies): false for a fork, such as a clone's attestation,
	// or a repeat of the head.
	Head bool
	// Anomalies are the anomalies recorded at this index.
	Anomalies []Anomaly
}

// Indexer receives an audit's Facts. Audit calls it from one goroutine, in
// log order, and nowhere else; an implementation need not be safe for
// concurrent use by other callers while an audit runs.
//
// Add records the facts of the next entries, in order, with no gaps. They
// need not be durable until Commit(size), which makes every fact of an
// index below size durable and records size as the index's Size; Audit
// calls it before it persists its own state of that size. Adding a fact
// that was added before (an audit resuming from its last persisted state)
// must leave the index as if it was added once. Truncate(size) removes every
// fact of an index at or above size, so the index is again what Commit(size)
// left; Audit calls it when the entries read since its last verified state
// fail to match the log's root, and when it finds the index ahead of its
// state (a crash between the two commits). An index behind the audit's
// state (missing, say) makes Audit start again from the first entry.
type Indexer interface {
	Add(ctx context.Context, facts []Fact) error
	Commit(ctx context.Context, size uint64) error
	Truncate(ctx context.Context, size uint64) error
	Size(ctx context.Context) (uint64, error)
}
