package index

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// dialect is what the index's SQL says differently on SQLite, on MySQL or
// MariaDB, and on Cloud Spanner. Every query and statement is written once,
// in SQL that all accept with the same meaning, and takes these pieces
// where they differ.
type dialect struct {
	// types spells the schema's placeholders (see tables).
	types *strings.Replacer
	// create returns the statements that create a table, and its
	// indexes, if missing.
	create func(t *table) []string
	// dropIndexes drops a table's indexes before the table, which Spanner
	// refuses to drop while it has any.
	dropIndexes bool
	// ddlBatch sends schema statements (runDDL's) as one batch:
	// Spanner makes each batch a schema change of its own, which takes
	// seconds.
	ddlBatch bool
	// readTx begins the read of one query: it reads one committed state of
	// the index throughout.
	readTx *sql.TxOptions
	// replace begins an INSERT (INTO follows) whose row replaces a row
	// already under its primary key.
	replace string
	// keep returns an INSERT of rows (VALUES) into table's columns, whose
	// primary key is key, that leaves a row already under the key as it
	// is. (SQLite's INSERT OR IGNORE and MySQL's INSERT IGNORE would also
	// pass over other errors, unlike Spanner's INSERT OR IGNORE; MySQL's
	// turns a value too long for its column into a truncated one.)
	keep func(table, columns, rows, key string) string
	// least returns an INSERT of one row, a ? for each of columns, into
	// table, whose primary key is key, such that a row already under the
	// key keeps the lesser of its col and the new row's.
	least func(table, columns, key, col string) string
	// byDevice is idx_attestations in the FROM clause of a query of one
	// device's attestations of a build after an index, in index order: it
	// makes the planner read the device's own few attestations by key_id.
	// Left to themselves, SQLite and MariaDB both take
	// idx_attestations_by_firmware, which gives index order but holds every
	// device's attestations of the build: with 4,000 devices of 10
	// attestations, MariaDB took 7 times as long and SQLite 45 times, and
	// the gap grows with the fleet.
	byDevice string
	// in returns the right side of "x IN ..." for a list of text values,
	// and its arguments.
	in func(values []string) (string, []any)
	// bind converts a statement's arguments for the driver, if set.
	bind func(args []any) ([]any, error)
	// batch, if set, makes the driver send the statements of the fold's
	// write transactions in batches.
	batch *writeBatch
	// budget bounds, if not 0, the mutations of one write transaction, as
	// Spanner counts them against its limit per commit (see mutations):
	// writes commit, and truncations go, in steps below it.
	budget int
	// stateTable creates the audit state's table (see sqlStore).
	stateTable string
	// newLease returns the lease of a database shared by several
	// processes (see lease).
	newLease func(ctx context.Context, db *sql.DB) (lease, error)
}

// writeBatch is how a driver batches statements: begin, run after the guard
// in each write transaction, makes it hold each statement back, until a
// query, the commit, or run, after every length statements, sends those
// held. A statement's error comes back from that send. The fold reads
// nothing back from its writes.
type writeBatch struct {
	begin  []string
	run    string
	length int
}

// table is one of the index's tables, in the placeholders of tables.
type table struct {
	name    string
	columns string // column definitions, comma-separated
	key     string // the primary key's columns
	indexes []tableIndex
	// withoutRowID makes SQLite store the rows in the primary key's
	// B-tree, for a table that is its key and little more.
	withoutRowID bool
}

// tableIndex is a secondary index of a table.
type tableIndex struct{ name, columns string }

// createIndexes returns the statements that create t's indexes if missing.
func createIndexes(t *table) []string {
	var out []string
	for _, ix := range t.indexes {
		out = append(out, "CREATE INDEX IF NOT EXISTS "+ix.name+" ON "+t.name+" ("+ix.columns+")")
	}
	return out
}

// insert is an INSERT of rows (VALUES) into table's columns.
func insert(table, columns, rows string) string {
	return "INSERT INTO " + table + " (" + columns + ") VALUES " + rows
}

// insertRow is an INSERT of one row, a ? for each of columns, into table.
func insertRow(table, columns string) string {
	return insert(table, columns, placeholders(strings.Count(columns, ",")+1))
}

// listIn is "IN" over a list of placeholders, one a value.
func listIn(values []string) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return placeholders(len(values)), args
}

// sqliteDialect is SQLite's, with the modernc driver.
var sqliteDialect = &dialect{
	types: strings.NewReplacer(
		"{int}", "INTEGER", "{bool}", "INTEGER", "{blob}", "BLOB",
		"{digest}", "TEXT", "{id}", "TEXT", "{label}", "TEXT", "{text}", "TEXT"),
	create: func(t *table) []string {
		s := "CREATE TABLE IF NOT EXISTS " + t.name + " (" + t.columns + ", PRIMARY KEY (" + t.key + "))"
		if t.withoutRowID {
			s += " WITHOUT ROWID"
		}
		return append([]string{s}, createIndexes(t)...)
	},
	// A read transaction in WAL mode reads the snapshot its first read
	// finds; SQLite has no other isolation to ask for.
	readTx:  &sql.TxOptions{ReadOnly: true},
	replace: "REPLACE",
	keep: func(table, columns, rows, key string) string {
		return insert(table, columns, rows) + " ON CONFLICT (" + key + ") DO NOTHING"
	},
	least: func(table, columns, key, col string) string {
		return insertRow(table, columns) + " ON CONFLICT (" + key + ") DO UPDATE SET " + col + " = MIN(" + col + ", excluded." + col + ")"
	},
	byDevice: "idx_attestations INDEXED BY idx_attestations_by_seq",
	in:       listIn,
}

