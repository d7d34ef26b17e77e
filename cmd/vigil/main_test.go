package main

import (
	"os"
	"testing"

	"github.com/vigil-log/vigil/cmd/internal/e2e"
)

// TestMain removes the binaries the end-to-end tests built.
func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }
