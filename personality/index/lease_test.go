package index

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/vigil-log/vigil/log/mysqltest"
)

// TestLeaseAndStore: one holder of the shared index's lease at a time; it
// passes on when its holder lets go or its connection dies; and the audit
// state store keeps documents larger than a row, whole, for the holder only.
func TestLeaseAndStore(t *testing.T) {
	ctx := context.Background()
	dsn := mysqltest.DSN(t)
	open := func() *sql.DB {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	newL := func() *lease {
		l, err := newLease(ctx, open())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b := newL(), newL()
	mustHold := func(l *lease, want bool) {
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

	// The holder's connection dies (a crashed frontend): the server frees
	// the lock, and the other takes it.
	var id int64
	if err := b.conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := open().ExecContext(ctx, "KILL CONNECTION ?", id); err != nil {
		t.Fatal(err)
	}
	eventuallyHold(t, a)
	mustHold(b, false)

	sa, err := newSQLStore(ctx, a.db, a)
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
	if unlock, err := sa.Lock(ctx); err != nil {
		t.Errorf("Lock by the lease holder: %v", err)
	} else {
		unlock()
	}
	sb, err := newSQLStore(ctx, b.db, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Lock(ctx); !errors.Is(err, ErrStandby) {
		t.Errorf("Lock without the lease = %v, want ErrStandby", err)
	}

	// a's lease connection is cut while a goes on writing through its
	// other connections: once b holds the lease, a's writes fail, in the
	// store and in the index, though a never asked again.
	x, err := OpenMySQL(ctx, a.db)
	if err != nil {
		t.Fatal(err)
	}
	x.guard = a.guard
	if err := x.Truncate(ctx, 0); err != nil {
		t.Fatalf("a write under the lease: %v", err)
	}
	if err := a.conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := open().ExecContext(ctx, "KILL CONNECTION ?", id); err != nil {
		t.Fatal(err)
	}
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
}

// eventuallyHold waits for l to take the lease: a killed connection's
// named locks go when the server has ended its thread, not at once.
func eventuallyHold(t *testing.T, l *lease) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ok, err := l.hold(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease never passed on after its holder's connection was killed")
		}
	}
}