// mysqlDialect is MySQL's (8.0 and later) and MariaDB's (10.11 and later),
// with InnoDB tables and the go-sql-driver/mysql driver.
//
// Text is stored in binary string types (VARBINARY, LONGBLOB), so that it
// compares and sorts byte by byte, as SQLite's default BINARY collation
// does: the default collations fold case, and most _bin ones (PAD SPACE)
// ignore trailing spaces, either of which would change answers. Columns
// in keys have lengths that bound what client.NewEntry accepts; text it does
// not bound is a LONGBLOB, in no key.
var mysqlDialect = &dialect{
	types: strings.NewReplacer(
		"{int}", "BIGINT", "{bool}", "BOOLEAN", "{blob}", "LONGBLOB",
		// A hex SHA-256: a digest or a key ID.
		"{digest}", "VARBINARY(64)",
		// A canonical UDI, UDI-DI or device ID: at most 86 bytes, as
		// client.ParseUDI bounds each part.
		"{id}", "VARBINARY(255)",
		// Text client.NewEntry bounds to 1024 bytes (firmware versions,
		// field action IDs), and the index's own constants.
		"{label}", "VARBINARY(1024)",
		"{text}", "LONGBLOB"),
	create: func(t *table) []string {
		s := "CREATE TABLE IF NOT EXISTS " + t.name + " (" + t.columns + ", PRIMARY KEY (" + t.key + ")"
		for _, ix := range t.indexes {
			s += ", INDEX " + ix.name + " (" + ix.columns + ")"
		}
		// DYNAMIC (the default since MySQL 5.7 and MariaDB 10.2, but a
		// server may be set otherwise) allows keys of up to 3072 bytes;
		// the longest here, idx_device_refs_by_model, is under 1,700.
		return []string{s + ") ENGINE = InnoDB ROW_FORMAT = DYNAMIC"}
	},
	// InnoDB's REPEATABLE READ reads the snapshot its first read takes,
	// whatever the server's default isolation.
	readTx:  &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	replace: "REPLACE",
	keep: func(table, columns, rows, key string) string {
		col, _, _ := strings.Cut(key, ",")
		return insert(table, columns, rows) + " ON DUPLICATE KEY UPDATE " + col + " = " + col
	},
	// VALUES(col) is the row the INSERT would have added. MySQL 8.0.20
	// deprecates it for a row alias, which MariaDB does not have.
	least: func(table, columns, _, col string) string {
		return insertRow(table, columns) + " ON DUPLICATE KEY UPDATE " + col + " = LEAST(" + col + ", VALUES(" + col + "))"
	},
	byDevice: "idx_attestations FORCE INDEX (idx_attestations_by_seq)",
	in:       listIn,
	stateTable: `CREATE TABLE IF NOT EXISTS vigil_audit_state (
		name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
		part INT NOT NULL,
		data LONGBLOB NOT NULL,
		PRIMARY KEY (name, part))`,
	newLease: newLockLease,
}

