package log

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	myantispam "github.com/transparency-dev/tessera/storage/aws/antispam"
	tmysql "github.com/transparency-dev/tessera/storage/mysql"
	"github.com/transparency-dev/tessera/storage/posix"
	badger "github.com/transparency-dev/tessera/storage/posix/antispam"
	"github.com/vigil-log/vigil/client"
)

// Storage is where a log lives: one of Tessera's storage drivers and its
// persistent antispam index. POSIX and MySQL implement it.
type Storage interface {
	// exists reports whether the storage holds a log.
	exists(ctx context.Context) (bool, error)
	// prepare readies empty storage for a new log; it fails if the storage
	// holds anything that is not a log.
	prepare(ctx context.Context) error
	// open returns the Tessera driver and the persistent antispam index
	// (nil for none). Witness requests go through hc where the driver
	// lets them.
	open(ctx context.Context, hc *http.Client, pushback uint) (tessera.Driver, tessera.Antispam, error)
	// checkpoint returns the published checkpoint, or nil if there is none
	// yet.
	checkpoint(ctx context.Context) ([]byte, error)
	// tiles reads the log without appending to it.
	tiles(ctx context.Context) (*client.Tiles, error)
	// minCheckpointInterval is the shortest checkpoint interval the driver
	// accepts.
	minCheckpointInterval() time.Duration
	// shared reports whether other processes may append to the log too.
	shared() bool
	// String names the storage in logs and errors, without secrets.
	String() string
}

// twoPhase is a Storage whose driver gives entries their index before it
// integrates them into the tree, which may then lag them (GCP's). The
// others integrate as they sequence.
type twoPhase interface {
	// sequenced returns how many entries have an index.
	sequenced(ctx context.Context) (uint64, error)
}

// POSIX is Tessera's POSIX driver: the tree in a local directory, on one
// machine, with a badger antispam index beside it.
type POSIX struct {
	// Dir holds the tree: tiles, entry bundles, the checkpoint and Tessera's
	// .state directory. Required.
	Dir string
	// AntispamDir holds Tessera's persistent (badger) antispam index, which
	// maps an entry's hash to its index so that an identical resubmission
	// gets the original index. Optional: empty means only the in-memory
	// cache of recent entries deduplicates.
	AntispamDir string
}

// treeState is the file Tessera's POSIX driver writes once a tree exists.
const treeState = ".state/treeState"

func (s POSIX) exists(context.Context) (bool, error) {
	_, err := os.Stat(filepath.Join(s.Dir, treeState))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("checking for a log in %s: %w", s.Dir, err)
}

func (s POSIX) prepare(context.Context) error {
	ents, err := os.ReadDir(s.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading log directory: %w", err)
	}
	if len(ents) != 0 {
		return fmt.Errorf("creating a log: directory %s is not empty", s.Dir)
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("creating log directory: %w", err)
	}
	return nil
}

func (s POSIX) open(ctx context.Context, hc *http.Client, pushback uint) (tessera.Driver, tessera.Antispam, error) {
	driver, err := posix.New(ctx, posix.Config{Path: s.Dir, HTTPClient: hc})
	if err != nil {
		return nil, nil, fmt.Errorf("opening POSIX storage: %w", err)
	}
	if s.AntispamDir == "" {
		return driver, nil, nil
	}
	as, err := badger.NewAntispam(ctx, s.AntispamDir, badger.AntispamOpts{PushbackThreshold: pushback})
	if err != nil {
		return nil, nil, fmt.Errorf("opening antispam index: %w", err)
	}
	return driver, as, nil
}

func (s POSIX) checkpoint(context.Context) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, layout.CheckpointPath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the checkpoint: %w", err)
	}
	return b, nil
}

func (s POSIX) tiles(context.Context) (*client.Tiles, error) { return client.DirTiles(s.Dir), nil }

func (POSIX) minCheckpointInterval() time.Duration { return 0 }

func (POSIX) shared() bool { return false }

func (s POSIX) String() string { return "posix:" + s.Dir }

// MySQL is Tessera's MySQL driver: the tree in a MySQL or MariaDB database
// that any number of vigild frontends share, with Tessera's MySQL antispam
// index in the same database.
//
// Tessera's MySQL driver sends witness requests through http.DefaultClient
// and takes no client of its own. A log with a witness policy on MySQL
// therefore sets http.DefaultClient, process-wide, to its instrumented
// client (per-witness metrics, Tessera's witness timeout): one process
// serves one log.
type MySQL struct {
	// DSN names the database, in github.com/go-sql-driver/mysql's form
	// (user:password@tcp(host:3306)/dbname). Required, with a database name.
	DSN string
	// DB is an open pool on DSN, which the caller closes after the log.
	// Required.
	DB *sql.DB
}

// OpenMySQL opens a connection pool on dsn, checks that it names a database
// and that the server answers, and sets the session options vigil's tables
// need.
func OpenMySQL(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("MySQL DSN: %w", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("MySQL DSN: no database name (user:password@tcp(host:3306)/dbname)")
	}
	// Arguments interpolated by the driver save a prepare round trip per
	// statement (a device query: 1.4 ms to 0.85 ms on loopback); safe with
	// the utf8mb4 connection character set the driver uses.
	cfg.InterpolateParams = true
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("MySQL DSN: %w", err)
	}
	db := sql.OpenDB(c)
	// Idle connections are kept: every request reads the tree, and a new
	// connection per read costs a TCP and authentication round trip.
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to MySQL at %s: %w", cfg.Addr, err)
	}
	return db, nil
}

