// Package kubernetes holds the Kubernetes manifests of the bridge and their
// tests. Kubernetes does not run here, so the tests check what can be
// checked without it: every manifest parses (strictly, against the subset
// of the API the manifests use), names what exists (objects, volumes,
// ports, binaries and their flags), and the workloads, run as processes
// with the manifests' own commands, arguments, environment and mounted
// files, do what the manifests promise (TestIntegrationManifestsRun).
package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// ---- the subset of the Kubernetes API the manifests use ----------------
//
// Field names are the API's (kubernetes.io/docs/reference/kubernetes-api).
// Decoding is strict: a field not modelled here, or misspelt in a
// manifest, fails the test.

type objectMeta struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type object struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   objectMeta        `yaml:"metadata"`
	Spec       yaml.Node         `yaml:"spec"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Type       string            `yaml:"type"`

	file string
}

type intOrString struct {
	Int    int
	Str    string
	IsName bool
}

func (v *intOrString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("port: want a number or a name")
	}
	if i, err := strconv.Atoi(n.Value); err == nil && n.Tag == "!!int" {
		v.Int = i
		return nil
	}
	v.Str, v.IsName = n.Value, true
	return nil
}

type podTemplate struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     podSpec    `yaml:"spec"`
}

type podSpec struct {
	RestartPolicy                 string       `yaml:"restartPolicy"`
	AutomountServiceAccountToken  *bool        `yaml:"automountServiceAccountToken"`
	TerminationGracePeriodSeconds *int64       `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               *podSecurity `yaml:"securityContext"`
	Containers                    []container  `yaml:"containers"`
	Volumes                       []volume     `yaml:"volumes"`
}

type podSecurity struct {
	RunAsNonRoot        *bool  `yaml:"runAsNonRoot"`
	RunAsUser           *int64 `yaml:"runAsUser"`
	RunAsGroup          *int64 `yaml:"runAsGroup"`
	FSGroup             *int64 `yaml:"fsGroup"`
	FSGroupChangePolicy string `yaml:"fsGroupChangePolicy"`
	SeccompProfile      *struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type container struct {
	Name            string             `yaml:"name"`
	Image           string             `yaml:"image"`
	ImagePullPolicy string             `yaml:"imagePullPolicy"`
	Command         []string           `yaml:"command"`
	Args            []string           `yaml:"args"`
	Env             []envVar           `yaml:"env"`
	Ports           []containerPort    `yaml:"ports"`
	StartupProbe    *probe             `yaml:"startupProbe"`
	LivenessProbe   *probe             `yaml:"livenessProbe"`
	ReadinessProbe  *probe             `yaml:"readinessProbe"`
	Resources       resources          `yaml:"resources"`
	SecurityContext *containerSecurity `yaml:"securityContext"`
	VolumeMounts    []volumeMount      `yaml:"volumeMounts"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		FieldRef *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	} `yaml:"valueFrom"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type probe struct {
	HTTPGet *struct {
		Path string      `yaml:"path"`
		Port intOrString `yaml:"port"`
	} `yaml:"httpGet"`
	InitialDelaySeconds int `yaml:"initialDelaySeconds"`
	PeriodSeconds       int `yaml:"periodSeconds"`
	TimeoutSeconds      int `yaml:"timeoutSeconds"`
	FailureThreshold    int `yaml:"failureThreshold"`
}

type resources struct {
	Requests map[string]string `yaml:"requests"`
	Limits   map[string]string `yaml:"limits"`
}

type containerSecurity struct {
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	Capabilities             *struct {
		Drop []string `yaml:"drop"`
		Add  []string `yaml:"add"`
	} `yaml:"capabilities"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName  string `yaml:"secretName"`
		DefaultMode *int   `yaml:"defaultMode"`
	} `yaml:"secret"`
	PersistentVolumeClaim *struct {
		ClaimName string `yaml:"claimName"`
	} `yaml:"persistentVolumeClaim"`
}

type pvcSpec struct {
	AccessModes      []string `yaml:"accessModes"`
	StorageClassName *string  `yaml:"storageClassName"`
	Resources        struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
}

type statefulSetSpec struct {
	ServiceName         string `yaml:"serviceName"`
	Replicas            *int   `yaml:"replicas"`
	PodManagementPolicy string `yaml:"podManagementPolicy"`
	UpdateStrategy      struct {
		Type string `yaml:"type"`
	} `yaml:"updateStrategy"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template             podTemplate `yaml:"template"`
	VolumeClaimTemplates []struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     pvcSpec    `yaml:"spec"`
	} `yaml:"volumeClaimTemplates"`
}

type failureRule struct {
	Action      string `yaml:"action"`
	OnExitCodes *struct {
		ContainerName *string `yaml:"containerName"`
		Operator      string  `yaml:"operator"`
		Values        []int   `yaml:"values"`
	} `yaml:"onExitCodes"`
	OnPodConditions []struct {
		Type   string `yaml:"type"`
		Status string `yaml:"status"`
	} `yaml:"onPodConditions"`
}

type jobSpec struct {
	CompletionMode          string `yaml:"completionMode"`
	Completions             *int   `yaml:"completions"`
	Parallelism             *int   `yaml:"parallelism"`
	BackoffLimit            *int   `yaml:"backoffLimit"`
	PodReplacementPolicy    string `yaml:"podReplacementPolicy"`
	TTLSecondsAfterFinished *int   `yaml:"ttlSecondsAfterFinished"`
	PodFailurePolicy        *struct {
		Rules []failureRule `yaml:"rules"`
	} `yaml:"podFailurePolicy"`
	Template podTemplate `yaml:"template"`
}

type cronJobSpec struct {
	Schedule                   string  `yaml:"schedule"`
	TimeZone                   *string `yaml:"timeZone"`
	ConcurrencyPolicy          string  `yaml:"concurrencyPolicy"`
	StartingDeadlineSeconds    *int    `yaml:"startingDeadlineSeconds"`
	SuccessfulJobsHistoryLimit *int    `yaml:"successfulJobsHistoryLimit"`
	FailedJobsHistoryLimit     *int    `yaml:"failedJobsHistoryLimit"`
	JobTemplate                struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     jobSpec    `yaml:"spec"`
	} `yaml:"jobTemplate"`
}

