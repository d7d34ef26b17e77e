package index

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"testing"

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
	a, b := &lease{db: open()}, &lease{db: open()}
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
	mustHold(a, true)
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
}
