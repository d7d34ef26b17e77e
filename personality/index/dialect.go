package index

import (
	"database/sql"
	"strings"
)

// dialect is what the index's SQL says differently on SQLite and on MySQL
// or MariaDB. Every query and statement is written once, in SQL that both
// accept with the same meaning, and takes these pieces where they differ.
type dialect struct {
	// types spells the schema's placeholders (see tables).
	types *strings.Replacer
	// create returns the statements that create a table, and its
	// indexes, if missing.
	create func(t *table) []string
	// readTx begins the read of one query: it reads one committed state of
	// the index throughout.
	readTx *sql.TxOptions
	// keep ends an INSERT into a table whose primary key is key so that a
	// row already under the key stays as it is. (INSERT OR IGNORE and
	// MySQL's INSERT IGNORE would also pass over other errors; MySQL's
	// turns a value too long for its column into a truncated one.)
	keep func(key string) string
	// least ends an INSERT into a table whose primary key is key so that a
	// row already under the key keeps the lesser of its col and the new
	// row's.
	least func(key, col string) string
	// byDevice is idx_attestations in the FROM clause of a query of one
	// device's attestations of a build after an index, in index order: it
	// makes the planner read the device's own few attestations by key_id.
	// Left to themselves, SQLite and MariaDB both take
	// idx_attestations_by_firmware, which gives index order but holds every
	// device's attestations of the build: with 4,000 devices of 10
	// attestations, MariaDB took 7 times as long and SQLite 45 times, and
	// the gap grows with the fleet.
	byDevice string
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

// sqliteDialect is SQLite's, with the modernc driver.
var sqliteDialect = &dialect{
	types: strings.NewReplacer(
		"{int}", "INTEGER", "{bool}", "INTEGER", "{blob}", "BLOB",
		"{digest}", "TEXT", "{id}", "TEXT", "{label}", "TEXT", "{text}", "TEXT",
		"{prefix}", ""),
	create: func(t *table) []string {
		s := "CREATE TABLE IF NOT EXISTS " + t.name + " (" + t.columns + ", PRIMARY KEY (" + t.key + "))"
		if t.withoutRowID {
			s += " WITHOUT ROWID"
		}
		out := []string{s}
		for _, ix := range t.indexes {
			out = append(out, "CREATE INDEX IF NOT EXISTS "+ix.name+" ON "+t.name+" ("+ix.columns+")")
		}
		return out
	},
	// A read transaction in WAL mode reads the snapshot its first read
	// finds; SQLite has no other isolation to ask for.
	readTx: &sql.TxOptions{ReadOnly: true},
	keep: func(key string) string {
		return " ON CONFLICT (" + key + ") DO NOTHING"
	},
	least: func(key, col string) string {
		return " ON CONFLICT (" + key + ") DO UPDATE SET " + col + " = MIN(" + col + ", excluded." + col + ")"
	},
	byDevice: "idx_attestations INDEXED BY idx_attestations_by_seq",
}

// mysqlDialect is MySQL's (8.0 and later) and MariaDB's (10.11 and later),
// with InnoDB tables and the go-sql-driver/mysql driver.
//
// Text is stored in binary string types (VARBINARY, LONGBLOB), so that it
// compares and sorts byte by byte, as SQLite's default BINARY collation
// does: the default collations fold case, and most _bin ones (PAD SPACE)
// ignore trailing spaces, either of which would change answers. Columns
// in keys have lengths that bound what client.NewEntry accepts; text it does
// not bound is a LONGBLOB, indexed by a prefix where a query looks it up.
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
		"{text}", "LONGBLOB",
		"{prefix}", "(255)"),
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
	readTx: &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	keep: func(key string) string {
		col, _, _ := strings.Cut(key, ",")
		return " ON DUPLICATE KEY UPDATE " + col + " = " + col
	},
	// VALUES(col) is the row the INSERT would have added. MySQL 8.0.20
	// deprecates it for a row alias, which MariaDB does not have.
	least: func(_, col string) string {
		return " ON DUPLICATE KEY UPDATE " + col + " = LEAST(" + col + ", VALUES(" + col + "))"
	},
	byDevice: "idx_attestations FORCE INDEX (idx_attestations_by_seq)",
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
