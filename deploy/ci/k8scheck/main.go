// Command k8scheck checks vigil's Kubernetes manifests offline, with no
// cluster and no schema download:
//
//   - every document of every *.yaml file in DIR, and every object that
//     DIR's kustomization renders, decodes strictly into its type from
//     k8s.io/api: an unknown or misspelt field, a duplicate key or a wrong
//     type is an error, and so is a kind the checker does not know;
//   - kustomization.yaml decodes strictly, lists every manifest in DIR, and
//     renders (kustomize's own library, as `kubectl apply -k` would);
//   - the rendered objects fit together: selectors select the Deployment's
//     pods, ports, volumes, ConfigMaps and keys, the service account and
//     $(VAR) references in args resolve;
//   - every pod is sandboxed as deploy/README.md promises: non-root,
//     read-only root file system, no privilege escalation, all capabilities
//     dropped, seccomp RuntimeDefault, resource requests, probes on /healthz,
//     and at least two replicas.
//
// What it cannot check is what only an API server knows: admission, quota,
// defaulting, and the validation rules in k8s.io/kubernetes, which is not
// importable as a library.
//
// Usage: k8scheck DIR
//
// It prints what it finds and exits 1 if it finds anything. It lives in its
// own module so that vigil's go.mod does not carry the Kubernetes libraries.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	ktypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kinds are the object types the manifests may hold, by apiVersion/kind.
var kinds = map[string]func() any{
	"v1/Namespace":                  func() any { return new(corev1.Namespace) },
	"v1/ServiceAccount":             func() any { return new(corev1.ServiceAccount) },
	"v1/ConfigMap":                  func() any { return new(corev1.ConfigMap) },
	"v1/Service":                    func() any { return new(corev1.Service) },
	"apps/v1/Deployment":            func() any { return new(appsv1.Deployment) },
	"policy/v1/PodDisruptionBudget": func() any { return new(policyv1.PodDisruptionBudget) },
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: k8scheck DIR")
		os.Exit(2)
	}
	c := &checker{}
	c.run(os.Args[1])
	for _, p := range c.problems {
		fmt.Println(p)
	}
	if len(c.problems) > 0 {
		os.Exit(1)
	}
	fmt.Printf("k8scheck: %s: %d objects ok\n", os.Args[1], c.objects)
}

type checker struct {
	problems []string
	objects  int
}

func (c *checker) errorf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) run(dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		c.errorf("%s: no *.yaml files", dir)
		return
	}
	var manifests []string
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		manifests = append(manifests, filepath.Base(f))
		b, err := os.ReadFile(f)
		if err != nil {
			c.errorf("%v", err)
			continue
		}
		c.decodeAll(f, b) // strictness of the sources, before kustomize touches them
	}

	kb, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		c.errorf("%v", err)
		return
	}
	var k ktypes.Kustomization
	if err := yaml.UnmarshalStrict(kb, &k); err != nil {
		c.errorf("kustomization.yaml: %v", err)
		return
	}
	for _, m := range manifests {
		if !slices.Contains(k.Resources, m) {
			c.errorf("kustomization.yaml: resources does not list %s", m)
		}
	}
	rendered, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		c.errorf("kustomize build %s: %v", dir, err)
		return
	}
	out, err := rendered.AsYaml()
	if err != nil {
		c.errorf("kustomize build %s: %v", dir, err)
		return
	}
	objs := c.decodeAll("kustomize build "+dir, out)
	c.objects = len(objs)
	c.crossCheck(objs)
}

// decodeAll decodes each YAML document of b strictly into its type.
func (c *checker) decodeAll(name string, b []byte) []any {
	var objs []any
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			c.errorf("%s: document %d: %v", name, i, err)
			return objs
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			c.errorf("%s: document %d: %v", name, i, err)
			continue
		}
		gvk := tm.APIVersion + "/" + tm.Kind
		newObj, ok := kinds[gvk]
		if !ok {
			c.errorf("%s: document %d: %s is not a kind k8scheck knows; add it to kinds", name, i, gvk)
			continue
		}
		obj := newObj()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			c.errorf("%s: document %d (%s): %v", name, i, gvk, err)
			continue
		}
		meta := obj.(metav1.Object)
		for _, msg := range validation.IsDNS1123Subdomain(meta.GetName()) {
			c.errorf("%s: %s %q: name: %s", name, tm.Kind, meta.GetName(), msg)
		}
		objs = append(objs, obj)
	}
}