type serviceSpec struct {
	ClusterIP                string            `yaml:"clusterIP"`
	PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
	Selector                 map[string]string `yaml:"selector"`
	Ports                    []struct {
		Name       string      `yaml:"name"`
		Port       int         `yaml:"port"`
		TargetPort intOrString `yaml:"targetPort"`
	} `yaml:"ports"`
}

type kustomization struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Resources  []string `yaml:"resources"`
	Images     []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
	} `yaml:"images"`
}

// strict decodes n into v, refusing unknown fields (yaml.v3's Node.Decode
// cannot, so n goes through bytes).
func strict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// ---- the manifests, loaded ------------------------------------------------

// workload is a pod template with what the checks need to know about it.
type workload struct {
	kind, name string
	pod        *podSpec
	labels     map[string]string
	claims     map[string]pvcSpec // volumeClaimTemplates (StatefulSet)
	job        *jobSpec           // Job or CronJob's job template
	obj        *object
}

type manifests struct {
	objects   []*object
	byKind    map[string]map[string]*object
	workloads []*workload
	sts       *statefulSetSpec
	job       *jobSpec
	cron      *cronJobSpec
	services  map[string]*serviceSpec
	pvcs      map[string]*pvcSpec
}

var knownKinds = map[string]string{
	"ConfigMap": "v1", "Secret": "v1", "Service": "v1", "PersistentVolumeClaim": "v1",
	"StatefulSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1",
}

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := &manifests{byKind: map[string]map[string]*object{}, services: map[string]*serviceSpec{}, pvcs: map[string]*pvcSpec{}}
	var kust *kustomization
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if f == "kustomization.yaml" {
			kust = &kustomization{}
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(kust); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			continue
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		for i := 0; ; i++ {
			o := &object{file: fmt.Sprintf("%s#%d", f, i)}
			if err := dec.Decode(o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", o.file, err)
			}
			m.add(t, o)
		}
	}
	if kust == nil {
		t.Fatal("no kustomization.yaml")
	}
	if kust.APIVersion != "kustomize.config.k8s.io/v1beta1" || kust.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion %q kind %q", kust.APIVersion, kust.Kind)
	}
	listed := map[string]bool{}
	for _, r := range kust.Resources {
		listed[r] = true
		if _, err := os.Stat(r); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}
	for _, f := range files {
		if f != "kustomization.yaml" && !listed[f] {
			t.Errorf("%s is not in kustomization.yaml's resources", f)
		}
	}
	for _, w := range m.workloads {
		for _, c := range w.pod.Containers {
			found := false
			for _, im := range kust.Images {
				found = found || im.Name == c.Image
			}
			if !found {
				t.Errorf("%s %s: image %q has no entry in kustomization.yaml's images", w.kind, w.name, c.Image)
			}
		}
	}
	return m
}

