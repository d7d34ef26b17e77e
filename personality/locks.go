package personality

import (
	"hash/maphash"
	"slices"
	"sync"

	"github.com/vigil-log/vigil/client"
)

// locks orders submissions that could change each other's verdict, from
// their check until the log has given them an index. Without it, a device
// attestation checked just before the device's revocation could be sequenced
// just after it, and the log would hold an entry that its own history forbids
// (which an audit replaying the log in order would rightly flag).
//
// Devices, UDIs and firmware builds map onto striped read-write locks; a
// submission that reads a device's state takes its stripe shared, one that
// changes it takes it exclusively. A manufacturer-key revocation takes the
// global lock exclusively, every manufacturer-signed submission takes it
// shared. Stripes are taken in ascending order, so there is no deadlock.
type locks struct {
	global  sync.RWMutex
	stripes [1024]sync.RWMutex
	seed    maphash.Seed
}

func newLocks() *locks { return &locks{seed: maphash.MakeSeed()} }

type lockReq struct {
	stripe int
	write  bool
}

func (l *locks) stripe(name string) int {
	return int(maphash.String(l.seed, name) % uint64(len(l.stripes)))
}

// lock takes the locks an entry needs and returns the function that
// releases them.
func (l *locks) lock(e *client.Entry) (unlock func()) {
	var reqs []lockReq
	add := func(name string, write bool) { reqs = append(reqs, lockReq{l.stripe(name), write}) }
	global, globalWrite := true, false
	switch e.Kind {
	case client.KindEnrollment:
		add("key:"+e.DeviceKey().ID(), true)
		add("udi:"+e.UDI().DeviceID(), true)
	case client.KindAttestation:
		global = false
		add("key:"+e.SignerKeyID(), false)
		add("udi:"+e.UDI().DeviceID(), false)
	case client.KindSBOM:
		add("fw:"+e.FirmwareDigest(), true)
	case client.KindRevocation:
		switch t := e.Revocation.Target; t.Type {
		case client.TargetDeviceKey:
			add("key:"+t.ID, true)
		case client.TargetUDI:
			add("udi:"+e.UDI().DeviceID(), true)
		case client.TargetManufacturerKey:
			globalWrite = true
		}
	}
	slices.SortFunc(reqs, func(a, b lockReq) int { return a.stripe - b.stripe })
	// Merge requests for one stripe: exclusive wins.
	merged := reqs[:0]
	for _, r := range reqs {
		if n := len(merged); n > 0 && merged[n-1].stripe == r.stripe {
			merged[n-1].write = merged[n-1].write || r.write
			continue
		}
		merged = append(merged, r)
	}
	switch {
	case globalWrite:
		l.global.Lock()
	case global:
		l.global.RLock()
	}
	for _, r := range merged {
		if r.write {
			l.stripes[r.stripe].Lock()
		} else {
			l.stripes[r.stripe].RLock()
		}
	}
	return func() {
		for _, r := range merged {
			if r.write {
				l.stripes[r.stripe].Unlock()
			} else {
				l.stripes[r.stripe].RUnlock()
			}
		}
		switch {
		case globalWrite:
			l.global.Unlock()
		case global:
			l.global.RUnlock()
		}
	}
}
