package personality

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vigil-log/vigil/client"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/log/gcptest"
	"github.com/vigil-log/vigil/log/logtest"
)

func TestMain(m *testing.M) { logtest.Main(m) }

// sharedFixture is a log in one shared storage (a MariaDB database; a
// Spanner database and GCS bucket) with several frontends, each a log client
// and a personality of its own, as several vigild processes would be.
type sharedFixture struct {
	*fixture
	frontends []*httptest.Server
}

// sharedBackend makes the frontends of one shared log: each call of the
// function it returns is another frontend's storage.
type sharedBackend func(t *testing.T) func() vlog.Storage

// sharedBackends are the storages frontends share.
var sharedBackends = []struct {
	name string
	new  sharedBackend
}{
	{"mysql", func(t *testing.T) func() vlog.Storage {
		first := logtest.MySQL(t).(vlog.MySQL)
		n := 0
		return func() vlog.Storage {
			if n++; n == 1 {
				return first
			}
			return logtest.SecondFrontend(t, first)
		}
	}},
	{"gcp", func(t *testing.T) func() vlog.Storage {
		env := gcptest.Emulator(t)
		return func() vlog.Storage { return logtest.OnGCP(t, env) }
	}},
}

// frontendOf returns the blob store and admission a frontend of st uses, as
// vigild makes them: nil admission where one process writes the log.
func frontendOf(tb testing.TB, st vlog.Storage) (Blobs, Admission) {
	tb.Helper()
	ctx := context.Background()
	var (
		blobs Blobs
		adm   Admission
		err   error
	)
	switch st := st.(type) {
	case vlog.MySQL:
		if blobs, err = NewSQLBlobs(ctx, st.DB); err == nil {
			adm, err = NewSQLAdmission(ctx, st.DB, nil)
		}
	case vlog.GCP:
		blobs = NewGCSBlobs(st.GCS, st.Bucket)
		adm, err = NewSpannerAdmission(ctx, st.Client, nil, nil)
	default:
		blobs, err = NewBlobStore(tb.TempDir())
	}
	if err != nil {
		tb.Fatal(err)
	}
	return blobs, adm
}

