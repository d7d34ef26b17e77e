// Command tfcheck checks a Terraform module offline, as far as that can be
// done without the providers' schemas (which `terraform validate` needs and
// only the Terraform registry serves):
//
//   - every *.tf file parses (HCL native syntax) and is formatted as
//     hclwrite.Format, the formatter under `terraform fmt`, leaves it;
//   - every reference resolves: var.X to a variable, local.X to a local,
//     TYPE.NAME to a resource, data.TYPE.NAME to a data source, module.X to
//     a module;
//   - every variable is used, and has a type and a description;
//   - every resource's provider (the type's prefix) is in required_providers.
//
// It cannot check attribute names, types or values against the provider, nor
// anything about the cloud: see deploy/README.md.
//
// Usage: tfcheck DIR
//
// It prints what it finds and exits 1 if it finds anything. It lives in its
// own module so that vigil's go.mod does not carry HCL.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tfcheck DIR")
		os.Exit(2)
	}
	problems, n := check(os.Args[1])
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Printf("tfcheck: %s: %d files ok\n", os.Args[1], n)
}

// module is what a directory of .tf files declares and references.
type module struct {
	declared  map[string]bool // "var.x", "local.x", "T.n", "data.T.n", "module.x"
	vars      map[string]*hclsyntax.Block
	providers map[string]bool // required_providers' local names
	resources map[string]hcl.Range
	refs      []hcl.Traversal
}

func check(dir string) (problems []string, files int) {
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(names) == 0 {
		return []string{dir + ": no *.tf files"}, 0
	}
	m := &module{declared: map[string]bool{}, vars: map[string]*hclsyntax.Block{}, providers: map[string]bool{}, resources: map[string]hcl.Range{}}
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		for _, d := range diags {
			problems = append(problems, d.Error())
		}
		if diags.HasErrors() {
			return problems, len(names) // references need every file
		}
		if !bytes.Equal(hclwrite.Format(src), src) {
			problems = append(problems, name+": not formatted (terraform fmt)")
		}
		m.collect(f.Body.(*hclsyntax.Body))
	}

	used := map[string]bool{}
	for _, t := range m.refs {
		key, ok := refKey(t)
		if !ok {
			continue
		}
		used[key] = true
		if !m.declared[key] {
			problems = append(problems, fmt.Sprintf("%s: %s is not declared", t.SourceRange(), key))
		}
	}
	for _, name := range sortedKeys(m.vars) {
		b := m.vars[name]
		if !used["var."+name] {
			problems = append(problems, fmt.Sprintf("%s: variable %q is not used", b.DefRange(), name))
		}
		for _, a := range []string{"type", "description"} {
			if _, ok := b.Body.Attributes[a]; !ok {
				problems = append(problems, fmt.Sprintf("%s: variable %q has no %s", b.DefRange(), name, a))
			}
		}
	}
	for _, typ := range sortedKeys(m.resources) {
		p, _, _ := strings.Cut(typ, "_")
		if !m.providers[p] {
			problems = append(problems, fmt.Sprintf("%s: provider %q of %s is not in required_providers", m.resources[typ], p, typ))
		}
	}
	return problems, len(names)
}

// collect records the declarations of a file's top-level body and every
// reference in it.
func (m *module) collect(body *hclsyntax.Body) {
	for _, b := range body.Blocks {
		switch {
		case b.Type == "variable" && len(b.Labels) == 1:
			m.declared["var."+b.Labels[0]] = true
			m.vars[b.Labels[0]] = b
		case b.Type == "locals":
			for name := range b.Body.Attributes {
				m.declared["local."+name] = true
			}
		case b.Type == "resource" && len(b.Labels) == 2:
			m.declared[b.Labels[0]+"."+b.Labels[1]] = true
			m.resources[b.Labels[0]] = b.DefRange()
		case b.Type == "data" && len(b.Labels) == 2:
			m.declared["data."+b.Labels[0]+"."+b.Labels[1]] = true
			m.resources[b.Labels[0]] = b.DefRange()
		case b.Type == "module" && len(b.Labels) == 1:
			m.declared["module."+b.Labels[0]] = true
		case b.Type == "terraform":
			for _, tb := range b.Body.Blocks {
				if tb.Type == "required_providers" {
					for name := range tb.Body.Attributes {
						m.providers[name] = true
					}
				}
			}
		}
	}
	m.collectRefs(body, "")
}

// collectRefs records the references in body's attributes and nested
// blocks. A variable's type is a type expression, and a lifecycle's
// ignore_changes names attributes: neither refers to anything.
func (m *module) collectRefs(body *hclsyntax.Body, blockType string) {
	for name, a := range body.Attributes {
		if blockType == "variable" && name == "type" || blockType == "lifecycle" && name == "ignore_changes" {
			continue
		}
		m.refs = append(m.refs, a.Expr.Variables()...)
	}
	for _, b := range body.Blocks {
		m.collectRefs(b.Body, b.Type)
	}
}

// refKey names what a reference refers to, or reports false for the names
// Terraform itself defines.
func refKey(t hcl.Traversal) (string, bool) {
	attr := func(i int) string {
		if i < len(t) {
			if a, ok := t[i].(hcl.TraverseAttr); ok {
				return a.Name
			}
		}
		return "?"
	}
	switch root := t.RootName(); root {
	case "each", "count", "self", "path", "terraform":
		return "", false
	case "var", "local", "module":
		return root + "." + attr(1), true
	case "data":
		return "data." + attr(1) + "." + attr(2), true
	default:
		return root + "." + attr(1), true
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