// spannerDialect is Cloud Spanner's, in GoogleSQL, with the go-sql-spanner
// driver.
//
// Text is stored as BYTES, which compares and sorts byte by byte as the
// other two databases' do, and whose arguments may be any bytes: a STRING
// argument must be UTF-8, and a query's (a page cursor, a field action ID)
// need not be. bind passes text as []byte, since Spanner compares BYTES
// with BYTES only. The lengths bound what client.NewEntry accepts, as in
// MySQL.
//
// GoogleSQL has no ON CONFLICT: keep is INSERT OR IGNORE (which passes over
// no other error), and least an INSERT OR UPDATE whose value is the lesser
// of the new one and the row's, read in the same statement.
var spannerDialect = &dialect{
	types: strings.NewReplacer(
		"{int}", "INT64", "{bool}", "BOOL", "{blob}", "BYTES(MAX)",
		"{digest}", "BYTES(64)", "{id}", "BYTES(255)", "{label}", "BYTES(1024)", "{text}", "BYTES(MAX)"),
	create: func(t *table) []string {
		return append([]string{"CREATE TABLE IF NOT EXISTS " + t.name + " (" + t.columns + ") PRIMARY KEY (" + t.key + ")"}, createIndexes(t)...)
	},
	dropIndexes: true,
	ddlBatch:    true,
	// A strong read-only transaction: it reads at one timestamp, after
	// every commit before it began.
	readTx:  &sql.TxOptions{ReadOnly: true},
	replace: "INSERT OR UPDATE",
	keep: func(table, columns, rows, _ string) string {
		return "INSERT OR IGNORE" + strings.TrimPrefix(insert(table, columns, rows), "INSERT")
	},
	least: func(table, columns, key, col string) string {
		var match []string
		for k := range strings.SplitSeq(key, ", ") {
			match = append(match, "cur."+k+" = ins."+k)
		}
		cols := strings.Split(columns, ", ")
		named, values := make([]string, len(cols)), make([]string, len(cols))
		for i, c := range cols {
			named[i], values[i] = "? AS "+c, "ins."+c
			if c == col {
				values[i] = "LEAST(ins." + c + ", IFNULL((SELECT cur." + c + " FROM " + table + " cur WHERE " + strings.Join(match, " AND ") + "), ins." + c + "))"
			}
		}
		return "INSERT OR UPDATE INTO " + table + " (" + columns + ") SELECT " + strings.Join(values, ", ") + " FROM (SELECT " + strings.Join(named, ", ") + ") ins"
	},
	byDevice: "idx_attestations@{FORCE_INDEX=idx_attestations_by_seq}",
	// One array argument: Spanner takes at most 950 arguments a statement,
	// and a field action may name 1,024 builds.
	in: func(values []string) (string, []any) {
		b := make([][]byte, len(values))
		for i, v := range values {
			b[i] = []byte(v)
		}
		return "UNNEST(?)", []any{b}
	},
	bind: func(args []any) ([]any, error) {
		out := make([]any, len(args))
		for i, a := range args {
			switch a := a.(type) {
			case string:
				out[i] = []byte(a)
			case uint64:
				// The driver would wrap it to a negative INT64; the other
				// drivers refuse it.
				if a > math.MaxInt64 {
					return nil, fmt.Errorf("argument %d exceeds Spanner's INT64", a)
				}
				out[i] = int64(a)
			default:
				out[i] = a
			}
		}
		return out, nil
	},
	// go-sql-spanner's automatic batches of DML, one round trip each rather
	// than one a statement, without checking the rows each changed. The
	// client gives a batch 30 s; the emulator, slower than Spanner, takes
	// 20 to 60 ms a statement with a few thousand devices indexed.
	batch: &writeBatch{
		begin:  []string{"SET LOCAL AUTO_BATCH_DML = true", "SET LOCAL AUTO_BATCH_DML_UPDATE_COUNT_VERIFICATION = false"},
		run:    "RUN BATCH",
		length: 50,
	},
	// Far below Spanner's limit of 80,000 a commit: a follower's write
	// transaction is kept to a second or so, because a long one is aborted
	// again and again by the log's own transactions and never commits (on
	// the emulator, which runs one read-write transaction at a time; on
	// Spanner, where it would hold its locks as long).
	budget: 1_000,
	stateTable: `CREATE TABLE IF NOT EXISTS vigil_audit_state (
		name BYTES(64) NOT NULL,
		part INT64 NOT NULL,
		data BYTES(MAX) NOT NULL) PRIMARY KEY (name, part)`,
	newLease: newRowLease,
}

// ddl returns the statements that create the tables, in d's SQL.
func (d *dialect) ddl() []string {
	var out []string
	for i := range tables {
		for _, s := range d.create(&tables[i]) {
			out = append(out, d.types.Replace(s))
		}
	}
	return out
}

// dropDDL returns the statements that drop the tables, if there, but for
// idx_checkpoints, with idx_meta last: until it goes, the index's version
// says that the rest may still be there.
func (d *dialect) dropDDL() []string {
	var out []string
	for i := range tables {
		t := &tables[len(tables)-1-i] // idx_meta is first
		if t.name == "idx_checkpoints" {
			continue
		}
		if d.dropIndexes {
			for _, ix := range t.indexes {
				out = append(out, "DROP INDEX IF EXISTS "+ix.name)
			}
		}
		out = append(out, "DROP TABLE IF EXISTS "+t.name)
	}
	return out
}

// args returns a statement's arguments as d's driver takes them.
func (d *dialect) args(args []any) ([]any, error) {
	if d.bind == nil {
		return args, nil
	}
	return d.bind(args)
}

// mutations bounds, from above, the mutations Spanner counts for writing
// one row of t: one a column, and for each secondary index one a column of
// its entry, for the old entry and the new.
func (t *table) mutations() int {
	n := strings.Count(t.columns, ",") + 1
	key := strings.Count(t.key, ",") + 1
	for _, ix := range t.indexes {
		n += 2 * (strings.Count(ix.columns, ",") + 1 + key)
	}
	return n
}

// rowMutations is the mutations of one row of the named table.
func rowMutations(name string) int {
	for i := range tables {
		if tables[i].name == name {
			return tables[i].mutations()
		}
	}
	return 0
}

// writeMutations bounds the mutations of a statement that writes one row:
// those of a row of the table it writes, or 0 for a query.
func writeMutations(query string) int {
	if m := writesInto.FindStringSubmatch(query); m != nil {
		return rowMutations(m[1])
	}
	return 0
}

// writesInto finds the table an INSERT, REPLACE or UPDATE writes.
var writesInto = regexp.MustCompile(`^(?:(?:INSERT(?: OR \w+)?|REPLACE) INTO|UPDATE)\s+(\w+)`)