func newSharedFixture(t *testing.T, backend sharedBackend, frontends int) *sharedFixture {
	t.Helper()
	f := newFixture(t) // the manufacturers, keys and helpers; its POSIX log is unused
	skey, _, verifier := logtest.NewKey(t, logtest.Origin)
	f.verifier = verifier
	next := backend(t)
	s := &sharedFixture{fixture: f}
	ctx := context.Background()
	for i := range frontends {
		st := next()
		blobs, adm := frontendOf(t, st)
		l, _ := logtest.NewOn(t, st, skey)
		p, err := New(ctx, Config{Log: l, Blobs: blobs, Admission: adm, Roots: f.roots, WaitTimeout: 10 * time.Second,
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(p.Handler())
		t.Cleanup(srv.Close)
		s.frontends = append(s.frontends, srv)
		if i == 0 {
			f.log, f.p, f.srv = l, p, srv
		}
	}
	return s
}

// TestSharedAdmission: two frontends of one shared log judge as one. Of
// concurrent enrollments of one key sent to both, one wins; attestations
// racing their device's revocation on the other frontend never land after
// it; and an attestation sent to one frontend right after its device was
// enrolled through the other is accepted, the fence having made the first
// frontend fold the enrollment in.
func TestSharedAdmission(t *testing.T) {
	for _, b := range sharedBackends {
		t.Run(b.name, func(t *testing.T) { testSharedAdmission(t, b.new) })
	}
}

func testSharedAdmission(t *testing.T, backend sharedBackend) {
	s := newSharedFixture(t, backend, 2)
	key := mustKey(t, client.AlgP256)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	won := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _, _ := s.postTo(i, s.enroll(&device{key: key, udi: udi(acmeGTIN, fmt.Sprintf("C%02d", i))}, s.acme))
			mu.Lock()
			defer mu.Unlock()
			switch st {
			case http.StatusAccepted:
				won++
			case http.StatusConflict:
			default:
				t.Errorf("concurrent enrollment answered %d", st)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d of 20 concurrent enrollments of one key on two frontends were accepted, want 1", won)
	}

	// Enrolled through one frontend, attesting through the other at once;
	// the enrollment sent again to the other frontend at once (a retry) is
	// answered with its original index, not refused as a conflict.
	for i := range 10 {
		d := newDevice(t, acmeGTIN, fmt.Sprintf("HOP%02d", i))
		enr := s.enroll(d, s.acme)
		st, ae, body := s.postTo(i, enr)
		if st != http.StatusAccepted {
			t.Fatalf("enrollment = %d %v", st, ae)
		}
		if st, ae, _ := s.postTo(i+1, s.attest(d, 0)); st != http.StatusAccepted {
			t.Errorf("attestation on the other frontend right after the enrollment = %d %v, want 202", st, ae)
		}
		var first, again Accepted
		json.Unmarshal(body, &first)
		st, ae, body = s.postTo(i+1, enr)
		json.Unmarshal(body, &again)
		if st/100 != 2 || again.Index != first.Index {
			t.Errorf("the enrollment again on the other frontend = %d %v index %d, want its index %d", st, ae, again.Index, first.Index)
		}
	}

	// A build published through one frontend is at once the publisher's to
	// name in a revocation on the other.
	fw := strings.Repeat("ab", 32)
	if st, ae, _ := s.postTo(0, s.sbom(fw, s.acme)); st != http.StatusAccepted {
		t.Fatalf("SBOM = %d %v", st, ae)
	}
	if st, ae, _ := s.postTo(1, s.revoke(client.RevocationTarget{Type: client.TargetFirmware, ID: fw}, s.acme)); st != http.StatusAccepted {
		t.Errorf("firmware revocation on the other frontend right after the SBOM = %d %v, want 202", st, ae)
	}

	// An attestation sequenced through one frontend is served, with its
	// device's enrollment, by the other, which may not have folded that
	// enrollment yet.
	hop := newDevice(t, acmeGTIN, "GET")
	if st, ae, _ := s.postTo(0, s.enroll(hop, s.acme)); st != http.StatusAccepted {
		t.Fatalf("enrollment = %d %v", st, ae)
	}
	st, ae, body := s.postTo(0, s.attest(hop, 0))
	var att Accepted
	if err := json.Unmarshal(body, &att); err != nil || st != http.StatusAccepted {
		t.Fatalf("attestation = %d %v", st, ae)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(fmt.Sprintf("%s/v1/entries/%d", s.frontends[1].URL, att.Index))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if resp.StatusCode != http.StatusNotFound || time.Now().After(deadline) {
			t.Fatalf("GET /v1/entries/%d on the other frontend = %d, want 200 (404 until a checkpoint covers it)", att.Index, resp.StatusCode)
		}
	}

	d := newDevice(t, acmeGTIN, "RACE")
	if st, ae, _ := s.postTo(0, s.enroll(d, s.acme)); st != http.StatusAccepted {
		t.Fatalf("enrollment = %d %v", st, ae)
	}
	atts := make([][]byte, 80)
	for i := range atts {
		atts[i] = s.attest(d, uint64(i))
	}
	rev := s.revoke(client.RevocationTarget{Type: client.TargetDeviceKey, ID: d.key.Public().ID()}, s.acme)
	var accepted, refused atomic.Int64
	var last uint64 // the largest index answered, under mu
	answered := func(index uint64) {
		mu.Lock()
		defer mu.Unlock()
		last = max(last, index)
	}
	revoked := make(chan struct{})
	// The attestations go out 2 ms apart through one frontend, and the
	// revocation through the other once a quarter are in, while more are
	// in flight; the last quarter waits for the revocation's answer, so
	// that both outcomes happen however fast the backend is.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(revoked)
		for deadline := time.Now().Add(20 * time.Second); accepted.Load() < int64(len(atts)/4) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		st, ae, body := s.postTo(1, rev)
		var a Accepted
		if err := json.Unmarshal(body, &a); err != nil || st != http.StatusAccepted {
			t.Errorf("revocation = %d %v", st, ae)
		}
		answered(a.Index)
	}()
	for i, a := range atts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i >= len(atts)*3/4 {
				<-revoked
			}
			time.Sleep(time.Duration(i) * 2 * time.Millisecond)
			switch st, ae, body := s.postTo(0, a); {
			case st == http.StatusAccepted:
				var a Accepted
				json.Unmarshal(body, &a)
				answered(a.Index)
				accepted.Add(1)
			case ae.Error == CodeRevoked:
				refused.Add(1)
			default:
				t.Errorf("attestation = %d %v, want 202 or revoked", st, ae)
			}
		}()
	}
	wg.Wait()
	if accepted.Load() == 0 || refused.Load() == 0 {
		t.Errorf("%d attestations accepted and %d refused as revoked; want some of each", accepted.Load(), refused.Load())
	}
	// Sequenced is not yet integrated on every backend: the replay waits
	// for the tree to hold every answered index.
	for deadline := time.Now().Add(20 * time.Second); s.size() <= last && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	s.attestedBeforeRevocation(d)
}

// postTo submits to frontend i (modulo their number), without waiting for
// a checkpoint.
func (s *sharedFixture) postTo(i int, body []byte) (int, apiError, []byte) {
	srv := s.frontends[i%len(s.frontends)]
	return postURL(s.t, srv.URL, body, "?wait=false")
}

