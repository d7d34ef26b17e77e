package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
	"golang.org/x/mod/sumdb/note"
)

// These tests drive the built vigil binary, against a real vigild where a
// log is needed. Each test that submits gets its own vigild, so the fixed
// development UDI can be enrolled in each.

// run runs vigil and returns its stdout and stderr together, and its exit
// status.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	stdout, stderr, code := e2e.Run(t, "vigil", args...)
	return stdout + stderr, code
}

// mustRun runs vigil and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, code := run(t, args...)
	if code != 0 {
		t.Fatalf("vigil %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// wantFail runs vigil and fails the test unless it exits with code and
// prints every one of want.
func wantFail(t *testing.T, code int, want []string, args ...string) string {
	t.Helper()
	out, got := run(t, args...)
	if got != code {
		t.Errorf("vigil %s: exit %d, want %d\n%s", strings.Join(args, " "), got, code, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("vigil %s: output does not mention %q\n%s", strings.Join(args, " "), w, out)
		}
	}
	return out
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
}

// logEnv is a fresh vigild with the development trust roots, and a working
// directory holding copies of the development predicates.
type logEnv struct {
	v     *e2e.Server
	dir   string
	vkey  string // the log's vkey file
	roots string // trust-roots file
	mkey  string // the development manufacturer key
	dkey  string // the development device key
}

func newLogEnv(t *testing.T) *logEnv {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"enrollment.json", "attestation.json"} {
		b, err := os.ReadFile(e2e.ModuleFile(t, filepath.Join("testdata", "dev", f)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	roots := e2e.ModuleFile(t, "testdata/dev/trust-roots.json")
	v := e2e.StartVigild(t, filepath.Join(t.TempDir(), "data"), roots)
	return &logEnv{
		v: v, dir: dir, vkey: filepath.Join(v.Data, "log.vkey"), roots: roots,
		mkey: e2e.ModuleFile(t, "testdata/dev/manufacturer.key"),
		dkey: e2e.ModuleFile(t, "testdata/dev/device.key"),
	}
}

func (l *logEnv) path(name string) string { return filepath.Join(l.dir, name) }

var includedRE = regexp.MustCompile(`included at index (\d+)`)

// submit submits an envelope, saves its bundle as out and returns its index.
func (l *logEnv) submit(t *testing.T, env, out string) uint64 {
	t.Helper()
	stdout, stderr, code := e2e.Run(t, "vigil", "submit", "--log", l.v.URL, "--out", l.path(out), l.path(env))
	if code != 0 {
		t.Fatalf("vigil submit %s: exit %d\n%s%s", env, code, stdout, stderr)
	}
	m := includedRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("vigil submit %s: stderr does not give the index: %q", env, stderr)
	}
	i, _ := strconv.ParseUint(m[1], 10, 64)
	return i
}

// verify runs vigil verify against the log's key and trust roots.
func (l *logEnv) verify(t *testing.T, extra ...string) (string, int) {
	t.Helper()
	return run(t, append([]string{"verify", "--log-vkey", l.vkey, "--trust-roots", l.roots}, extra...)...)
}

// enrollAndAttest signs and submits the development enrollment and then an
// attestation by the device, returning their indices.
func (l *logEnv) enrollAndAttest(t *testing.T) (enr, att uint64) {
	t.Helper()
	mustRun(t, "sign", "--kind", "enrollment", "--key", l.mkey, "--device-key", l.dkey,
		"--predicate", l.path("enrollment.json"), "--out", l.path("enrollment.dsse.json"))
	enr = l.submit(t, "enrollment.dsse.json", "enrollment.bundle.json")
	mustRun(t, "sign", "--kind", "attestation", "--key", l.dkey,
		"--predicate", l.path("attestation.json"), "--out", l.path("attestation.dsse.json"))
	att = l.submit(t, "attestation.dsse.json", "attestation.bundle.json")
	return enr, att
}

func TestHelpAndUsage(t *testing.T) {
	skipShort(t)
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"keygen", "--help"}, {"sign", "--help"}, {"submit", "--help"}, {"verify", "--help"},
	} {
		if out, code := run(t, args...); code != 0 || !strings.Contains(out, "Example") {
			t.Errorf("vigil %s: exit %d, want 0 and an Example\n%s", strings.Join(args, " "), code, out)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no verb", nil, "Usage"},
		{"unknown verb", []string{"frobnicate"}, `unknown verb "frobnicate"`},
		{"unknown flag", []string{"verify", "--frobnicate"}, "frobnicate"},
		{"keygen without --out", []string{"keygen", "--type", "log", "--name", "example.com/log"}, "--out is required"},
		{"keygen of an unknown type", []string{"keygen", "--type", "hsm", "--name", "x", "--out", "x.key"}, "--type must be"},
		{"sign without --key", []string{"sign", "--kind", "enrollment", "--predicate", "p.json", "--out", "e.json"}, "--key is required"},
		{"sign of an unknown kind", []string{"sign", "--kind", "recall", "--key", "k", "--predicate", "p.json", "--out", "e.json"}, "recall"},
		{"sign of an SBOM without firmware", []string{"sign", "--kind", "sbom", "--key", e2e.ModuleFile(t, "testdata/dev/manufacturer.key"),
			"--predicate", e2e.ModuleFile(t, "testdata/sbom/infusion-pump-fw-4.2.1.cdx.json"), "--out", filepath.Join(t.TempDir(), "e.json")}, "--firmware-name"},
		{"submit without --log", []string{"submit", "e.json"}, "--log is required"},
		{"submit without an envelope", []string{"submit", "--log", "http://127.0.0.1:1"}, "name one envelope"},
		{"verify without --log-vkey or --policy", []string{"verify", "--trust-roots", "r.json", "b.json"}, "exactly one of --log-vkey and --policy"},
		{"verify with --log-vkey and --policy", []string{"verify", "--log-vkey", "l.vkey", "--policy", "p.txt", "--trust-roots", "r.json", "b.json"}, "exactly one of --log-vkey and --policy"},
		{"verify without --trust-roots", []string{"verify", "--log-vkey", "l.vkey", "b.json"}, "--trust-roots is required"},
		{"verify without a bundle", []string{"verify", "--log-vkey", "l.vkey", "--trust-roots", "r.json"}, "name one or more bundles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantFail(t, 2, []string{tc.want}, tc.args...)
		})
	}
}

func TestKeygen(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		typ, name string
		alg       string // manufacturer and device keys: the default algorithm
	}{
		{"log", "example.com/vigil", ""},
		{"witness", "witness.example.org", ""},
		{"manufacturer", "Acme Infusion", client.AlgEd25519},
		{"device", "pump-0001", client.AlgP256},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			key := filepath.Join(dir, tc.typ+".key")
			out := mustRun(t, "keygen", "--type", tc.typ, "--name", tc.name, "--out", key)
			if !strings.Contains(out, "wrote") {
				t.Errorf("keygen printed %q, want it to name what it wrote", out)
			}
			fi, err := os.Stat(key)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", filepath.Base(key), fi.Mode().Perm())
			}
			priv, err := os.ReadFile(key)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := os.ReadFile(key + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			switch tc.typ {
			case "log", "witness":
				if !strings.HasPrefix(string(pub), tc.name+"+") {
					t.Errorf("%s.pub = %q, want a vkey of %q", tc.typ, pub, tc.name)
				}
				var signer note.Signer
				var verifier note.Verifier
				if tc.typ == "log" {
					signer, err = note.NewSigner(strings.TrimSpace(string(priv)))
					if err == nil {
						verifier, err = note.NewVerifier(strings.TrimSpace(string(pub)))
					}
				} else {
					// A witness cosigns with cosignature/v1: a type 0x04 vkey.
					signer, err = fnote.NewSignerForCosignatureV1(strings.TrimSpace(string(priv)))
					if err == nil {
						verifier, err = fnote.NewVerifierForCosignatureV1(strings.TrimSpace(string(pub)))
					}
				}
				if err != nil {
					t.Fatalf("%s key pair does not parse: %v", tc.typ, err)
				}
				// A cosignature/v1 key signs only checkpoints.
				text := "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
				msg, err := note.Sign(&note.Note{Text: text}, signer)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := note.Open(msg, note.VerifierList(verifier)); err != nil {
					t.Errorf("the vkey does not verify the key's signature: %v", err)
				}
			default:
				if !strings.HasPrefix(string(pub), "-----BEGIN PUBLIC KEY-----") {
					t.Errorf("%s.pub = %q, want a PEM PUBLIC KEY", tc.typ, pub)
				}
				pk, err := client.ParsePublicKeyPEM(pub)
				if err != nil {
					t.Fatalf("%s.pub: %v", tc.typ, err)
				}
				sk, err := client.ParsePrivateKeyPEM(priv)
				if err != nil {
					t.Fatalf("%s: %v", tc.typ, err)
				}
				if sk.Public().ID() != pk.ID() || pk.Alg() != tc.alg {
					t.Errorf("%s.pub is key %s (%s), want the private key's %s (%s)", tc.typ, pk.ID(), pk.Alg(), sk.Public().ID(), tc.alg)
				}
			}
			// A second keygen to the same file is refused and changes nothing.
			wantFail(t, 1, []string{"exists"}, "keygen", "--type", tc.typ, "--name", tc.name, "--out", key)
			for name, want := range map[string][]byte{key: priv, key + ".pub": pub} {
				if got, err := os.ReadFile(name); err != nil || string(got) != string(want) {
					t.Errorf("refused keygen changed %s", filepath.Base(name))
				}
			}
		})
	}
	// A FILE.pub in the way: nothing is written, not even the private key.
	key := filepath.Join(dir, "orphan.key")
	if err := os.WriteFile(key+".pub", []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantFail(t, 1, []string{"exists"}, "keygen", "--type", "device", "--name", "d", "--out", key)
	if _, err := os.Stat(key); !os.IsNotExist(err) {
		t.Errorf("keygen refused by an existing %s left a private key behind (%v)", filepath.Base(key)+".pub", err)
	}
	if b, _ := os.ReadFile(key + ".pub"); string(b) != "precious\n" {
		t.Errorf("keygen overwrote an existing .pub file")
	}
}