func (m *manifests) add(t *testing.T, o *object) {
	t.Helper()
	want, ok := knownKinds[o.Kind]
	switch {
	case !ok:
		t.Fatalf("%s: kind %q is not one these manifests use", o.file, o.Kind)
	case o.APIVersion != want:
		t.Fatalf("%s: %s has apiVersion %q, want %q", o.file, o.Kind, o.APIVersion, want)
	case !dns1123.MatchString(o.Metadata.Name) || len(o.Metadata.Name) > 52:
		// 52: a CronJob's name, with the suffix of its Jobs, must stay a valid label value.
		t.Fatalf("%s: name %q is not a DNS-1123 label of at most 52 characters", o.file, o.Metadata.Name)
	}
	if m.byKind[o.Kind] == nil {
		m.byKind[o.Kind] = map[string]*object{}
	}
	if m.byKind[o.Kind][o.Metadata.Name] != nil {
		t.Fatalf("%s: a second %s %s", o.file, o.Kind, o.Metadata.Name)
	}
	m.byKind[o.Kind][o.Metadata.Name] = o
	m.objects = append(m.objects, o)
	hasSpec := o.Spec.Kind != 0
	switch o.Kind {
	case "ConfigMap", "Secret":
		if hasSpec {
			t.Fatalf("%s: a %s has no spec", o.file, o.Kind)
		}
		if len(o.Data)+len(o.StringData) == 0 {
			t.Fatalf("%s: %s %s is empty", o.file, o.Kind, o.Metadata.Name)
		}
		if o.Kind == "ConfigMap" && len(o.StringData) > 0 {
			t.Fatalf("%s: stringData is a Secret's field", o.file)
		}
		return
	}
	if !hasSpec {
		t.Fatalf("%s: %s %s has no spec", o.file, o.Kind, o.Metadata.Name)
	}
	if len(o.Data)+len(o.StringData) > 0 || o.Type != "" {
		t.Fatalf("%s: data, stringData and type belong to ConfigMaps and Secrets", o.file)
	}
	switch o.Kind {
	case "Service":
		var s serviceSpec
		must(t, o, strict(&o.Spec, &s))
		m.services[o.Metadata.Name] = &s
	case "PersistentVolumeClaim":
		var s pvcSpec
		must(t, o, strict(&o.Spec, &s))
		m.pvcs[o.Metadata.Name] = &s
	case "StatefulSet":
		var s statefulSetSpec
		must(t, o, strict(&o.Spec, &s))
		m.sts = &s
		claims := map[string]pvcSpec{}
		for _, c := range s.VolumeClaimTemplates {
			claims[c.Metadata.Name] = c.Spec
		}
		m.workloads = append(m.workloads, &workload{kind: o.Kind, name: o.Metadata.Name, pod: &s.Template.Spec,
			labels: s.Template.Metadata.Labels, claims: claims, obj: o})
	case "Job":
		var s jobSpec
		must(t, o, strict(&o.Spec, &s))
		m.job = &s
		m.workloads = append(m.workloads, &workload{kind: o.Kind, name: o.Metadata.Name, pod: &s.Template.Spec,
			labels: s.Template.Metadata.Labels, job: &s, obj: o})
	case "CronJob":
		var s cronJobSpec
		must(t, o, strict(&o.Spec, &s))
		m.cron = &s
		m.workloads = append(m.workloads, &workload{kind: o.Kind, name: o.Metadata.Name, pod: &s.JobTemplate.Spec.Template.Spec,
			labels: s.JobTemplate.Spec.Template.Metadata.Labels, job: &s.JobTemplate.Spec, obj: o})
	}
}

func must(t *testing.T, o *object, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s (%s %s): %v", o.file, o.Kind, o.Metadata.Name, err)
	}
}

func (m *manifests) workload(t *testing.T, kind string) *workload {
	t.Helper()
	for _, w := range m.workloads {
		if w.kind == kind {
			return w
		}
	}
	t.Fatalf("no %s", kind)
	return nil
}

// ---- the binaries ---------------------------------------------------------

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds cdc, backfill and sync once per test run.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "bridge-k8s-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir, "./cmd/cdc", "./cmd/backfill", "./cmd/sync")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var helpFlagRE = regexp.MustCompile(`(?m)^\s+--?([a-z][a-z0-9-]*)\b`)

