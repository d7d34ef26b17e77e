package personality

import (
	"context"
	"hash/fnv"
	"slices"

	"github.com/vigil-log/vigil/client"
	"golang.org/x/sync/semaphore"
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
//
// Each lock is a weighted semaphore, so that a wait can end with its
// context: an exclusive holder takes the whole weight, a shared one a unit.
// Waiters are served in order, so a stream of readers cannot hold a writer
// off.
type locks struct {
	global  *semaphore.Weighted
	stripes [stripes]*semaphore.Weighted
}

// stripes is how many stripes names map onto, here and in a shared
// Admission's table.
const stripes = 1024

// exclusive is a lock's whole weight, which an exclusive holder takes.
const exclusive = 1 << 30

func newLocks() *locks {
	l := &locks{global: semaphore.NewWeighted(exclusive)}
	for i := range l.stripes {
		l.stripes[i] = semaphore.NewWeighted(exclusive)
	}
	return l
}

type lockReq struct {
	stripe int
	write  bool
}

// lockPlan is what an entry must lock: stripes, ascending and each once,
// and the global lock, shared or exclusive.
type lockPlan struct {
	stripes             []lockReq
	global, globalWrite bool
}

// writes reports whether the plan changes state: the global lock or a
// stripe taken exclusively.
func (p lockPlan) writes() bool {
	if p.globalWrite {
		return true
	}
	for _, r := range p.stripes {
		if r.write {
			return true
		}
	}
	return false
}

// stripe maps a name onto a stripe with FNV-1a, which every frontend of a
// log computes alike (a shared Admission locks the same stripes).
func stripe(name string) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % stripes)
}

// plan returns the locks an entry needs.
func plan(e *client.Entry) lockPlan {
	var reqs []lockReq
	add := func(name string, write bool) { reqs = append(reqs, lockReq{stripe(name), write}) }
	p := lockPlan{global: true}
	switch e.Kind {
	case client.KindEnrollment:
		add("key:"+e.DeviceKey().ID(), true)
		add("udi:"+e.UDI().DeviceID(), true)
	case client.KindAttestation:
		p.global = false
		add("key:"+e.SignerKeyID(), false)
		add("udi:"+e.UDI().DeviceID(), false)
	case client.KindSBOM:
		add("fw:"+e.FirmwareDigest(), true)
	case client.KindFieldAction:
		// Judged against who published each build it names.
		for _, d := range e.FieldAction.Affected.Firmware {
			add("fw:"+d, false)
		}
		if r := e.FieldAction.Remedy; r != nil {
			add("fw:"+r.Digest, false)
		}
	case client.KindRevocation:
		switch t := e.Revocation.Target; t.Type {
		case client.TargetDeviceKey:
			add("key:"+t.ID, true)
		case client.TargetUDI:
			add("udi:"+e.UDI().DeviceID(), true)
		case client.TargetFirmware:
			add("fw:"+t.ID, true)
		case client.TargetManufacturerKey:
			p.globalWrite = true
		}
	}
	slices.SortFunc(reqs, func(a, b lockReq) int { return a.stripe - b.stripe })
	// Merge requests for one stripe: exclusive wins.
	for _, r := range reqs {
		if n := len(p.stripes); n > 0 && p.stripes[n-1].stripe == r.stripe {
			p.stripes[n-1].write = p.stripes[n-1].write || r.write
			continue
		}
		p.stripes = append(p.stripes, r)
	}
	return p
}

// lock takes the locks of a plan, or none if ctx ends first, and returns
// the function that releases them.
func (l *locks) lock(ctx context.Context, p lockPlan) (unlock func(), err error) {
	type held struct {
		s *semaphore.Weighted
		n int64
	}
	var all []held
	unlock = func() {
		for i := len(all) - 1; i >= 0; i-- {
			all[i].s.Release(all[i].n)
		}
	}
	take := func(s *semaphore.Weighted, write bool) error {
		n := int64(1)
		if write {
			n = exclusive
		}
		if err := s.Acquire(ctx, n); err != nil {
			unlock()
			return err
		}
		all = append(all, held{s, n})
		return nil
	}
	if p.global || p.globalWrite {
		if err := take(l.global, p.globalWrite); err != nil {
			return nil, err
		}
	}
	for _, r := range p.stripes {
		if err := take(l.stripes[r.stripe], r.write); err != nil {
			return nil, err
		}
	}
	return unlock, nil
}