// crossCheck checks the rendered objects as a whole.
func (c *checker) crossCheck(objs []any) {
	configMaps := map[string]*corev1.ConfigMap{}
	serviceAccounts := map[string]*corev1.ServiceAccount{}
	var deployments []*appsv1.Deployment
	for _, o := range objs {
		if m, ok := o.(metav1.Object); ok && m.GetNamespace() == "" {
			if _, isNS := o.(*corev1.Namespace); !isNS {
				c.errorf("%T %q: no namespace (kustomization.yaml sets it)", o, m.GetName())
			}
		}
		switch o := o.(type) {
		case *corev1.ConfigMap:
			configMaps[o.Name] = o
		case *corev1.ServiceAccount:
			serviceAccounts[o.Name] = o
			if o.Annotations["iam.gke.io/gcp-service-account"] == "" {
				c.errorf("ServiceAccount %q: no iam.gke.io/gcp-service-account annotation (GKE Workload Identity)", o.Name)
			}
		case *appsv1.Deployment:
			deployments = append(deployments, o)
		}
	}
	if len(deployments) == 0 {
		c.errorf("no Deployment")
	}
	for _, d := range deployments {
		c.checkDeployment(d, configMaps, serviceAccounts)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			d := selected(deployments, o.Spec.Selector)
			if d == nil {
				c.errorf("Service %q: selector %v selects no Deployment's pods", o.Name, o.Spec.Selector)
				continue
			}
			for _, p := range o.Spec.Ports {
				if p.TargetPort.StrVal != "" && !hasPort(&d.Spec.Template.Spec, p.TargetPort.StrVal) {
					c.errorf("Service %q: targetPort %q is no container port of Deployment %q", o.Name, p.TargetPort.StrVal, d.Name)
				}
			}
		case *policyv1.PodDisruptionBudget:
			sel, err := metav1.LabelSelectorAsMap(o.Spec.Selector)
			if err != nil || selected(deployments, sel) == nil {
				c.errorf("PodDisruptionBudget %q: selector selects no Deployment's pods", o.Name)
			}
		}
	}
}

// selected returns the Deployment whose pods sel selects, if any.
func selected(deployments []*appsv1.Deployment, sel map[string]string) *appsv1.Deployment {
	if len(sel) == 0 {
		return nil
	}
	for _, d := range deployments {
		if labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
			return d
		}
	}
	return nil
}

func hasPort(spec *corev1.PodSpec, name string) bool {
	for _, ctr := range spec.Containers {
		for _, p := range ctr.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func (c *checker) checkDeployment(d *appsv1.Deployment, configMaps map[string]*corev1.ConfigMap, serviceAccounts map[string]*corev1.ServiceAccount) {
	where := fmt.Sprintf("Deployment %q", d.Name)
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		c.errorf("%s: want at least 2 replicas", where)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		c.errorf("%s: selector does not select its own pod template", where)
	}
	spec := &d.Spec.Template.Spec
	if _, ok := serviceAccounts[spec.ServiceAccountName]; !ok {
		c.errorf("%s: serviceAccountName %q is not in the manifests", where, spec.ServiceAccountName)
	}
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		if v.ConfigMap != nil && configMaps[v.ConfigMap.Name] == nil {
			c.errorf("%s: volume %q: ConfigMap %q is not in the manifests", where, v.Name, v.ConfigMap.Name)
		}
	}
	for _, ctr := range spec.Containers {
		where := fmt.Sprintf("%s container %q", where, ctr.Name)
		if ctr.Image == "" {
			c.errorf("%s: no image", where)
		}
		c.checkSandbox(where, psc, ctr.SecurityContext)
		if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Requests.Memory().IsZero() {
			c.errorf("%s: want cpu and memory requests", where)
		}
		for name, p := range map[string]*corev1.Probe{"readinessProbe": ctr.ReadinessProbe, "livenessProbe": ctr.LivenessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
				c.errorf("%s: want a %s on GET /healthz", where, name)
			} else if n := p.HTTPGet.Port.StrVal; n != "" && !hasPort(spec, n) {
				c.errorf("%s: %s port %q is no container port", where, name, n)
			}
		}
		for _, m := range ctr.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				c.errorf("%s: volumeMount %q names no volume", where, m.Name)
			}
		}
		env := map[string]bool{}
		for _, e := range ctr.Env {
			env[e.Name] = true
			if e.ValueFrom == nil || e.ValueFrom.ConfigMapKeyRef == nil {
				continue
			}
			ref := e.ValueFrom.ConfigMapKeyRef
			if cm := configMaps[ref.Name]; cm == nil {
				c.errorf("%s: env %s: ConfigMap %q is not in the manifests", where, e.Name, ref.Name)
			} else if _, ok := cm.Data[ref.Key]; !ok {
				c.errorf("%s: env %s: ConfigMap %q has no key %q", where, e.Name, ref.Name, ref.Key)
			}
		}
		// Kubernetes leaves an undefined $(VAR) in args as it is.
		for _, a := range append(slices.Clone(ctr.Command), ctr.Args...) {
			for _, m := range varRef.FindAllStringSubmatch(a, -1) {
				if !env[m[1]] {
					c.errorf("%s: %q refers to $(%s), which env does not define", where, a, m[1])
				}
			}
		}
	}
}

// checkSandbox checks one container's security settings, the container's
// own taking precedence over the pod's where Kubernetes lets them.
func (c *checker) checkSandbox(where string, psc *corev1.PodSecurityContext, sc *corev1.SecurityContext) {
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	nonRoot := sc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		c.errorf("%s: want runAsNonRoot: true", where)
	}
	if uid := sc.RunAsUser; uid != nil && *uid == 0 || uid == nil && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		c.errorf("%s: runs as uid 0", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		c.errorf("%s: want readOnlyRootFilesystem: true", where)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.errorf("%s: want allowPrivilegeEscalation: false", where)
	}
	if sc.Privileged != nil && *sc.Privileged {
		c.errorf("%s: privileged", where)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		c.errorf("%s: want capabilities: drop [ALL], add none", where)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		c.errorf("%s: want seccompProfile RuntimeDefault", where)
	}
}
