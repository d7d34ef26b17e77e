package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vigil-log/vigil/client"
)

// logFlags are the flags every verb that talks to a log shares.
type logFlags struct {
	fs     *flag.FlagSet
	policy *string
	log    *string
	state  *string
	roots  *string
}

// addLogFlags registers --policy, --log, --state and, if withRoots,
// --trust-roots on fs.
func addLogFlags(fs *flag.FlagSet, withRoots bool) *logFlags {
	l := &logFlags{
		fs:     fs,
		policy: fs.String("policy", "", "C2SP tlog-policy file naming the log and the witness quorum (required)"),
		log:    fs.String("log", "", "the log's base URL (default: the URL on the policy's log line)"),
		state:  fs.String("state", "", "trusted-state directory (default: $XDG_STATE_HOME/vigil or ~/.local/state/vigil)"),
	}
	if withRoots {
		l.roots = fs.String("trust-roots", "", "trust-roots file of the manufacturers to trust (required)")
	}
	return l
}

// logConn is a log reached under a policy: its tiles, its API and the
// client's trusted state of it.
type logConn struct {
	tracker *client.Tracker
	api     *client.LogClient
	roots   *client.TrustRoots
	url     string
}

// open checks the flags and reads the files they name.
func (l *logFlags) open() (*logConn, error) {
	names := []string{"policy"}
	if l.roots != nil {
		names = append(names, "trust-roots")
	}
	if err := need(l.fs, names...); err != nil {
		return nil, err
	}
	pb, err := os.ReadFile(*l.policy)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	policy, err := client.ParsePolicy(pb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", *l.policy, err)
	}
	url := *l.log
	if url == "" {
		if len(policy.Logs) != 1 || policy.Logs[0].URL == "" {
			fmt.Fprintf(l.fs.Output(), "%s: --log is required unless the policy has one log line with a URL\n", l.fs.Name())
			return nil, errUsage
		}
		url = policy.Logs[0].URL
	}
	tiles, err := client.HTTPTiles(url, nil)
	if err != nil {
		return nil, err
	}
	dir := *l.state
	if dir == "" {
		if dir, err = client.DefaultStateDir(); err != nil {
			return nil, err
		}
	}
	c := &logConn{
		tracker: &client.Tracker{Policy: policy, Tiles: tiles, Store: &client.TrustStore{Dir: dir}},
		api:     &client.LogClient{URL: url},
		url:     url,
	}
	if l.roots != nil {
		rb, err := os.ReadFile(*l.roots)
		if err != nil {
			return nil, fmt.Errorf("reading trust roots: %w", err)
		}
		if c.roots, err = client.ParseTrustRoots(rb); err != nil {
			return nil, fmt.Errorf("%s: %w", *l.roots, err)
		}
	}
	return c, nil
}