func TestEnrollmentAndAttestation(t *testing.T) {
	skipShort(t)
	l := newLogEnv(t)
	enr, att := l.enrollAndAttest(t)
	if att <= enr {
		t.Fatalf("attestation at index %d, enrollment at %d", att, enr)
	}
	out, code := l.verify(t, l.path("enrollment.bundle.json"))
	if code != 0 || !strings.Contains(out, "verified") || !strings.Contains(out, fmt.Sprintf("enrollment entry at index %d", enr)) {
		t.Errorf("verify of the enrollment: exit %d\n%s", code, out)
	}
	out, code = l.verify(t, l.path("attestation.bundle.json"))
	if code != 0 || !strings.Contains(out, "verified") || !strings.Contains(out, fmt.Sprintf("attestation entry at index %d", att)) {
		t.Errorf("verify of the attestation: exit %d\n%s", code, out)
	}
	if want := fmt.Sprintf("enrolled at index %d", enr); !strings.Contains(out, want) {
		t.Errorf("verify of the attestation does not say %q\n%s", want, out)
	}

	t.Run("envelope", func(t *testing.T) {
		for _, kind := range []string{"enrollment", "attestation"} {
			if out, code := l.verify(t, "--envelope", l.path(kind+".dsse.json"), l.path(kind+".bundle.json")); code != 0 || !strings.Contains(out, "verified") {
				t.Errorf("verify --envelope of the matching %s envelope: exit %d\n%s", kind, code, out)
			}
		}
		wantFail(t, 1, []string{"NOT VERIFIED", "another entry"}, "verify", "--log-vkey", l.vkey, "--trust-roots", l.roots,
			"--envelope", l.path("enrollment.dsse.json"), l.path("attestation.bundle.json"))
		wantFail(t, 1, []string{"NOT VERIFIED", "another entry"}, "verify", "--log-vkey", l.vkey, "--trust-roots", l.roots,
			"--envelope", l.path("attestation.dsse.json"), l.path("enrollment.bundle.json"))
	})

	t.Run("tampered", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			tamper func(t *testing.T, proof string) string
		}{
			{"unchanged", func(t *testing.T, p string) string { return p }},
			{"proof hash", func(t *testing.T, p string) string {
				lines := strings.Split(p, "\n")
				for i, line := range lines {
					if strings.HasPrefix(line, "index ") {
						h := lines[i+1]
						if len(h) != 44 {
							t.Fatalf("the attestation's proof has no hash line after %q", line)
						}
						c := byte('A')
						if h[0] == 'A' {
							c = 'B'
						}
						lines[i+1] = string(c) + h[1:]
						return strings.Join(lines, "\n")
					}
				}
				t.Fatal("no index line in the tlog-proof")
				return ""
			}},
			{"index", func(t *testing.T, p string) string {
				old := fmt.Sprintf("\nindex %d\n", att)
				if !strings.Contains(p, old) {
					t.Fatalf("no %q in the tlog-proof", old)
				}
				return strings.Replace(p, old, fmt.Sprintf("\nindex %d\n", att-1), 1)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b, err := os.ReadFile(l.path("attestation.bundle.json"))
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				m["tlogProof"] = tc.tamper(t, m["tlogProof"].(string))
				b, err = json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				name := filepath.Join(t.TempDir(), "tampered.bundle.json")
				if err := os.WriteFile(name, b, 0o644); err != nil {
					t.Fatal(err)
				}
				out, code := l.verify(t, name)
				if tc.name == "unchanged" {
					// The round trip through JSON alone breaks nothing,
					// so the other cases fail for their change.
					if code != 0 {
						t.Fatalf("untampered bundle: exit %d\n%s", code, out)
					}
					return
				}
				if code != 1 || !strings.Contains(out, "NOT VERIFIED") {
					t.Errorf("bundle with a changed %s: exit %d, want 1 and NOT VERIFIED\n%s", tc.name, code, out)
				}
			})
		}
	})

	t.Run("another log's key", func(t *testing.T) {
		// Same origin, another key: only the signature tells them apart.
		other := filepath.Join(t.TempDir(), "other.key")
		mustRun(t, "keygen", "--type", "log", "--name", "e2e.vigil.local/log", "--out", other)
		for _, kind := range []string{"enrollment", "attestation"} {
			wantFail(t, 1, []string{"NOT VERIFIED"}, "verify", "--log-vkey", other+".pub", "--trust-roots", l.roots, l.path(kind+".bundle.json"))
		}
	})

	t.Run("trust roots without the manufacturer", func(t *testing.T) {
		// Same name and UDI prefix as the development manufacturer, another key.
		dir := t.TempDir()
		mustRun(t, "keygen", "--type", "manufacturer", "--name", "other", "--out", filepath.Join(dir, "other.key"))
		pub, err := os.ReadFile(filepath.Join(dir, "other.key.pub"))
		if err != nil {
			t.Fatal(err)
		}
		roots, err := json.Marshal(map[string]any{"manufacturers": []any{map[string]any{
			"name": "Acme Infusion Systems (development)", "udiPrefixes": []string{"gs1:0614141"}, "keys": []string{string(pub)},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.ParseTrustRoots(roots); err != nil {
			t.Fatalf("the test's trust roots: %v", err)
		}
		rootsFile := filepath.Join(dir, "roots.json")
		if err := os.WriteFile(rootsFile, roots, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{"enrollment", "attestation"} {
			wantFail(t, 1, []string{"NOT VERIFIED"}, "verify", "--log-vkey", l.vkey, "--trust-roots", rootsFile, l.path(kind+".bundle.json"))
		}
	})

	t.Run("refused submission", func(t *testing.T) {
		// The device's attestation, signed by the manufacturer instead.
		env := filepath.Join(t.TempDir(), "bad.dsse.json")
		mustRun(t, "sign", "--kind", "attestation", "--key", l.mkey, "--predicate", l.path("attestation.json"), "--out", env)
		bundle := filepath.Join(t.TempDir(), "bad.bundle.json")
		wantFail(t, 1, []string{"unauthorized"}, "submit", "--log", l.v.URL, "--out", bundle, env)
		if _, err := os.Stat(bundle); !os.IsNotExist(err) {
			t.Errorf("a refused submission wrote a bundle (%v)", err)
		}
		// A second enrollment of the same UDI contradicts the log.
		env2 := filepath.Join(t.TempDir(), "enrollment.dsse.json")
		other := filepath.Join(t.TempDir(), "other-device.key")
		mustRun(t, "keygen", "--type", "device", "--name", "other", "--out", other)
		mustRun(t, "sign", "--kind", "enrollment", "--key", l.mkey, "--device-key", other, "--predicate", l.path("enrollment.json"), "--out", env2)
		wantFail(t, 1, []string{"conflict"}, "submit", "--log", l.v.URL, env2)
	})
}

func TestSBOM(t *testing.T) {
	skipShort(t)
	l := newLogEnv(t)
	for _, tc := range []struct{ name, file, fwName, fwDigest string }{
		{"CycloneDX", "testdata/sbom/infusion-pump-fw-4.2.1.cdx.json", "infusion-pump-fw-4.2.1.bin", "5d41402abc4b2a76b9719d911017c592ae4a5e2a7c1e0b3b1a3c8d4e5f6a7b8c"},
		{"SPDX", "testdata/sbom/glucose-monitor-fw-2.0.3.spdx.json", "glucose-monitor-fw-2.0.3.bin", "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, bundle := tc.name+".dsse.json", tc.name+".bundle.json"
			mustRun(t, "sign", "--kind", "sbom", "--key", l.mkey, "--predicate", e2e.ModuleFile(t, tc.file),
				"--firmware-name", tc.fwName, "--firmware-digest", tc.fwDigest, "--out", l.path(env))
			idx := l.submit(t, env, bundle)
			// The signed statement is in a blob, not in the bundle.
			out, code := l.verify(t, l.path(bundle))
			if code != 1 || !strings.Contains(out, "NOT VERIFIED") || !strings.Contains(out, "blob") {
				t.Errorf("verify without the payload: exit %d, want 1 and a mention of the blob\n%s", code, out)
			}
			want := fmt.Sprintf("sbom entry at index %d", idx)
			for _, extra := range [][]string{
				{"--envelope", l.path(env)},
				{"--log", l.v.URL},
			} {
				out, code := l.verify(t, append(extra, l.path(bundle))...)
				if code != 0 || !strings.Contains(out, "verified") || !strings.Contains(out, want) {
					t.Errorf("verify %s: exit %d, want 0 and %q\n%s", extra[0], code, want, out)
				}
			}
		})
	}
	// The blob of one SBOM does not verify another's bundle.
	wantFail(t, 1, []string{"NOT VERIFIED"}, "verify", "--log-vkey", l.vkey, "--trust-roots", l.roots,
		"--envelope", l.path("SPDX.dsse.json"), l.path("CycloneDX.bundle.json"))
}

func TestSubmitNoWait(t *testing.T) {
	skipShort(t)
	l := newLogEnv(t)
	mustRun(t, "sign", "--kind", "sbom", "--key", l.mkey, "--predicate", e2e.ModuleFile(t, "testdata/sbom/infusion-pump-fw-4.2.1.cdx.json"),
		"--firmware-name", "pump.bin", "--firmware-digest", "5d41402abc4b2a76b9719d911017c592ae4a5e2a7c1e0b3b1a3c8d4e5f6a7b8c", "--out", l.path("sbom.dsse.json"))
	first := l.submit(t, "sbom.dsse.json", "sbom.bundle.json")
	mustRun(t, "sign", "--kind", "enrollment", "--key", l.mkey, "--device-key", l.dkey,
		"--predicate", l.path("enrollment.json"), "--out", l.path("enrollment.dsse.json"))
	stdout, stderr, code := e2e.Run(t, "vigil", "submit", "--log", l.v.URL, "--no-wait", l.path("enrollment.dsse.json"))
	want := fmt.Sprintf("sequenced at index %d", first+1)
	if code != 0 || !strings.Contains(stderr, want) {
		t.Fatalf("submit --no-wait: exit %d, stderr %q; want 0 and %q", code, stderr, want)
	}
	if stdout != "" {
		t.Errorf("submit --no-wait printed %q on stdout, want nothing (there is no bundle yet)", stdout)
	}
	// The entry gets its bundle once a checkpoint covers it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b []byte
	for {
		var err error
		if b, err = l.v.Get(ctx, fmt.Sprintf("/v1/entries/%d", first+1)); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no bundle for the entry submitted with --no-wait: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.WriteFile(l.path("enrollment.bundle.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := l.verify(t, "--envelope", l.path("enrollment.dsse.json"), l.path("enrollment.bundle.json")); code != 0 || !strings.Contains(out, "verified") {
		t.Errorf("verify of the bundle fetched later: exit %d\n%s", code, out)
	}
}