// TestNoTurn checks that a submission whose locks are held past
// TurnTimeout, in this process or by another frontend of a shared log, is
// answered with pushback and changes nothing, and is accepted once they are
// free.
func TestNoTurn(t *testing.T) {
	t.Run("posix", func(t *testing.T) {
		f := newFixture(t)
		testNoTurn(t, f, f.p.locks.lock)
	})
	for _, b := range sharedBackends {
		t.Run(b.name, func(t *testing.T) {
			s := newSharedFixture(t, b.new, 1)
			testNoTurn(t, s.fixture, func(ctx context.Context, p lockPlan) (func(), error) {
				_, release, err := s.p.cfg.Admission.Acquire(ctx, p)
				if err != nil {
					return nil, err
				}
				return func() { release(false, 0) }, nil
			})
		})
	}
}

// testNoTurn holds, through hold, the locks a revocation of a device's key
// takes, while the device attests.
func testNoTurn(t *testing.T, f *fixture, hold func(context.Context, lockPlan) (func(), error)) {
	ctx := context.Background()
	f.p.cfg.TurnTimeout = 300 * time.Millisecond
	d := newDevice(t, acmeGTIN, "TURN")
	f.mustAccept(f.enroll(d, f.acme))
	rev, err := client.ParseEntry(f.revoke(client.RevocationTarget{Type: client.TargetDeviceKey, ID: d.key.Public().ID()}, f.acme))
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := hold(ctx, plan(rev))
	if err != nil {
		t.Fatal(err)
	}
	before := f.size()
	att := f.attest(d, 0)
	resp, err := http.Post(f.srv.URL+"/v1/entries", "application/json", strings.NewReader(string(att)))
	if err != nil {
		t.Fatal(err)
	}
	var ae apiError
	json.NewDecoder(resp.Body).Decode(&ae)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || ae.Error != CodePushback || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a submission whose locks are held = %d %+v, Retry-After %q; want 503 pushback with Retry-After", resp.StatusCode, ae, resp.Header.Get("Retry-After"))
	}
	unlock()
	if n := f.size(); n != before {
		t.Errorf("the log grew from %d to %d entries on a submission answered with pushback", before, n)
	}
	f.mustAccept(att)
}

// TestAdmissionLayout: a frontend whose lock names map onto other rows
// than the running ones' is refused, since it would not exclude them.
func TestAdmissionLayout(t *testing.T) {
	ctx := context.Background()
	db := logtest.MySQL(t).(vlog.MySQL).DB
	if _, err := NewSQLAdmission(ctx, db, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE vigil_admission SET last_size = 99 WHERE id = -1"); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSQLAdmission(ctx, db, nil); err == nil || !strings.Contains(err.Error(), "another vigil version") {
		t.Errorf("NewSQLAdmission over another layout = %v, want a refusal", err)
	}
}

// TestAdmissionExcludes: writers of one stripe on two frontends hold its
// lock one at a time, each with a fence past the entry the one before it
// recorded. On Spanner, concurrent takes and releases share transactions.
func TestAdmissionExcludes(t *testing.T) {
	for _, b := range sharedBackends {
		t.Run(b.name, func(t *testing.T) {
			next := b.new(t)
			var adms []Admission
			for range 2 {
				_, a := frontendOf(t, next())
				adms = append(adms, a)
			}
			p := lockPlan{stripes: []lockReq{{stripe: 7, write: true}}}
			var holders atomic.Int32
			var done atomic.Uint64 // holders that have recorded their entry
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					fence, release, err := adms[i%2].Acquire(ctx, p)
					if err != nil {
						t.Error(err)
						return
					}
					if n := holders.Add(1); n != 1 {
						t.Errorf("%d holders of an exclusive lock", n)
					}
					if want := done.Load(); fence != want {
						t.Errorf("fence %d, want %d: past the last holder's entry", fence, want)
					}
					time.Sleep(5 * time.Millisecond)
					done.Add(1)
					holders.Add(-1)
					if err := release(true, fence); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()

			sa, ok := adms[0].(*SpannerAdmission)
			if !ok {
				return
			}
			before := testutil.ToFloat64(sa.transactions)
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, release, err := sa.Acquire(context.Background(), lockPlan{stripes: []lockReq{{stripe: 100 + i, write: true}}})
					if err != nil {
						t.Error(err)
						return
					}
					if err := release(false, 0); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if n := testutil.ToFloat64(sa.transactions) - before; n > 32 {
				t.Errorf("64 concurrent takes and their releases took %v transactions, want batches of them", n)
			}
		})
	}
}
