package index

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"
)

// lapses make a lease's holder lose it as it would on each shared backend:
// on MySQL its lease connection dies (a crashed frontend); on Spanner its
// hold expires unrenewed (a frontend paused, or cut off from the database,
// for longer than the lease lasts).
var lapses = map[string]func(t *testing.T, l lease){
	"mysql": func(t *testing.T, l lease) {
		t.Helper()
		ll := l.(*lockLease)
		var id int64
		if err := ll.conn.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := ll.db.ExecContext(context.Background(), "KILL CONNECTION ?", id); err != nil {
			t.Fatal(err)
		}
	},
	"spanner": func(t *testing.T, l lease) {
		t.Helper()
		rl := l.(*rowLease)
		if _, err := rl.db.ExecContext(context.Background(), `UPDATE vigil_index_lease SET expiry = TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 SECOND) WHERE id = 0`); err != nil {
			t.Fatal(err)
		}
	},
}

// TestLeaseAndStore: one holder of the shared index's lease at a time; it
// passes on when its holder lets go or loses it; the audit state store
// keeps documents larger than a row, whole, for the holder only; and a
// holder that lost the lease writes nothing beside the next one, even with
// a write open as it passes on.
func TestLeaseAndStore(t *testing.T) {
	for _, sb := range sharedBackends {
		t.Run(sb.name, func(t *testing.T) { testLeaseAndStore(t, sb) })
	}
}

func testLeaseAndStore(t *testing.T, sb sharedBackend) {
	ctx := context.Background()
	open := sb.database(t)
	d := sharedDialect(open())
	lapse := lapses[sb.name]
	newL := func() lease {
		l, err := d.newLease(ctx, open())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b := newL(), newL()
	mustHold := func(l lease, want bool) {
		t.Helper()
		got, err := l.hold(ctx)
		if err != nil || got != want {
			t.Fatalf("hold = %v, %v; want %v", got, err, want)
		}
	}
	mustHold(a, true)
	mustHold(a, true) // a holder keeps it
	mustHold(b, false)
	a.release()
	mustHold(b, true)
	mustHold(a, false)

	// The holder loses the lease, and the other takes it.
	lapse(t, b)
	eventuallyHold(t, a)
	mustHold(b, false)

	dbA := open()
	sa, err := newSQLStore(ctx, dbA, d, a)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 2*storePart+12345)
	rand.Read(big)
	for _, doc := range [][]byte{big, []byte(`{"small":true}`)} {
		if err := sa.Write(ctx, "audit.json", doc); err != nil {
			t.Fatal(err)
		}
		got, err := sa.Read(ctx, "audit.json")
		if err != nil || !bytes.Equal(got, doc) {
			t.Fatalf("Read after Write of %d bytes = %d bytes, %v", len(doc), len(got), err)
		}
	}
	if err := sa.Remove(ctx, "audit.json"); err != nil {
		t.Fatal(err)
	}
	if got, err := sa.Read(ctx, "audit.json"); got != nil || err != nil {
		t.Errorf("Read after Remove = %q, %v", got, err)
	}
	if err := sa.Write(ctx, "progress.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := sa.clear(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := sa.Read(ctx, "progress.json"); got != nil || err != nil {
		t.Errorf("Read after clear = %q, %v", got, err)
	}
	if unlock, err := sa.Lock(ctx); err != nil {
		t.Errorf("Lock by the lease holder: %v", err)
	} else {
		unlock()
	}
	sb2, err := newSQLStore(ctx, open(), d, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb2.Lock(ctx); !errors.Is(err, ErrStandby) {
		t.Errorf("Lock without the lease = %v, want ErrStandby", err)
	}

	// a loses the lease while it goes on writing: once b holds it, a's
	// writes fail, in the store and in the index, though a never asked
	// again.
	x, err := sb.open(ctx, dbA)
	if err != nil {
		t.Fatal(err)
	}
	x.guard = a.guard
	if err := x.Truncate(ctx, 0); err != nil {
		t.Fatalf("a write under the lease: %v", err)
	}
	lapse(t, a)
	eventuallyHold(t, b)
	if err := sa.Write(ctx, "audit.json", []byte("{}")); !errors.Is(err, ErrStandby) {
		t.Errorf("a's store write after b took the lease = %v, want ErrStandby", err)
	}
	if err := x.Truncate(ctx, 0); !errors.Is(err, ErrStandby) {
		t.Errorf("a's index write after b took the lease = %v, want ErrStandby", err)
	}
	if err := x.Commit(ctx, 0); err != nil && !errors.Is(err, ErrStandby) {
		t.Errorf("a's index commit after b took the lease = %v", err)
	}

	// b loses the lease with a write open, and a takes it: b's write
	// commits before a's generation (MySQL makes a wait for it), or fails
	// (the Spanner emulator aborts it, and its replay finds the lease
	// gone).
	y, err := sb.open(ctx, open())
	if err != nil {
		t.Fatal(err)
	}
	y.guard = b.guard
	if err := y.RecordCheckpoint(ctx, 1, []byte("cp")); err != nil {
		t.Fatal(err)
	}
	l := &batch{tb: t, x: y}
	newFleet(l, 1, 1)
	l.flush()
	lapse(t, b)
	taken := make(chan struct{})
	go func() {
		defer close(taken)
		eventuallyHold(t, a)
	}()
	first := false
	select {
	case <-taken:
		first = true
	case <-time.After(2 * time.Second):
	}
	err = y.Commit(ctx, l.size)
	<-taken
	if first && err == nil {
		t.Errorf("b's open write committed after a took the lease")
	}
	if !first && err != nil {
		t.Errorf("b's open write, before a took the lease: %v", err)
	}
	if got, err := y.Size(ctx); err != nil || (got == l.size) != (!first) {
		t.Errorf("after b's open write and a's taking the lease, the index's size is %d, %v (b wrote %d)", got, err, l.size)
	}
	mustHold(b, false)
}

// eventuallyHold waits for l to take the lease: a killed connection's
// named locks go when the server has ended its thread, not at once.
func eventuallyHold(t *testing.T, l lease) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ok, err := l.hold(context.Background())
		if err != nil {
			t.Error(err)
			return
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Error("the lease never passed on after its holder lost it")
			return
		}
	}
}

// TestRowLeaseExpiry checks that a Spanner lease expires by the
// database's clock when its holder stops renewing it, and not before.
func TestRowLeaseExpiry(t *testing.T) {
	ctx := context.Background()
	open := sharedBackends[slices.IndexFunc(sharedBackends, func(sb sharedBackend) bool { return sb.name == "spanner" })].database(t)
	newL := func() *rowLease {
		l, err := newRowLease(ctx, open())
		if err != nil {
			t.Fatal(err)
		}
		rl := l.(*rowLease)
		rl.ttl = 2 * time.Second
		return rl
	}
	a, b := newL(), newL()
	start := time.Now()
	if ok, err := a.hold(ctx); !ok || err != nil {
		t.Fatalf("hold of a free lease = %v, %v", ok, err)
	}
	if ok, err := b.hold(ctx); ok || err != nil {
		t.Fatalf("hold of a held lease = %v, %v", ok, err)
	}
	eventuallyHold(t, b)
	if took := time.Since(start); took < a.ttl {
		t.Errorf("the lease passed on after %v, before it expired (%v)", took, a.ttl)
	}
	var holder sql.NullString
	if err := b.db.QueryRowContext(ctx, `SELECT holder FROM vigil_index_lease WHERE id = 0`).Scan(&holder); err != nil || holder.String != b.holder {
		t.Errorf("the lease's holder is %q, %v; want %q", holder.String, err, b.holder)
	}
}
