package log_test

import (
	"context"
	"errors"
	"testing"

	vlog "github.com/vigil-log/vigil/log"
)

// TestRetrySchemaChange: Spanner's refusal of a concurrent schema change is
// tried again until it passes; any other failure is returned at once.
func TestRetrySchemaChange(t *testing.T) {
	ctx := context.Background()
	busy := errors.New("rpc error: code = FailedPrecondition desc = Schema change operation rejected because a concurrent schema change operation or read-write transaction is already in progress.")
	calls := 0
	err := vlog.RetrySchemaChange(ctx, nil, func() error {
		if calls++; calls < 3 {
			return busy
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("refused twice, then passing: %v after %d calls, want nil after 3", err, calls)
	}
	other := errors.New("rpc error: code = InvalidArgument desc = Syntax error")
	calls = 0
	err = vlog.RetrySchemaChange(ctx, nil, func() error { calls++; return other })
	if !errors.Is(err, other) || calls != 1 {
		t.Errorf("another failure: %v after %d calls, want it after 1", err, calls)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := vlog.RetrySchemaChange(cctx, nil, func() error { return busy }); !errors.Is(err, context.Canceled) {
		t.Errorf("refused with the context ended: %v, want context.Canceled", err)
	}
}
