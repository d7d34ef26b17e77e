package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-log/vigil/client"
)

// reader runs one query's reads in one transaction, so that its answer is
// of exactly the committed size it reports.
type reader struct {
	tx   *sql.Tx
	d    *dialect
	size uint64
}

// read starts a read of the committed index.
func (x *Index) read(ctx context.Context) (*reader, error) {
	tx, err := x.db.BeginTx(ctx, x.d.readTx)
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	r := &reader{tx: tx, d: x.d}
	if err := queryMeta(ctx, tx, x.d, "size", &r.size); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	return r, nil
}

func (r *reader) close() { r.tx.Rollback() }

// query runs a query in the read.
func (r *reader) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	args, err := r.d.args(args)
	if err != nil {
		return nil, err
	}
	return r.tx.QueryContext(ctx, query, args...)
}

// queryRow runs a query of at most one row in the read.
func (r *reader) queryRow(ctx context.Context, query string, args ...any) scanner {
	args, err := r.d.args(args)
	if err != nil {
		return errScanner{err}
	}
	return r.tx.QueryRowContext(ctx, query, args...)
}

// errScanner is a row whose query could not run.
type errScanner struct{ err error }

func (e errScanner) Scan(...any) error { return e.err }

// inRead runs fn in one read of the index.
func inRead[T any](ctx context.Context, x *Index, fn func(r *reader) (T, error)) (T, error) {
	r, err := x.read(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer r.close()
	return fn(r)
}

// onDevice runs fn on the device udi names, in one read of the index.
func onDevice[T any](ctx context.Context, x *Index, udi string, fn func(r *reader, d *device) (T, error)) (T, error) {
	return inRead(ctx, x, func(r *reader) (T, error) {
		d, err := r.device(ctx, udi)
		if err != nil {
			var zero T
			return zero, err
		}
		return fn(r, d)
	})
}

// device is a devices row.
type device struct {
	keyID, di, manufacturer, model string
	client.DeviceRef
}

// refColumns are the columns scanRef reads.
const refColumns = `udi, enrollment, latest, latest_seq, latest_time, latest_firmware, latest_version`

// deviceColumns are the columns scanDevice reads.
const deviceColumns = `key_id, di, manufacturer, model, ` + refColumns

type scanner interface{ Scan(dest ...any) error }

func scanDevice(s scanner) (*device, error) {
	var d device
	var err error
	d.DeviceRef, err = scanRef(s, &d.keyID, &d.di, &d.manufacturer, &d.model)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// scanRef scans refColumns, after the columns that before's destinations
// take.
func scanRef(s scanner, before ...any) (client.DeviceRef, error) {
	var (
		d                 client.DeviceRef
		latest, seq, t    sql.NullInt64
		firmware, version sql.NullString
	)
	if err := s.Scan(append(before, &d.UDI, &d.Enrollment, &latest, &seq, &t, &firmware, &version)...); err != nil {
		return d, err
	}
	if latest.Valid {
		d.Latest = &client.AttestationRef{Index: uint64(latest.Int64), Seq: uint64(seq.Int64), Time: nanos(t.Int64),
			Firmware: client.Firmware{Digest: firmware.String, Version: version.String}, Head: true}
	}
	return d, nil
}

// Page bounds the device lists of an answer: at most Limit devices
// (DefaultLimit if 0), those whose UDI sorts after After. An answer whose
// lists go on names the After of the next page in its More.
type Page struct {
	Limit int
	After string
}

// The bounds of a page.
const (
	DefaultLimit = 10000
	MaxLimit     = 50000
)

// limit returns the page's limit.
func (p Page) limit() int {
	if p.Limit <= 0 {
		return DefaultLimit
	}
	return p.Limit
}

// refs returns, as refs sorted by UDI, the first page.limit()+1 devices
// that the queries select after page.After: one more than the page holds,
// to tell whether another follows. Several queries rather than one with OR
// let each use an index range.
func (r *reader) refs(ctx context.Context, page Page, queries ...query) ([]client.DeviceRef, error) {
	out := []client.DeviceRef{}
	n := page.limit() + 1
	for _, q := range queries {
		rows, err := r.query(ctx, `SELECT `+refColumns+` FROM idx_devices WHERE `+q.where+` AND udi > ? ORDER BY udi LIMIT ?`, slices.Concat(q.args, []any{page.After, n})...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			d, err := scanRef(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b client.DeviceRef) int { return strings.Compare(a.UDI, b.UDI) })
	return out[:min(len(out), n)], nil
}

// cut cuts lists of refs sorted by UDI (and disjoint) to one page: the first
// limit refs of all of them. It returns the cursor of the next page, or ""
// if there is none.
func cut(limit int, lists ...*[]client.DeviceRef) string {
	var all []string
	for _, l := range lists {
		for _, d := range *l {
			all = append(all, d.UDI)
		}
	}
	if len(all) <= limit {
		return ""
	}
	slices.Sort(all)
	last := all[limit-1]
	for _, l := range lists {
		*l = slices.DeleteFunc(*l, func(d client.DeviceRef) bool { return d.UDI > last })
	}
	return last
}

// query is a WHERE clause and its arguments.
type query struct {
	where string
	args  []any
}

// devices returns the first page.limit()+1 devices a query selects after
// page.After, sorted by UDI.
func (r *reader) devices(ctx context.Context, page Page, where string, args ...any) ([]*device, error) {
	rows, err := r.query(ctx, `SELECT `+deviceColumns+` FROM idx_devices WHERE (`+where+`) AND udi > ? ORDER BY udi LIMIT ?`, slices.Concat(args, []any{page.After, page.limit() + 1})...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// device returns the device enrolled under udi's device ID (the first, as
// client.State binds it).
func (r *reader) device(ctx context.Context, udi string) (*device, error) {
	u, err := client.ParseUDI(udi)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	d, err := scanDevice(r.queryRow(ctx, `SELECT `+deviceColumns+` FROM idx_devices WHERE device_id = ? ORDER BY enrollment LIMIT 1`, u.DeviceID()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("device %s: %w", u, ErrNotFound)
	}
	return d, err
}

// attestationColumns are the columns scanAttestation reads.
const attestationColumns = `idx, seq, time, firmware, version, head`

// scanAttestation scans attestationColumns, after the columns that
// before's destinations take.
func scanAttestation(s scanner, before ...any) (*client.AttestationRef, error) {
	var (
		a client.AttestationRef
		t int64
	)
	if err := s.Scan(append(before, &a.Index, &a.Seq, &t, &a.Firmware.Digest, &a.Firmware.Version, &a.Head)...); err != nil {
		return nil, err
	}
	a.Time = nanos(t)
	return &a, nil
}

// attestation returns the one attestation a query selects from
// idx_attestations, named in the FROM clause as from, or nil.
func (r *reader) attestation(ctx context.Context, from, where string, args ...any) (*client.AttestationRef, error) {
	a, err := scanAttestation(r.queryRow(ctx, `SELECT `+attestationColumns+` FROM `+from+` WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return a, err
}

// Device answers GET /v1/devices/{udi}.
func (x *Index) Device(ctx context.Context, udi string) (*client.DeviceInfo, error) {
	return onDevice(ctx, x, udi, func(r *reader, d *device) (*client.DeviceInfo, error) {
		info := &client.DeviceInfo{TreeSize: r.size, DeviceRef: d.DeviceRef, KeyID: d.keyID, Manufacturer: d.manufacturer, Model: d.model, Status: client.StatusActive}
		if err := r.queryRow(ctx, `SELECT COUNT(*) FROM idx_attestations WHERE key_id = ?`, d.keyID).Scan(&info.Attestations); err != nil {
			return nil, fmt.Errorf("counting attestations: %w", err)
		}
		u, _ := client.ParseUDI(d.UDI)
		rows, err := r.query(ctx, `SELECT idx FROM idx_revocations WHERE (type = ? AND target = ?) OR (type = ? AND target = ?) ORDER BY idx`,
			client.TargetDeviceKey, d.keyID, client.TargetUDI, u.DeviceID())
		if err != nil {
			return nil, fmt.Errorf("reading revocations: %w", err)
		}
		for rows.Next() {
			var idx uint64
			if err := rows.Scan(&idx); err != nil {
				rows.Close()
				return nil, err
			}
			info.Revocations = append(info.Revocations, idx)
		}
		rows.Close()
		actions, err := r.fieldActions(ctx, "")
		if err != nil {
			return nil, err
		}
		for _, fa := range actions {
			in, err := r.inPopulation(ctx, fa, d)
			if err != nil {
				return nil, err
			}
			if !in {
				continue
			}
			fix, err := r.remedy(ctx, fa, d.keyID)
			if err != nil {
				return nil, err
			}
			info.FieldActions = append(info.FieldActions, client.FieldActionRef{ID: fa.Action.ID, Index: fa.Index, Corrected: fix != nil})
			if fix == nil && info.Status == client.StatusActive {
				info.Status = client.StatusFieldAction
			}
		}
		if len(info.Revocations) > 0 {
			info.Status = client.StatusRevoked
		}
		return info, nil
	})
}

// History answers GET /v1/devices/{udi}/attestations: up to limit
// attestations from seq from, in seq order. A page never splits the
// attestations of one seq (a forked chain has several).
func (x *Index) History(ctx context.Context, udi string, from uint64, limit int) (*client.History, error) {
	return onDevice(ctx, x, udi, func(r *reader, d *device) (*client.History, error) {
		h := &client.History{TreeSize: r.size, UDI: d.UDI, Enrollment: d.Enrollment, Attestations: []client.AttestationRef{}}
		if from > math.MaxInt64 {
			// The databases' integers are signed: no seq is stored this
			// high (and SQLite's driver refuses the argument).
			return h, nil
		}
		rows, err := r.query(ctx, `SELECT `+attestationColumns+` FROM idx_attestations WHERE key_id = ? AND seq >= ? ORDER BY seq, idx LIMIT ?`, d.keyID, from, limit+1)
		if err != nil {
			return nil, fmt.Errorf("reading attestations: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAttestation(rows)
			if err != nil {
				return nil, err
			}
			h.Attestations = append(h.Attestations, *a)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(h.Attestations) > limit {
			next := h.Attestations[limit].Seq
			cut := limit
			for cut > 0 && h.Attestations[cut-1].Seq == next {
				cut--
			}
			if cut > 0 {
				h.Attestations, h.NextSeq = h.Attestations[:cut], &next
			} else {
				// More than limit attestations of one seq: the page holds
				// them all, and the next starts after.
				rest, err := r.sameSeq(ctx, d.keyID, next, h.Attestations[limit:])
				if err != nil {
					return nil, err
				}
				h.Attestations = append(h.Attestations[:limit], rest...)
				if more, err := r.attestation(ctx, `idx_attestations`, `key_id = ? AND seq > ? ORDER BY seq, idx LIMIT 1`, d.keyID, next); err != nil {
					return nil, err
				} else if more != nil {
					h.NextSeq = &more.Seq
				}
			}
		}
		return h, nil
	})
}

// sameSeq returns the attestations of one seq of a device after those it
// has, which are the first of that seq in log order.
func (r *reader) sameSeq(ctx context.Context, keyID string, seq uint64, have []client.AttestationRef) ([]client.AttestationRef, error) {
	last := have[len(have)-1].Index
	rows, err := r.query(ctx, `SELECT `+attestationColumns+` FROM idx_attestations WHERE key_id = ? AND seq = ? AND idx > ? ORDER BY idx`, keyID, seq, last)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := slices.Clone(have)
	for rows.Next() {
		a, err := scanAttestation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// At answers GET /v1/devices/{udi}/at?time=T: among the device's head
// attestations (its chain, without forks), the one with the latest device
// time at or before t, and the first after t.
func (x *Index) At(ctx context.Context, udi string, t time.Time) (*client.AtAnswer, error) {
	return onDevice(ctx, x, udi, func(r *reader, d *device) (*client.AtAnswer, error) {
		a := &client.AtAnswer{TreeSize: r.size, UDI: d.UDI, Enrollment: d.Enrollment, Time: t.UTC()}
		ns := t.UnixNano()
		var err error
		if a.InForce, err = r.attestation(ctx, `idx_attestations`, `key_id = ? AND head AND time <= ? ORDER BY time DESC, idx DESC LIMIT 1`, d.keyID, ns); err != nil {
			return nil, fmt.Errorf("reading attestations: %w", err)
		}
		if a.Next, err = r.attestation(ctx, `idx_attestations`, `key_id = ? AND head AND time > ? ORDER BY time, idx LIMIT 1`, d.keyID, ns); err != nil {
			return nil, fmt.Errorf("reading attestations: %w", err)
		}
		return a, nil
	})
}

// ImpactQuery is what an impact query asks: the builds with a component
// that a package URL names (its version, if it has one, exactly) or that an
// OSV advisory affects; and, with Since, which devices have not reported
// since then.
type ImpactQuery struct {
	PURL     string
	Advisory *client.Advisory
	Since    *time.Time
	// Page bounds the affected and unknown devices together.
	Page Page
}

// Impact answers GET and POST /v1/impact.
func (x *Index) Impact(ctx context.Context, q ImpactQuery) (*client.Impact, error) {
	return inRead(ctx, x, func(r *reader) (*client.Impact, error) {
		out := &client.Impact{TreeSize: r.size, PURL: q.PURL, Builds: []client.ImpactBuild{}, Affected: []client.DeviceRef{}, Unknown: []client.DeviceRef{}}
		if q.Since != nil {
			s := q.Since.UTC()
			out.Since = &s
		}
		var (
			comps map[string][]client.Component // firmware digest -> matching components
			err   error
		)
		switch {
		case q.Advisory != nil:
			out.Advisory = q.Advisory.ID
			comps, err = r.components(ctx, q.Advisory.PackageKeys(), "", func(c client.Component) bool {
				_, ok := q.Advisory.Match(c)
				return ok
			})
		default:
			key, version, perr := client.PackageKey(q.PURL)
			if perr != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadQuery, perr)
			}
			comps, err = r.components(ctx, []string{key}, version, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("reading components: %w", err)
		}
		if len(comps) == 0 {
			return out, nil
		}
		in, digests := r.d.in(slices.Sorted(maps.Keys(comps)))
		rows, err := r.query(ctx, `SELECT digest, name, version, manufacturer, sbom FROM idx_firmware WHERE digest IN `+in+` ORDER BY digest`, digests...)
		if err != nil {
			return nil, fmt.Errorf("reading firmware: %w", err)
		}
		for rows.Next() {
			var b client.ImpactBuild
			if err := rows.Scan(&b.Digest, &b.Name, &b.Version, &b.Manufacturer, &b.SBOM); err != nil {
				rows.Close()
				return nil, err
			}
			b.Components = comps[b.Digest]
			out.Builds = append(out.Builds, b)
		}
		rows.Close()

		since := int64(-1 << 63)
		if q.Since != nil {
			since = q.Since.UnixNano()
		}
		if out.Affected, err = r.refs(ctx, q.Page, query{`latest_firmware IN ` + in + ` AND latest_time >= ?`, slices.Concat(digests, []any{since})}); err != nil {
			return nil, fmt.Errorf("reading devices: %w", err)
		}
		// The models that ever ran an affected build; their devices that have
		// not reported since (or ever) are in an unknown state.
		var models []string
		mrows, err := r.query(ctx, `SELECT DISTINCT di FROM idx_model_firmware WHERE firmware IN `+in+` ORDER BY di`, digests...)
		if err != nil {
			return nil, fmt.Errorf("reading models: %w", err)
		}
		for mrows.Next() {
			var di string
			if err := mrows.Scan(&di); err != nil {
				mrows.Close()
				return nil, err
			}
			models = append(models, di)
		}
		mrows.Close()
		if len(models) > 0 {
			in, models := r.d.in(models)
			if out.Unknown, err = r.refs(ctx, q.Page,
				query{`di IN ` + in + ` AND latest_time IS NULL`, models},
				query{`di IN ` + in + ` AND latest_time < ?`, slices.Concat(models, []any{since})}); err != nil {
				return nil, fmt.Errorf("reading devices: %w", err)
			}
		}
		out.More = cut(q.Page.limit(), &out.Affected, &out.Unknown)
		return out, nil
	})
}

// components returns, by firmware digest, the components of first SBOMs
// whose package-URL key is one of keys, of the given version if not "",
// that keep (if not nil) keeps. It reads them through their build's row,
// which Add writes after them (see Index.addSBOM).
func (r *reader) components(ctx context.Context, keys []string, version string, keep func(client.Component) bool) (map[string][]client.Component, error) {
	out := map[string][]client.Component{}
	for _, key := range keys {
		// The hashes find the rows; the text itself decides.
		q, args := `SELECT c.firmware, c.name, c.version, c.purl, c.cpe FROM idx_components c
			JOIN idx_firmware f ON f.digest = c.firmware AND f.sbom = c.sbom WHERE c.purl_hash = ? AND c.purl_key = ?`, []any{lookupHash(key), key}
		if version != "" {
			q, args = q+` AND c.version_hash = ? AND c.version = ?`, append(args, lookupHash(version), version)
		}
		rows, err := r.query(ctx, q+` ORDER BY c.sbom, c.ord`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var (
				fw string
				c  client.Component
			)
			if err := rows.Scan(&fw, &c.Name, &c.Version, &c.PURL, &c.CPE); err != nil {
				rows.Close()
				return nil, err
			}
			if keep == nil || keep(c) {
				out[fw] = append(out[fw], c)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fieldAction is a field action's latest entry.
type fieldAction struct {
	Index        uint64
	Manufacturer string
	Action       client.FieldAction
	dis          map[string]bool // the affected UDI-DIs, canonical
}

// fieldActions returns the latest entry of each field action, or of the
// one with the given ID.
func (r *reader) fieldActions(ctx context.Context, id string) ([]*fieldAction, error) {
	q, args := `SELECT f.idx, f.manufacturer, f.body FROM idx_field_actions f WHERE f.idx = (SELECT MAX(idx) FROM idx_field_actions g WHERE g.id = f.id)`, []any{}
	if id != "" {
		q, args = q+` AND f.id = ?`, append(args, id)
	}
	rows, err := r.query(ctx, q+` ORDER BY f.idx`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading field actions: %w", err)
	}
	defer rows.Close()
	var out []*fieldAction
	for rows.Next() {
		fa := &fieldAction{dis: map[string]bool{}}
		var body []byte
		if err := rows.Scan(&fa.Index, &fa.Manufacturer, &body); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(body, &fa.Action); err != nil {
			return nil, fmt.Errorf("field action at %d: %w", fa.Index, err)
		}
		for _, s := range fa.Action.Affected.UDIDIs {
			if di, err := client.ParseDI(s); err == nil {
				fa.dis[di.String()] = true
			}
		}
		out = append(out, fa)
	}
	return out, rows.Err()
}

// inPopulation reports whether a device is in a field action's population:
// of an affected UDI-DI, or having attested an affected build before the
// action.
func (r *reader) inPopulation(ctx context.Context, fa *fieldAction, d *device) (bool, error) {
	if fa.dis[d.di] {
		return true, nil
	}
	if len(fa.Action.Affected.Firmware) == 0 {
		return false, nil
	}
	in, fws := r.d.in(fa.Action.Affected.Firmware)
	var n int
	err := r.queryRow(ctx, `SELECT COUNT(*) FROM idx_device_firmware WHERE key_id = ? AND firmware IN `+in+` AND first < ?`,
		slices.Concat([]any{d.keyID}, fws, []any{fa.Index})...).Scan(&n)
	return n > 0, err
}

// remedy returns a device's first attestation of a field action's remedy
// build after the action, or nil.
func (r *reader) remedy(ctx context.Context, fa *fieldAction, keyID string) (*client.AttestationRef, error) {
	if fa.Action.Remedy == nil {
		return nil, nil
	}
	return r.attestation(ctx, r.d.byDevice, `key_id = ? AND firmware = ? AND idx > ? ORDER BY idx LIMIT 1`, keyID, fa.Action.Remedy.Digest, fa.Index)
}

// FieldAction answers GET /v1/field-actions/{id}: one page of the
// population, corrected and not.
func (x *Index) FieldAction(ctx context.Context, id string, page Page) (*client.FieldActionStatus, error) {
	return inRead(ctx, x, func(r *reader) (*client.FieldActionStatus, error) {
		fas, err := r.fieldActions(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(fas) == 0 {
			return nil, fmt.Errorf("field action %q: %w", id, ErrNotFound)
		}
		fa := fas[0]
		out := &client.FieldActionStatus{TreeSize: r.size, Index: fa.Index, Manufacturer: fa.Manufacturer, Action: fa.Action,
			Corrected: []client.Correction{}, NotCorrected: []client.DeviceRef{}}
		var where []string
		var args []any
		if len(fa.dis) > 0 {
			in, dis := r.d.in(slices.Sorted(maps.Keys(fa.dis)))
			where = append(where, `di IN `+in)
			args = append(args, dis...)
		}
		if fws := fa.Action.Affected.Firmware; len(fws) > 0 {
			in, fws := r.d.in(fws)
			where = append(where, `key_id IN (SELECT key_id FROM idx_device_firmware WHERE firmware IN `+in+` AND first < ?)`)
			args = append(slices.Concat(args, fws), fa.Index)
		}
		if len(where) == 0 {
			return out, nil
		}
		population, err := r.devices(ctx, page, strings.Join(where, " OR "), args...)
		if err != nil {
			return nil, fmt.Errorf("reading the population: %w", err)
		}
		if len(population) > page.limit() {
			population = population[:page.limit()]
			out.More = population[len(population)-1].UDI
		}
		fixes := map[string]*client.AttestationRef{}
		if fa.Action.Remedy != nil {
			// Each device's first remedy attestation after the action: one
			// pass over the remedy's attestations, then a lookup each (a
			// correlated MIN per row would scan them all per row).
			rows, err := r.query(ctx, `SELECT a.key_id, `+prefixed("a.", attestationColumns)+` FROM idx_attestations a
				JOIN (SELECT MIN(idx) AS first FROM idx_attestations WHERE firmware = ? AND idx > ? GROUP BY key_id) f ON a.idx = f.first`,
				fa.Action.Remedy.Digest, fa.Index)
			if err != nil {
				return nil, fmt.Errorf("reading remedy attestations: %w", err)
			}
			for rows.Next() {
				var keyID string
				a, err := scanAttestation(rows, &keyID)
				if err != nil {
					rows.Close()
					return nil, err
				}
				fixes[keyID] = a
			}
			rows.Close()
		}
		for _, d := range population {
			if fix := fixes[d.keyID]; fix != nil {
				out.Corrected = append(out.Corrected, client.Correction{UDI: d.UDI, Enrollment: d.Enrollment, Remedy: *fix})
			} else {
				out.NotCorrected = append(out.NotCorrected, d.DeviceRef)
			}
		}
		return out, nil
	})
}

// placeholders returns "(?, ?, ...)" for n values.
func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// prefixed qualifies a column list with a table alias.
func prefixed(alias, columns string) string {
	cols := strings.Split(columns, ", ")
	for i := range cols {
		cols[i] = alias + cols[i]
	}
	return strings.Join(cols, ", ")
}