// helpFlags runs bin --help and returns the flags it lists. sync prints
// the flag package's usage (and exits 2), the others the cli package's.
func helpFlags(t *testing.T, bin string) (map[string]bool, string) {
	t.Helper()
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	flags := map[string]bool{}
	for _, m := range helpFlagRE.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if !flags["config"] {
		t.Fatalf("%s --help lists no --config:\n%s", bin, out)
	}
	return flags, string(out)
}

// binaryOf is the binary a container runs: /usr/local/bin/<name> as the
// image installs them (docker/Dockerfile).
func binaryOf(t *testing.T, w *workload, c container) string {
	t.Helper()
	if len(c.Command) != 1 || !strings.HasPrefix(c.Command[0], "/usr/local/bin/") {
		t.Fatalf("%s %s container %s: command %q, want [/usr/local/bin/<binary>]", w.kind, w.name, c.Name, c.Command)
	}
	name := strings.TrimPrefix(c.Command[0], "/usr/local/bin/")
	switch name {
	case "cdc", "backfill", "sync":
	default:
		t.Fatalf("%s %s: %s is not a binary of the bridge", w.kind, w.name, name)
	}
	return name
}

// ---- Kubernetes semantics the checks need ---------------------------------

var varRefRE = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand does what the kubelet does to $(VAR) in env values, command and
// args: a variable defined in env (earlier, for env values) is replaced,
// $$ is a $, anything else is kept. It reports the references it could not
// resolve.
func expand(s string, vars map[string]string) (string, []string) {
	var missing []string
	out := varRefRE.ReplaceAllStringFunc(s, func(ref string) string {
		if ref == "$$" {
			return "$"
		}
		name := ref[2 : len(ref)-1]
		if v, ok := vars[name]; ok {
			return v
		}
		missing = append(missing, name)
		return ref
	})
	return out, missing
}

const completionIndexField = "metadata.annotations['batch.kubernetes.io/job-completion-index']"

// environment is the container's environment as the kubelet builds it for
// the pod with completion index index (-1: not an Indexed Job's pod):
// in order, each value expanded against the variables before it.
func environment(t *testing.T, w *workload, c container, index int) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil:
			if e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != completionIndexField || index < 0 {
				t.Fatalf("%s %s: env %s: only the completion index of an Indexed Job is modelled", w.kind, w.name, e.Name)
			}
			vars[e.Name] = strconv.Itoa(index)
		default:
			v, missing := expand(e.Value, vars)
			if len(missing) > 0 {
				t.Fatalf("%s %s: env %s refers to %v, not defined before it (the kubelet would leave $(...) as it is)", w.kind, w.name, e.Name, missing)
			}
			vars[e.Name] = v
		}
	}
	return vars
}

// args are the container's command line for that pod.
func args(t *testing.T, w *workload, c container, env map[string]string) []string {
	t.Helper()
	out := make([]string, len(c.Args))
	for i, a := range c.Args {
		v, missing := expand(a, env)
		if len(missing) > 0 {
			t.Fatalf("%s %s: argument %q refers to %v, not in the container's env", w.kind, w.name, a, missing)
		}
		out[i] = v
	}
	return out
}

// failureAction is what a Job's podFailurePolicy does with a container
// exit code: the first rule that matches (Kubernetes evaluates them in
// order), else Count (the default: counted against backoffLimit).
func failureAction(spec *jobSpec, containerName string, code int) string {
	if spec.PodFailurePolicy == nil {
		return "Count"
	}
	for _, r := range spec.PodFailurePolicy.Rules {
		e := r.OnExitCodes
		if e == nil || (e.ContainerName != nil && *e.ContainerName != containerName) {
			continue
		}
		in := false
		for _, v := range e.Values {
			in = in || v == code
		}
		if (e.Operator == "In") == in {
			return r.Action
		}
	}
	return "Count"
}

// indexes are the completion indexes of a workload's pods (-1 alone when
// it is not an Indexed Job).
func indexes(w *workload) []int {
	if w.job == nil || w.job.CompletionMode != "Indexed" || w.job.Completions == nil {
		return []int{-1}
	}
	out := make([]int, *w.job.Completions)
	for i := range out {
		out[i] = i
	}
	return out
}

// flagValue is the value of --name in args ("" when absent).
func flagValue(args []string, name string) string {
	for i, a := range args {
		for _, p := range []string{"--" + name, "-" + name} {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if strings.HasPrefix(a, p+"=") {
				return strings.TrimPrefix(a, p+"=")
			}
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
