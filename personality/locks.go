package personality

import (
	"hash/fnv"
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
	stripes [stripes]sync.RWMutex
}

// stripes is how many stripes names map onto, here and in a shared
// Admission's table.
const stripes = 1024

func newLocks() *locks { return &locks{} }

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

// lock takes the locks of a plan and returns the function that releases
// them.
func (l *locks) lock(p lockPlan) (unlock func()) {
	switch {
	case p.globalWrite:
		l.global.Lock()
	case p.global:
		l.global.RLock()
	}
	for _, r := range p.stripes {
		if r.write {
			l.stripes[r.stripe].Lock()
		} else {
			l.stripes[r.stripe].RLock()
		}
	}
	return func() {
		for _, r := range p.stripes {
			if r.write {
				l.stripes[r.stripe].Unlock()
			} else {
				l.stripes[r.stripe].RUnlock()
			}
		}
		switch {
		case p.globalWrite:
			l.global.Unlock()
		case p.global:
			l.global.RUnlock()
		}
	}
}
