package client

import "testing"

// BenchmarkBundleVerify measures the offline verification of one evidence
// bundle: an attestation with its embedded enrollment, so two checkpoint
// signatures, two inclusion proofs, two schema checks, a proof of
// possession and two entry signatures.
func BenchmarkBundleVerify(b *testing.B) {
	l := newBundleLog(b)
	bu := l.bundle(l.att1)
	bu.Enrollment = l.bundle(l.enroll1)
	opts := VerifyOptions{Log: l.verifier, Roots: l.f.roots}
	if _, err := bu.Verify(opts); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := bu.Verify(opts); err != nil {
			b.Fatal(err)
		}
	}
}
