package client

import (
	"errors"
	"strings"
	"sync"
	"testing"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

// forkWorld is two histories signed by one log key: they share a prefix of
// 5 leaves, then differ.
type forkWorld struct {
	signer   note.Signer
	verifier note.Verifier
	a, b     *testonly.Tree
}

func newForkWorld(t testing.TB) *forkWorld {
	s, v := newNoteKeyFrom(t, testOrigin, newSeedReader("fork log"))
	w := &forkWorld{signer: s, verifier: v, a: testonly.New(rfc6962.DefaultHasher), b: testonly.New(rfc6962.DefaultHasher)}
	for i := range 20 {
		w.a.AppendData([]byte{'a', byte(i)})
		if i < 5 {
			w.b.AppendData([]byte{'a', byte(i)})
		} else {
			w.b.AppendData([]byte{'b', byte(i)})
		}
	}
	return w
}

func (w *forkWorld) cp(t testing.TB, tree *testonly.Tree, size uint64) string {
	t.Helper()
	body := flog.Checkpoint{Origin: testOrigin, Size: size, Hash: tree.HashAt(size)}.Marshal()
	b, err := note.Sign(&note.Note{Text: string(body)}, w.signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (w *forkWorld) consistency(t testing.TB, tree *testonly.Tree, m, n uint64) [][]byte {
	t.Helper()
	p, err := tree.ConsistencyProof(m, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proofs returns valid fork proofs of both kinds.
func (w *forkWorld) proofs(t testing.TB) map[string]*ForkProof {
	return map[string]*ForkProof{
		"same size": {Format: ForkProofFormat, Older: w.cp(t, w.a, 10), Newer: w.cp(t, w.b, 10)},
		"larger tree": {Format: ForkProofFormat, Older: w.cp(t, w.a, 10), Newer: w.cp(t, w.b, 20),
			Consistency: w.consistency(t, w.b, 10, 20), PrefixRoot: w.b.HashAt(10)},
	}
}

func TestForkProofVerify(t *testing.T) {
	w := newForkWorld(t)
	for name, fp := range w.proofs(t) {
		b, err := fp.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseForkProof(b)
		if err != nil {
			t.Fatalf("%s: ParseForkProof(Marshal()) = %v", name, err)
		}
		if _, _, err := parsed.Verify(w.verifier); err != nil {
			t.Errorf("%s: Verify() = %v, want a proven fork", name, err)
		}
	}
	_, otherKey := newNoteKeyFrom(t, testOrigin, newSeedReader("another log"))
	valid := w.proofs(t)["larger tree"]
	for _, tc := range []struct {
		name string
		key  note.Verifier
		mut  func(f *ForkProof)
	}{
		{"another log's key", otherKey, func(f *ForkProof) {}},
		{"consistent checkpoints", w.verifier, func(f *ForkProof) {
			f.Older, f.PrefixRoot = w.cp(t, w.b, 10), w.b.HashAt(10)
		}},
		{"same checkpoint twice", w.verifier, func(f *ForkProof) { f.Older = f.Newer }},
		{"older is larger", w.verifier, func(f *ForkProof) { f.Older, f.Newer = f.Newer, f.Older }},
		{"no prefix root", w.verifier, func(f *ForkProof) { f.PrefixRoot = nil }},
		{"prefix root not proven", w.verifier, func(f *ForkProof) { f.PrefixRoot = w.a.HashAt(11) }},
		{"proof tampered", w.verifier, func(f *ForkProof) {
			f.Consistency = append([][]byte(nil), f.Consistency...)
			f.Consistency[0] = w.a.HashAt(3)
		}},
		{"proof for other sizes", w.verifier, func(f *ForkProof) { f.Consistency = w.consistency(t, w.b, 9, 20) }},
		{"newer's signature broken", w.verifier, func(f *ForkProof) {
			f.Newer = strings.Replace(f.Newer, "\n20\n", "\n21\n", 1)
		}},
		{"empty older tree", w.verifier, func(f *ForkProof) {
			body := flog.Checkpoint{Origin: testOrigin, Size: 0, Hash: rfc6962.DefaultHasher.EmptyRoot()}.Marshal()
			b, _ := note.Sign(&note.Note{Text: string(body)}, w.signer)
			f.Older = string(b)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := *valid
			tc.mut(&f)
			if _, _, err := f.Verify(tc.key); !errors.Is(err, ErrForkProof) {
				t.Errorf("Verify() = %v, want ErrForkProof", err)
			}
		})
	}
}

func TestParseForkProofMalformed(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ``},
		{"not JSON", `fork`},
		{"wrong format", `{"format":"https://vigil.dev/fork-proof/v0","older":"","newer":""}`},
		{"unknown field", `{"format":"https://vigil.dev/fork-proof/v1","older":"","newer":"","extra":1}`},
		{"duplicate field", `{"format":"https://vigil.dev/fork-proof/v1","older":"","older":"","newer":""}`},
		{"short hash", `{"format":"https://vigil.dev/fork-proof/v1","older":"","newer":"","prefixRoot":"AAAA"}`},
		{"short proof hash", `{"format":"https://vigil.dev/fork-proof/v1","older":"","newer":"","consistency":["AAAA"]}`},
		{"not base64", `{"format":"https://vigil.dev/fork-proof/v1","older":"","newer":"","prefixRoot":"!!"}`},
	} {
		if _, err := ParseForkProof([]byte(tc.in)); !errors.Is(err, ErrForkProof) {
			t.Errorf("%s: ParseForkProof(%q) = %v, want ErrForkProof", tc.name, tc.in, err)
		}
	}
}

func FuzzParseForkProof(f *testing.F) {
	w := newForkWorld(f)
	for _, fp := range w.proofs(f) {
		b, _ := fp.Marshal()
		f.Add(b)
	}
	f.Add([]byte(`{"format":"https://vigil.dev/fork-proof/v1","older":"x","newer":"y","consistency":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fp, err := ParseForkProof(data)
		if err != nil {
			if !errors.Is(err, ErrForkProof) {
				t.Fatalf("ParseForkProof(%q) = %v, want ErrForkProof", data, err)
			}
			return
		}
		// Verification must not panic, and a proof it accepts really
		// holds two validly signed, contradicting checkpoints.
		older, newer, err := fp.Verify(w.verifier)
		if err != nil {
			if !errors.Is(err, ErrForkProof) {
				t.Fatalf("Verify() = %v, want ErrForkProof", err)
			}
			return
		}
		if older.Size > newer.Size || older.Size == newer.Size && string(older.Hash) == string(newer.Hash) {
			t.Errorf("Verify accepted %q, which shows no contradiction", data)
		}
	})
}

func TestTrustStoreSwap(t *testing.T) {
	s := &TrustStore{Dir: t.TempDir()}
	const origin = "example.com/log"
	if cur, err := s.Latest(origin); err != nil || cur != nil {
		t.Fatalf("Latest() of an empty store = %q, %v", cur, err)
	}
	if err := s.Swap(origin, nil, []byte("one")); err != nil {
		t.Fatal(err)
	}
	var se *StaleError
	if err := s.Swap(origin, nil, []byte("two")); !errors.As(err, &se) || string(se.Current) != "one" {
		t.Fatalf("Swap from a stale nil = %v, want a StaleError holding %q", err, "one")
	}
	// Many concurrent swaps from the same old value: exactly one wins.
	var wg sync.WaitGroup
	wins := make(chan string, 32)
	for i := range 32 {
		wg.Go(func() {
			next := []byte{'n', byte('a' + i)}
			if err := s.Swap(origin, []byte("one"), next); err == nil {
				wins <- string(next)
			} else if !errors.As(err, new(*StaleError)) {
				t.Errorf("Swap() = %v", err)
			}
		})
	}
	wg.Wait()
	close(wins)
	var won []string
	for w := range wins {
		won = append(won, w)
	}
	cur, _ := s.Latest(origin)
	if len(won) != 1 || string(cur) != won[0] {
		t.Errorf("%d swaps won (%v), stored %q; want exactly one, stored", len(won), won, cur)
	}
	// Another origin has its own state.
	if cur, _ := s.Latest("example.com/other"); cur != nil {
		t.Errorf("another origin sees %q", cur)
	}
}
