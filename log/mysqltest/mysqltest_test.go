package mysqltest

import (
	"database/sql"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestServer checks that each test gets a working, empty database of its own.
func TestServer(t *testing.T) {
	for range 2 {
		db, err := sql.Open("mysql", DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE x (a INT PRIMARY KEY)"); err != nil {
			t.Fatalf("creating a table in a fresh database: %v", err)
		}
		var version string
		if err := db.QueryRow("SELECT VERSION()").Scan(&version); err != nil {
			t.Fatal(err)
		}
		t.Logf("server %s", version)
	}
}
