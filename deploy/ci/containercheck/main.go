// Command containercheck checks a Containerfile offline, as far as that can
// be done without building it:
//
//   - the checks of `docker build --check`: BuildKit's own Dockerfile parser
//     and linter, configured by the file's own `# check=` directive, with
//     base images resolved to an empty configuration instead of fetched from
//     a registry;
//   - vigil's rules for its image: every base image named with a registry
//     host, the Go build static (CGO_ENABLED=0) and with -trimpath, and the
//     final stage on distroless/static or scratch with a numeric non-root USER
//     (a name cannot be checked against the base's /etc/passwd offline, and
//     Kubernetes' runAsNonRoot accepts only numeric users).
//
// Usage: containercheck FILE...
//
// It prints what it finds and exits 1 if it finds anything. It lives in its
// own module so that vigil's go.mod does not carry BuildKit.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	digest "github.com/opencontainers/go-digest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: containercheck FILE...")
		os.Exit(2)
	}
	failed := false
	for _, name := range os.Args[1:] {
		problems, err := check(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "containercheck: %s: %v\n", name, err)
			os.Exit(2)
		}
		for _, p := range problems {
			fmt.Printf("%s: %s\n", name, p)
			failed = true
		}
		if len(problems) == 0 {
			fmt.Printf("containercheck: %s: ok\n", name)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// offlineResolver stands in for a registry: every image has an empty
// configuration (no ENV, no USER), so lint rules that would read the base
// image's configuration see nothing there.
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},"config":{}}`)
	return ref, digest.FromBytes(cfg), cfg, nil
}

func check(name string) ([]string, error) {
	dt, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var problems []string

	// BuildKit's lint, as `docker build --check` runs it.
	sm := llb.NewSourceMap(nil, name, "Dockerfile", dt)
	sm.Definition = &llb.Definition{} // the results name the source; no LLB is built
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
		SourceMap:    sm,
		MetaResolver: offlineResolver{},
	})
	if err != nil {
		return nil, err
	}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		problems = append(problems, fmt.Sprintf("line %d: %s: %s", line, w.RuleName, w.Detail))
	}
	if res.Error != nil {
		problems = append(problems, res.Error.Message)
	}

	// vigil's rules.
	ast, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return append(problems, err.Error()), nil
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return append(problems, err.Error()), nil
	}
	if len(stages) < 2 {
		return append(problems, "want a multi-stage build: a Go build stage and a minimal final stage"), nil
	}
	static, trimpath := false, false
	for _, st := range stages {
		if !hasRegistry(st.BaseName) && st.BaseName != "scratch" && !isStage(stages, st.BaseName) {
			problems = append(problems, fmt.Sprintf("FROM %s: name the registry (docker.io/library/..., gcr.io/...) so the image does not depend on a client's default", st.BaseName))
		}
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					static = static || kv.Key == "CGO_ENABLED" && kv.Value == "0"
				}
			case *instructions.RunCommand:
				cmd := strings.Join(c.CmdLine, " ")
				static = static || strings.Contains(cmd, "CGO_ENABLED=0")
				trimpath = trimpath || strings.Contains(cmd, "go build") && strings.Contains(cmd, "-trimpath")
			}
		}
	}
	if !static {
		problems = append(problems, "no stage builds with CGO_ENABLED=0: the final image has no C library")
	}
	if !trimpath {
		problems = append(problems, "no `go build -trimpath`: the binaries would carry the build machine's paths")
	}
	final := stages[len(stages)-1]
	if b := final.BaseName; b != "scratch" && !strings.HasPrefix(b, "gcr.io/distroless/static") {
		problems = append(problems, fmt.Sprintf("final stage FROM %s: want gcr.io/distroless/static* or scratch", b))
	}
	user := ""
	for _, c := range final.Commands {
		if u, ok := c.(*instructions.UserCommand); ok {
			user = u.User
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || strings.Trim(uid, "0123456789") != "" {
		problems = append(problems, fmt.Sprintf("final stage USER %q: want a numeric non-root user", user))
	}
	return problems, nil
}

// hasRegistry reports whether an image reference starts with a registry
// host, as Docker tells one: a first path element with a dot or a colon, or
// localhost.
func hasRegistry(ref string) bool {
	host, _, ok := strings.Cut(ref, "/")
	return ok && (strings.ContainsAny(host, ".:") || host == "localhost")
}

func isStage(stages []instructions.Stage, name string) bool {
	for _, st := range stages {
		if strings.EqualFold(st.Name, name) {
			return true
		}
	}
	return false
}
