package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"cloud.google.com/go/spanner"
	gcs "cloud.google.com/go/storage"
	"github.com/prometheus/client_golang/prometheus"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/personality"
	"github.com/vigil-log/vigil/personality/index"
	"golang.org/x/mod/sumdb/note"
)

// storageFlags are the flags that choose where a log lives, shared by
// vigild and vigild reindex.
type storageFlags struct {
	storage, data, dsn, logKey, origin *string
	project, spanner, bucket           *string
	create                             *bool
}

func addStorageFlags(fs *flag.FlagSet) *storageFlags {
	return &storageFlags{
		storage: fs.String("storage", "posix", "where the log lives: posix (a directory, --data); mysql (a MySQL or MariaDB database, --mysql-dsn); or gcp (a Cloud Spanner database and a GCS bucket, --gcp-project, --spanner, --gcs-bucket). Any number of vigild frontends share a mysql or gcp log"),
		data:    fs.String("data", "", "posix: the data directory; created with a new log if empty"),
		dsn:     fs.String("mysql-dsn", "", "mysql: the database, as user:password@tcp(host:3306)/dbname; it holds the log, its antispam index, the SBOM blobs and the query index. If not given, $VIGIL_MYSQL_DSN, which keeps the password off the command line"),
		project: fs.String("gcp-project", "", "gcp: the Google Cloud project of the Spanner database"),
		spanner: fs.String("spanner", "", "gcp: the Cloud Spanner database, as projects/P/instances/I/databases/D or, with --gcp-project, instances/I/databases/D; it holds the sequencing, Tessera's antispam index, the admission locks and the query index. Credentials are Google's Application Default Credentials"),
		bucket:  fs.String("gcs-bucket", "", "gcp: the GCS bucket that holds the tiles, the checkpoint and the SBOM blobs"),
		logKey:  fs.String("log-key", "", "mysql, gcp: the log's note signer key, made by vigil keygen --type log (mode 0600), with its verifier key in FILE.pub; every frontend of the log uses the same"),
		origin:  fs.String("origin", "", "posix: the log's origin, required when creating a log (e.g. example.com/vigil); checked against the key if given"),
		create:  fs.Bool("create", false, "mysql, gcp: create the log if the storage holds none. Without it, storage with no log is refused, so a mistyped DSN, database or bucket, or emptied storage, never starts a second log under the key"),
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
// background failures, reg (if not nil) the metrics of its admission.
func openBackend(ctx context.Context, f *storageFlags, create bool, logger *slog.Logger, reg prometheus.Registerer) (*backend, error) {
	dsn := *f.dsn
	if dsn == "" && *f.storage == "mysql" {
		dsn = os.Getenv("VIGIL_MYSQL_DSN")
	}
	switch *f.storage {
	case "posix":
		if *f.data == "" {
			return nil, errors.New("--storage posix needs --data (see --help)")
		}
		if *f.dsn != "" || *f.logKey != "" || *f.create || f.gcpGiven() {
			return nil, errors.New("--mysql-dsn, --gcp-project, --spanner, --gcs-bucket, --log-key and --create are for --storage mysql or gcp; a POSIX log keeps its key in --data, and is created in an empty one")
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
		if *f.data != "" || f.gcpGiven() {
			return nil, errors.New("--data is for --storage posix, and --gcp-project, --spanner and --gcs-bucket for gcp; a MySQL log keeps everything in its database")
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
		if err := b.checkCreate(ctx, f, create); err != nil {
			b.close()
			return nil, err
		}
		if b.blobs, err = personality.NewSQLBlobs(ctx, db); err != nil {
			b.close()
			return nil, err
		}
		if b.admission, err = personality.NewSQLAdmission(ctx, db, logger); err != nil {
			b.close()
			return nil, err
		}
		return b, nil
	case "gcp":
		return openGCP(ctx, f, create, logger, reg)
	}
	return nil, fmt.Errorf("--storage %q: want posix, mysql or gcp", *f.storage)
}

// gcpGiven reports whether any of --storage gcp's flags is set.
func (f *storageFlags) gcpGiven() bool {
	return *f.project != "" || *f.spanner != "" || *f.bucket != ""
}

// openGCP opens a log in a Spanner database and a GCS bucket.
func openGCP(ctx context.Context, f *storageFlags, create bool, logger *slog.Logger, reg prometheus.Registerer) (*backend, error) {
	if *f.spanner == "" || *f.bucket == "" || *f.logKey == "" {
		return nil, errors.New("--storage gcp needs --spanner, --gcs-bucket and --log-key (see --help)")
	}
	if *f.data != "" || *f.dsn != "" {
		return nil, errors.New("--data and --mysql-dsn are for --storage posix and mysql; a GCP log keeps everything in Spanner and GCS")
	}
	db, err := spannerDatabase(*f.project, *f.spanner)
	if err != nil {
		return nil, err
	}
	signer, verifier, vkey, err := loadLogKey(*f.logKey, *f.logKey+".pub", *f.origin)
	if err != nil {
		return nil, err
	}
	var closers []func()
	b := &backend{signer: signer, verifier: verifier, vkey: vkey, close: func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}}
	fail := func(err error) (*backend, error) {
		b.close()
		return nil, err
	}
	gc, err := gcs.NewClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("GCS client: %w", err)
	}
	closers = append(closers, func() { gc.Close() })
	// One Spanner client for the log's driver and admission.
	sc, err := spanner.NewClient(ctx, db)
	if err != nil {
		return fail(fmt.Errorf("opening a Spanner client for %s: %w", db, err))
	}
	closers = append(closers, sc.Close)
	b.storage = vlog.GCP{Spanner: db, Client: sc, Bucket: *f.bucket, GCS: gc}
	if err := b.checkCreate(ctx, f, create); err != nil {
		return fail(err)
	}
	if b.admission, err = personality.NewSpannerAdmission(ctx, sc, logger, reg); err != nil {
		return fail(err)
	}
	if b.indexDB, err = index.OpenSpannerDB(ctx, db); err != nil {
		return fail(err)
	}
	closers = append(closers, func() { b.indexDB.Close() })
	b.blobs = personality.NewGCSBlobs(gc, *f.bucket)
	return b, nil
}

// spannerDatabase is --spanner as projects/P/instances/I/databases/D.
func spannerDatabase(project, db string) (string, error) {
	if !strings.HasPrefix(db, "projects/") {
		if project == "" {
			return "", fmt.Errorf("--spanner %s: give projects/P/instances/I/databases/D, or --gcp-project", db)
		}
		db = "projects/" + project + "/" + db
	}
	parts := strings.Split(db, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "instances" || parts[4] != "databases" || slices.Contains(parts, "") {
		return "", fmt.Errorf("--spanner %s: want projects/P/instances/I/databases/D", db)
	}
	if project != "" && parts[1] != project {
		return "", fmt.Errorf("--spanner %s is in project %s, not --gcp-project %s", db, parts[1], project)
	}
	return db, nil
}

// checkCreate refuses shared storage that holds no log unless both the
// caller (vigild, not reindex) and --create say to make one, and records
// whether the log is new.
func (b *backend) checkCreate(ctx context.Context, f *storageFlags, create bool) error {
	exists, err := vlog.Exists(ctx, b.storage)
	if err != nil {
		return err
	}
	if !exists && !(create && *f.create) {
		if create {
			return fmt.Errorf("%s holds no log: start the first frontend of a new log with --create", b.storage)
		}
		return fmt.Errorf("%s holds no log", b.storage)
	}
	b.created = !exists
	return nil
}

// followerConfig is the query index's place in a FollowerConfig.
func (b *backend) follower(cfg index.FollowerConfig) index.FollowerConfig {
	cfg.Dir, cfg.DB, cfg.Verifier, cfg.Blob = b.indexDir, b.indexDB, b.verifier, b.blobs.Get
	return cfg
}
