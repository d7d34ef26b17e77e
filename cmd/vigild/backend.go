package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/personality"
	"github.com/vigil-log/vigil/personality/index"
	"golang.org/x/mod/sumdb/note"
)

// storageFlags are the flags that choose where a log lives, shared by
// vigild and vigild reindex.
type storageFlags struct {
	storage, data, dsn, logKey, origin *string
	create                             *bool
}

func addStorageFlags(fs *flag.FlagSet) *storageFlags {
	return &storageFlags{
		storage: fs.String("storage", "posix", "where the log lives: posix (a directory, --data) or mysql (a MySQL or MariaDB database, --mysql-dsn, shared by any number of vigild frontends)"),
		data:    fs.String("data", "", "posix: the data directory; created with a new log if empty"),
		dsn:     fs.String("mysql-dsn", "", "mysql: the database, as user:password@tcp(host:3306)/dbname; it holds the log, its antispam index, the SBOM blobs and the query index. If not given, $VIGIL_MYSQL_DSN, which keeps the password off the command line"),
		logKey:  fs.String("log-key", "", "mysql: the log's note signer key, made by vigil keygen --type log (mode 0600), with its verifier key in FILE.pub; every frontend of the log uses the same"),
		origin:  fs.String("origin", "", "posix: the log's origin, required when creating a log (e.g. example.com/vigil); checked against the key if given"),
		create:  fs.Bool("create", false, "mysql: create the log if the database holds none. Without it, a database with no log is refused, so a mistyped DSN or an emptied database never starts a second log under the key"),
	}
}

// backend is an opened storage: the log's place, key, blob store, the
// coordination of its frontends, and where its query index lives.
type backend struct {
	storage  vlog.Storage
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	created  bool // no log yet: create it
	blobs    personality.Blobs
	// admission is nil where one process writes the log.
	admission personality.Admission
	// indexDir or indexDB is where the query index lives.
	indexDir string
	indexDB  *sql.DB
	close    func()
}

// openBackend opens the storage the flags name. With create, it prepares
// what a new log needs where there is none (a key on POSIX; on MySQL, where
// --create must say so too, the caller's vlog.Create makes the tables);
// without, a missing log is an error. logger receives the shared log's
// background failures.
func openBackend(ctx context.Context, f *storageFlags, create bool, logger *slog.Logger) (*backend, error) {
	dsn := *f.dsn
	if dsn == "" && *f.storage == "mysql" {
		dsn = os.Getenv("VIGIL_MYSQL_DSN")
	}
	switch *f.storage {
	case "posix":
		if *f.data == "" {
			return nil, errors.New("--storage posix needs --data (see --help)")
		}
		if *f.dsn != "" || *f.logKey != "" || *f.create {
			return nil, errors.New("--mysql-dsn, --log-key and --create are for --storage mysql; a POSIX log keeps its key in --data, and is created in an empty one")
		}
		dd := &dataDir{path: *f.data}
		if create {
			var err error
			if dd, err = openDataDir(*f.data, *f.origin); err != nil {
				return nil, err
			}
		} else if err := dd.loadKey(*f.origin); err != nil {
			return nil, fmt.Errorf("%s is not a vigil log: %w", *f.data, err)
		}
		blobs, err := personality.NewBlobStore(dd.blobs())
		if err != nil {
			return nil, err
		}
		return &backend{
			storage: vlog.POSIX{Dir: dd.tree(), AntispamDir: dd.antispam()},
			signer:  dd.signer, verifier: dd.verifier, vkey: dd.vkey, created: dd.created,
			blobs: blobs, indexDir: dd.index(), close: func() {},
		}, nil
	case "mysql":
		if dsn == "" || *f.logKey == "" {
			return nil, errors.New("--storage mysql needs --mysql-dsn (or $VIGIL_MYSQL_DSN) and --log-key (see --help)")
		}
		if *f.data != "" {
			return nil, errors.New("--data is for --storage posix; a MySQL log keeps everything in its database")
		}
		signer, verifier, vkey, err := loadLogKey(*f.logKey, *f.logKey+".pub", *f.origin)
		if err != nil {
			return nil, err
		}
		db, err := vlog.OpenMySQL(ctx, dsn)
		if err != nil {
			return nil, err
		}
		b := &backend{
			storage: vlog.MySQL{DSN: dsn, DB: db}, signer: signer, verifier: verifier, vkey: vkey,
			indexDB: db, close: func() { db.Close() },
		}
		exists, err := vlog.Exists(ctx, b.storage)
		if err != nil {
			db.Close()
			return nil, err
		}
		if !exists && !(create && *f.create) {
			db.Close()
			if create {
				return nil, fmt.Errorf("%s holds no log: start the first frontend of a new log with --create", b.storage)
			}
			return nil, fmt.Errorf("%s holds no log", b.storage)
		}
		b.created = !exists
		if b.blobs, err = personality.NewSQLBlobs(ctx, db); err != nil {
			db.Close()
			return nil, err
		}
		if b.admission, err = personality.NewSQLAdmission(ctx, db, logger); err != nil {
			db.Close()
			return nil, err
		}
		return b, nil
	}
	return nil, fmt.Errorf("--storage %q: want posix or mysql", *f.storage)
}

// followerConfig is the query index's place in a FollowerConfig.
func (b *backend) follower(cfg index.FollowerConfig) index.FollowerConfig {
	cfg.Dir, cfg.DB, cfg.Verifier, cfg.Blob = b.indexDir, b.indexDB, b.verifier, b.blobs.Get
	return cfg
}