// MinCheckpointInterval is the shortest checkpoint interval the storage's
// Tessera driver accepts (none on POSIX, 1 s on MySQL).
func MinCheckpointInterval(s Storage) time.Duration { return s.minCheckpointInterval() }

// ReadTiles reads the log in s without a running log: for a rebuild of its
// index, say.
func ReadTiles(ctx context.Context, s Storage) (*client.Tiles, error) { return s.tiles(ctx) }

// tesseraSchema is Tessera's MySQL schema (storage/mysql/schema.sql of
// Tessera v1.0.4, compatibility version 1), statement by statement: the
// driver needs it created and does not ship it as Go. TestMySQLSchema
// checks that it creates exactly the tables Tessera's own file creates.
var tesseraSchema = []string{
	"CREATE TABLE IF NOT EXISTS `Tessera` (`id` TINYINT UNSIGNED NOT NULL, `compatibilityVersion` BIGINT UNSIGNED NOT NULL, PRIMARY KEY (`id`))",
	"INSERT IGNORE INTO `Tessera` (`id`, `compatibilityVersion`) VALUES (0, 1)",
	"CREATE TABLE IF NOT EXISTS `Checkpoint` (`id` TINYINT UNSIGNED NOT NULL, `note` MEDIUMBLOB NOT NULL, `published_at` BIGINT NOT NULL, PRIMARY KEY(`id`))",
	"CREATE TABLE IF NOT EXISTS `TreeState` (`id` TINYINT UNSIGNED NOT NULL, `size` BIGINT UNSIGNED NOT NULL, `root` TINYBLOB NOT NULL, PRIMARY KEY(`id`))",
	"CREATE TABLE IF NOT EXISTS `Subtree` (`level` TINYINT UNSIGNED NOT NULL, `index` BIGINT UNSIGNED NOT NULL, `nodes` MEDIUMBLOB NOT NULL, PRIMARY KEY(`level`, `index`))",
	"CREATE TABLE IF NOT EXISTS `TiledLeaves` (`tile_index` BIGINT UNSIGNED NOT NULL, `size` SMALLINT UNSIGNED NOT NULL, `data` LONGBLOB NOT NULL, PRIMARY KEY(`tile_index`))",
}

func (s MySQL) exists(ctx context.Context) (bool, error) {
	if s.DB == nil {
		return false, errors.New("MySQL storage: no database pool")
	}
	var n int
	err := s.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'TreeState'").Scan(&n)
	if err != nil {
		return false, fmt.Errorf("checking for a log in MySQL: %w", err)
	}
	return n > 0, nil
}

// prepare creates Tessera's tables. It is idempotent, so frontends starting
// together on an empty database may all run it.
func (s MySQL) prepare(ctx context.Context) error {
	for _, q := range tesseraSchema {
		if _, err := s.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating Tessera's MySQL schema: %w", err)
		}
	}
	return nil
}

func (s MySQL) open(ctx context.Context, hc *http.Client, pushback uint) (tessera.Driver, tessera.Antispam, error) {
	if hc.Transport != nil { // a witness policy: see the type's comment
		http.DefaultClient = hc
	}
	driver, err := tmysql.New(ctx, s.DB)
	if err != nil {
		return nil, nil, fmt.Errorf("opening MySQL storage: %w", err)
	}
	// Tessera's MySQL antispam (published under storage/aws, but plain
	// MySQL) keeps the hash-to-index map in the log's database. Several
	// frontends share it; its follower coordinates through a row lock.
	as, err := myantispam.NewAntispam(ctx, s.DSN, myantispam.AntispamOpts{
		PushbackThreshold: pushback, MaxBatchSize: 1024, MaxOpenConns: 16, MaxIdleConns: 8,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("opening MySQL antispam index: %w", err)
	}
	return driver, as, nil
}

func (s MySQL) checkpoint(ctx context.Context) ([]byte, error) {
	var b []byte
	err := s.DB.QueryRowContext(ctx, "SELECT `note` FROM `Checkpoint` WHERE `id` = 0").Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the checkpoint: %w", err)
	}
	return b, nil
}

func (s MySQL) tiles(ctx context.Context) (*client.Tiles, error) {
	r, err := tmysql.New(ctx, s.DB)
	if err != nil {
		return nil, fmt.Errorf("opening MySQL storage: %w", err)
	}
	return &client.Tiles{Checkpoint: r.ReadCheckpoint, Tile: r.ReadTile, EntryBundle: r.ReadEntryBundle}, nil
}

// shared: any number of frontends append to one database.
func (MySQL) shared() bool { return true }

// minCheckpointInterval is the MySQL driver's floor.
func (MySQL) minCheckpointInterval() time.Duration { return time.Second }

func (s MySQL) String() string {
	cfg, err := mysql.ParseDSN(s.DSN)
	if err != nil {
		return "mysql"
	}
	return "mysql:" + cfg.Addr + "/" + cfg.DBName
}
