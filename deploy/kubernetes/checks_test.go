package kubernetes

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
)

// ---- a container's file system --------------------------------------------

// podFS is what one container sees, laid out under root: ConfigMap and
// Secret volumes as files (a Secret's stringData, or the values given in
// secrets), persistent volumes as directories shared by every pod that
// mounts the same claim (claimDirs, by claim name).
type podFS struct {
	root   string
	mounts []mount
}

type mount struct {
	path     string
	readOnly bool
	kind     string // configMap | secret | pvc
	source   string // the ConfigMap, Secret or claim
}

func newPodFS(t *testing.T, m *manifests, w *workload, c container, secrets map[string]string, claimDirs map[string]string) *podFS {
	t.Helper()
	fs := &podFS{root: t.TempDir()}
	vols := map[string]volume{}
	for _, v := range w.pod.Volumes {
		vols[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		if !filepath.IsAbs(vm.MountPath) {
			t.Fatalf("%s %s: mountPath %q is not absolute", w.kind, w.name, vm.MountPath)
		}
		dir := fs.host(vm.MountPath)
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		mt := mount{path: vm.MountPath, readOnly: vm.ReadOnly}
		v, isVolume := vols[vm.Name]
		_, isClaim := w.claims[vm.Name]
		switch {
		case isClaim:
			mt.kind, mt.source = "pvc", vm.Name
		case !isVolume:
			t.Fatalf("%s %s: volumeMount %s names no volume", w.kind, w.name, vm.Name)
		case v.ConfigMap != nil:
			cm := m.byKind["ConfigMap"][v.ConfigMap.Name]
			if cm == nil {
				t.Fatalf("%s %s: volume %s: no ConfigMap %s", w.kind, w.name, v.Name, v.ConfigMap.Name)
			}
			mt.kind, mt.source = "configMap", cm.Metadata.Name
			writeFiles(t, dir, cm.Data)
		case v.Secret != nil:
			sec := m.byKind["Secret"][v.Secret.SecretName]
			if sec == nil {
				t.Fatalf("%s %s: volume %s: no Secret %s", w.kind, w.name, v.Name, v.Secret.SecretName)
			}
			mt.kind, mt.source = "secret", sec.Metadata.Name
			data := map[string]string{}
			for k, val := range sec.StringData {
				data[k] = val
				if s, ok := secrets[k]; ok {
					data[k] = s
				}
			}
			writeFiles(t, dir, data)
		case v.PersistentVolumeClaim != nil:
			if m.pvcs[v.PersistentVolumeClaim.ClaimName] == nil {
				t.Fatalf("%s %s: volume %s: no PersistentVolumeClaim %s", w.kind, w.name, v.Name, v.PersistentVolumeClaim.ClaimName)
			}
			mt.kind, mt.source = "pvc", v.PersistentVolumeClaim.ClaimName
		default:
			t.Fatalf("%s %s: volume %s: a kind of volume the checks do not model", w.kind, w.name, v.Name)
		}
		if mt.kind == "pvc" {
			shared, ok := claimDirs[mt.source]
			if !ok {
				shared = t.TempDir()
				claimDirs[mt.source] = shared
			}
			if err := os.Symlink(shared, dir); err != nil {
				t.Fatal(err)
			}
		}
		fs.mounts = append(fs.mounts, mt)
	}
	for name := range vols {
		used := false
		for _, vm := range c.VolumeMounts {
			used = used || vm.Name == name
		}
		if !used {
			t.Errorf("%s %s: volume %s is mounted by no container", w.kind, w.name, name)
		}
	}
	return fs
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range files {
		if strings.ContainsAny(k, "/\\") {
			t.Fatalf("key %q: a ConfigMap or Secret key is a file name", k)
		}
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// host is where the container's path p lies under root.
func (fs *podFS) host(p string) string { return filepath.Join(fs.root, filepath.Clean(p)) }

// mountOf is the mount holding the container's path p (the longest
// mountPath that is p or one of its folders), or nil: then p is on the
// image's root file system.
func (fs *podFS) mountOf(p string) *mount {
	var best *mount
	for i := range fs.mounts {
		mt := &fs.mounts[i]
		if p == mt.path || strings.HasPrefix(p, mt.path+"/") {
			if best == nil || len(mt.path) > len(best.path) {
				best = mt
			}
		}
	}
	return best
}

// containerPath turns a host path under root back into the container's.
func (fs *podFS) containerPath(t *testing.T, hostPath string) string {
	t.Helper()
	rel, err := filepath.Rel(fs.root, hostPath)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("%s is outside the container's file system", hostPath)
	}
	return "/" + rel
}

// loadConfig loads the container's --config as the binary would, with the
// container's environment and nothing of the test's: every ${VAR} the
// file names is set to the container's value or unset.
func loadConfig(t *testing.T, fs *podFS, configPath string, env map[string]string) *config.Config {
	t.Helper()
	data, err := os.ReadFile(fs.host(configPath))
	if err != nil {
		t.Fatalf("--config %s: %v", configPath, err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(string(data), -1) {
		name := m[1]
		t.Setenv(name, env[name])
		if _, ok := env[name]; !ok {
			os.Unsetenv(name)
		}
	}
	c, err := config.Load(fs.host(configPath))
	if err != nil {
		t.Fatalf("the configuration in the ConfigMap does not load:\n%v", err)
	}
	return c
}

// ---- the checks -----------------------------------------------------------

// TestManifests checks every manifest against the API subset, the other
// manifests, the binaries and the configuration, without running anything
// but the binaries' --help.
func TestManifests(t *testing.T) {
	m := loadManifests(t)
	bins := binaries(t)
	if len(m.workloads) != 3 || m.sts == nil || m.job == nil || m.cron == nil {
		t.Fatalf("want a StatefulSet, a Job and a CronJob, got %d workloads", len(m.workloads))
	}
	var metricsPort int // cdc's, from its configuration
	for _, w := range m.workloads {
		checkPod(t, w)
		for _, c := range w.pod.Containers {
			bin := binaryOf(t, w, c)
			flags, help := helpFlags(t, filepath.Join(bins, bin))
			seenState := map[string]int{}
			for _, idx := range indexes(w) {
				env := environment(t, w, c, idx)
				a := args(t, w, c, env)
				for _, arg := range a {
					if !strings.HasPrefix(arg, "-") {
						continue
					}
					name := strings.SplitN(strings.TrimLeft(arg, "-"), "=", 2)[0]
					if !flags[name] {
						t.Errorf("%s %s: %s has no flag --%s (its --help lists %v)", w.kind, w.name, bin, name, sortedKeys(flags))
					}
				}
				cfgPath := flagValue(a, "config")
				if cfgPath == "" {
					t.Fatalf("%s %s: no --config (the default would be config.yaml in the working directory)", w.kind, w.name)
				}
				fs := newPodFS(t, m, w, c, nil, map[string]string{})
				if mt := fs.mountOf(cfgPath); mt == nil || mt.kind != "configMap" {
					t.Fatalf("%s %s: --config %s is not in a ConfigMap volume", w.kind, w.name, cfgPath)
				}
				cfg := loadConfig(t, fs, cfgPath, env)
				checkConfigFiles(t, w, fs, cfg, bin, a, seenState, idx)
				checkGrace(t, w, bin, cfg)
				if bin == "cdc" {
					metricsPort = checkCDCPorts(t, m, w, c, cfg)
				}
				switch bin {
				case "backfill":
					checkJobShards(t, w, a, idx)
					checkFailurePolicy(t, w, c, help)
					checkScrapedPort(t, w, c, a)
				case "sync":
					checkFailurePolicy(t, w, c, help)
					if flagValue(a, "every") != "" || flagValue(a, "cron") != "" || !slices.Contains(a, "--once") {
						t.Errorf("CronJob %s: sync must run once per Job (--once, no --every or --cron), got %q", w.name, a)
					}
				}
			}
		}
	}
	if metricsPort == 0 {
		t.Fatal("no cdc metrics port checked")
	}
	checkStatefulSet(t, m)
	checkCronJob(t, m)
	checkServerID(t, m)
	checkImage(t, m)
}

// checkImage: docker/Dockerfile installs every binary the manifests run
// (in both of its final stages) and runs as the user the pods name.
func checkImage(t *testing.T, m *manifests) {
	t.Helper()
	data, err := os.ReadFile("../../docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var copies []string
	user := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 2 && f[0] == "COPY" && f[len(f)-1] == "/usr/local/bin/":
			copies = append(copies, line)
		case len(f) == 2 && f[0] == "USER":
			user = f[1]
		}
	}
	if len(copies) < 2 {
		t.Fatalf("docker/Dockerfile: want the binaries copied to /usr/local/bin/ in both final stages, found %q", copies)
	}
	for _, w := range m.workloads {
		for _, c := range w.pod.Containers {
			name := binaryOf(t, w, c)
			for _, cp := range copies {
				if !regexp.MustCompile(`/` + name + `\b`).MatchString(cp) {
					t.Errorf("docker/Dockerfile line %q does not install %s, which %s %s runs", cp, name, w.kind, w.name)
				}
			}
			if sc := w.pod.SecurityContext; sc != nil && sc.RunAsUser != nil && sc.RunAsGroup != nil &&
				user != strconv.FormatInt(*sc.RunAsUser, 10)+":"+strconv.FormatInt(*sc.RunAsGroup, 10) {
				t.Errorf("%s %s runs as %d:%d, the image's USER is %s", w.kind, w.name, *sc.RunAsUser, *sc.RunAsGroup, user)
			}
		}
	}
}

// checkPod: non-root, no privilege, a read-only root file system, no API token.
func checkPod(t *testing.T, w *workload) {
	t.Helper()
	p := w.pod
	sc := p.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 ||
		sc.FSGroup == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("%s %s: pod securityContext must run as a non-root user, with fsGroup and the RuntimeDefault seccomp profile", w.kind, w.name)
	} else if *sc.RunAsUser != 65532 { // docker/Dockerfile's USER and docker/passwd
		t.Errorf("%s %s: runAsUser %d, the image's user is 65532", w.kind, w.name, *sc.RunAsUser)
	}
	if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
		t.Errorf("%s %s: the bridge never calls the Kubernetes API: automountServiceAccountToken: false", w.kind, w.name)
	}
	if len(p.Containers) != 1 {
		t.Fatalf("%s %s: %d containers, want 1", w.kind, w.name, len(p.Containers))
	}
	for _, c := range p.Containers {
		cs := c.SecurityContext
		if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem || cs.AllowPrivilegeEscalation == nil ||
			*cs.AllowPrivilegeEscalation || cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []string{"ALL"}) || len(cs.Capabilities.Add) > 0 {
			t.Errorf("%s %s container %s: want readOnlyRootFilesystem, no privilege escalation, every capability dropped", w.kind, w.name, c.Name)
		}
		if c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
			t.Errorf("%s %s: memory request and limit wanted", w.kind, w.name)
		}
	}
	for _, v := range p.Volumes {
		if v.Secret != nil && v.Secret.DefaultMode != nil {
			// YAML 1.1 (kubectl) reads 0440 as octal, YAML 1.2 as decimal: the manifests write decimal.
			if mode := *v.Secret.DefaultMode; mode > 0o777 || mode&0o044 != 0o040 {
				t.Errorf("%s %s: secret volume %s: defaultMode %#o: want group-readable (fsGroup), not world-readable", w.kind, w.name, v.Name, mode)
			}
		}
	}
	if w.job != nil && p.RestartPolicy != "Never" {
		t.Errorf("%s %s: restartPolicy %q: podFailurePolicy needs Never", w.kind, w.name, p.RestartPolicy)
	}
}

// checkConfigFiles: every file the binary writes lies on a writable
// persistent volume (the root file system is read-only, and state must
// outlive the pod), and shards never share one.
func checkConfigFiles(t *testing.T, w *workload, fs *podFS, cfg *config.Config, bin string, a []string, seen map[string]int, idx int) {
	t.Helper()
	writes := map[string]string{"dirty_rows.file": cfg.DirtyRows.File}
	switch bin {
	case "cdc":
		writes["cdc.checkpoint.path"] = cfg.CDC.Checkpoint.Path
		writes["the snapshot state"] = cfg.CDC.Checkpoint.Path + ".snapshot.json"
	case "backfill":
		sh, _ := backfill.ParseShard(flagValue(a, "shard"))
		writes["backfill.state"] = backfill.StatePath(cfg.Backfill.State, sh)
	case "sync":
		writes["sync.state"] = cfg.Sync.State
	}
	for key, p := range writes {
		mt := fs.mountOf(p)
		switch {
		case !filepath.IsAbs(p):
			t.Errorf("%s %s: %s %q is relative: it would land in the image's working directory", w.kind, w.name, key, p)
		case mt == nil || mt.kind != "pvc" || mt.readOnly:
			t.Errorf("%s %s: %s %s is not on a writable persistent volume", w.kind, w.name, key, p)
		}
		if prev, dup := seen[p]; dup && prev != idx {
			t.Errorf("%s %s: pods %d and %d both write %s (%s)", w.kind, w.name, prev, idx, p, key)
		}
		seen[p] = idx
	}
	// What it reads (mapping files, password files, CA files) loaded through
	// the volumes, or Load would have failed; none may come from the image.
	reads := []string{filepath.Join(filepath.Dir(cfg.Path), "x")}
	if cfg.IoTDB.MappingsDir != "" {
		reads = append(reads, filepath.Join(filepath.Dir(cfg.Path), cfg.IoTDB.MappingsDir, "x"))
	}
	for _, p := range append(reads, cfg.IoTDB.TLS.CAFile, cfg.IoTDB.TLS.CertFile, cfg.IoTDB.TLS.KeyFile) {
		if p == "" || !filepath.IsAbs(p) {
			continue
		}
		if fs.mountOf(fs.containerPath(t, p)) == nil {
			t.Errorf("%s %s: reads %s, which no volume holds", w.kind, w.name, p)
		}
	}
}

// checkGrace: SIGTERM, then the binary's shutdown_timeout of writes in
// flight, then the state is saved; the pod must be given longer.
func checkGrace(t *testing.T, w *workload, bin string, cfg *config.Config) {
	t.Helper()
	timeout := map[string]time.Duration{"cdc": cfg.CDC.ShutdownTimeout, "backfill": cfg.Backfill.ShutdownTimeout, "sync": cfg.Sync.ShutdownTimeout}[bin]
	g := w.pod.TerminationGracePeriodSeconds
	if g == nil {
		t.Errorf("%s %s: no terminationGracePeriodSeconds (the default 30s is %s's whole shutdown_timeout %s)", w.kind, w.name, bin, timeout)
	} else if time.Duration(*g)*time.Second < timeout+10*time.Second {
		t.Errorf("%s %s: terminationGracePeriodSeconds %d leaves no room after %s's shutdown_timeout %s to save its state", w.kind, w.name, *g, bin, timeout)
	}
}

// checkCDCPorts: metrics.listen binds every interface on the port the
// container declares, every probe and the scrape annotations use that
// port, and the probes fit cdc's phases.
func checkCDCPorts(t *testing.T, m *manifests, w *workload, c container, cfg *config.Config) int {
	t.Helper()
	host, port, err := net.SplitHostPort(cfg.Metrics.Listen)
	if err != nil {
		t.Fatalf("metrics.listen %q: %v", cfg.Metrics.Listen, err)
	}
	if host != "0.0.0.0" && host != "" && host != "::" {
		t.Errorf("metrics.listen %q: the kubelet's probes come from outside the container; bind every interface", cfg.Metrics.Listen)
	}
	want, _ := strconv.Atoi(port)
	ports := map[string]int{}
	found := false
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
		found = found || p.ContainerPort == want
	}
	if !found {
		t.Errorf("no containerPort %d (metrics.listen) in %v", want, c.Ports)
	}
	resolve := func(p intOrString) int {
		if p.IsName {
			n, ok := ports[p.Str]
			if !ok {
				t.Errorf("port name %q is not a containerPort of %s", p.Str, c.Name)
			}
			return n
		}
		return p.Int
	}
	for _, pr := range []struct {
		name string
		p    *probe
		path string
	}{{"startupProbe", c.StartupProbe, "/healthz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		// Startup and liveness restart the container when they fail:
		// /readyz is 503 through a snapshot and an IoTDB outage, so only
		// /healthz may decide that. Readiness is /readyz's verdict.
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("cdc: no %s with httpGet", pr.name)
			continue
		}
		if pr.p.HTTPGet.Path != pr.path {
			t.Errorf("cdc %s: path %s, want %s", pr.name, pr.p.HTTPGet.Path, pr.path)
		}
		if got := resolve(pr.p.HTTPGet.Port); got != want {
			t.Errorf("cdc %s: port %d, metrics.listen is %d", pr.name, got, want)
		}
	}
	if s := c.StartupProbe; s != nil && time.Duration(s.PeriodSeconds*s.FailureThreshold)*time.Second < time.Minute {
		t.Errorf("cdc startupProbe allows %ds to start listening: give it at least a minute", s.PeriodSeconds*s.FailureThreshold)
	}
	ann := w.obj.annotations()
	if ann["prometheus.io/port"] != port || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("cdc scrape annotations %v: want port %s, path /metrics", ann, port)
	}
	svc := m.services[m.sts.ServiceName]
	if svc == nil {
		t.Fatalf("StatefulSet serviceName %q: no such Service", m.sts.ServiceName)
	}
	if svc.ClusterIP != "None" || !svc.PublishNotReadyAddresses {
		t.Errorf("Service %s: want headless (clusterIP: None) and publishNotReadyAddresses (cdc is not ready during a snapshot, and its metrics matter then)", m.sts.ServiceName)
	}
	for k, v := range svc.Selector {
		if w.labels[k] != v {
			t.Errorf("Service %s selects %s=%s, which cdc's pods do not carry", m.sts.ServiceName, k, v)
		}
	}
	for _, p := range svc.Ports {
		if resolve(p.TargetPort) != want {
			t.Errorf("Service %s port %s: target %d, metrics.listen is %d", m.sts.ServiceName, p.Name, resolve(p.TargetPort), want)
		}
	}
	return want
}

func (o *object) annotations() map[string]string {
	var s struct {
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
		} `yaml:"template"`
	}
	_ = o.Spec.Decode(&s)
	return s.Template.Metadata.Annotations
}

// checkScrapedPort: a pod that serves metrics by --metrics-listen serves
// them on every interface, on a port its container declares and its
// prometheus.io annotations name.
func checkScrapedPort(t *testing.T, w *workload, c container, a []string) {
	t.Helper()
	addr := flagValue(a, "metrics-listen")
	if addr == "" {
		t.Errorf("%s %s: no --metrics-listen: its progress would not be served", w.kind, w.name)
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %s: --metrics-listen %q: %v", w.kind, w.name, addr, err)
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		t.Errorf("%s %s: --metrics-listen %q: the kubelet and Prometheus reach the pod's address, not %s", w.kind, w.name, addr, host)
	}
	declared := false
	for _, cp := range c.Ports {
		declared = declared || strconv.Itoa(cp.ContainerPort) == port
	}
	if !declared {
		t.Errorf("%s %s: --metrics-listen port %s is not a containerPort", w.kind, w.name, port)
	}
	if ann := w.obj.annotations(); ann["prometheus.io/port"] != port || ann["prometheus.io/path"] != "/metrics" || ann["prometheus.io/scrape"] != "true" {
		t.Errorf("%s %s: scrape annotations %v: want scrape true, port %s, path /metrics", w.kind, w.name, ann, port)
	}
}

// checkJobShards: pod i runs --shard i/n with n the Job's completions, so
// the pods together read every partition once.
func checkJobShards(t *testing.T, w *workload, a []string, idx int) {
	t.Helper()
	j := w.job
	if j.CompletionMode != "Indexed" || j.Completions == nil || j.Parallelism == nil || *j.Parallelism > *j.Completions {
		t.Fatalf("Job %s: want completionMode Indexed with completions, and parallelism at most completions", w.name)
	}
	sh, err := backfill.ParseShard(flagValue(a, "shard"))
	if err != nil {
		t.Fatalf("Job %s pod %d: --shard %q: %v", w.name, idx, flagValue(a, "shard"), err)
	}
	if sh.Index != idx || sh.Count != *j.Completions {
		t.Errorf("Job %s pod %d runs --shard %d/%d; want %d/%d", w.name, idx, sh.Index, sh.Count, idx, *j.Completions)
	}
}

// checkFailurePolicy: the Job's podFailurePolicy against the binary's
// exit codes. 3 (interrupted, state saved) and disruptions are ignored:
// the replacement pod resumes. 2 (configuration or flags) fails the Job:
// every retry would fail alike. 1 is counted against backoffLimit.
func checkFailurePolicy(t *testing.T, w *workload, c container, help string) {
	t.Helper()
	j := w.job
	if j.PodFailurePolicy == nil {
		t.Fatalf("%s %s: no podFailurePolicy", w.kind, w.name)
	}
	if wire.ExitInterrupted != 3 || wire.ExitUsage != 2 || wire.ExitFailed != 1 {
		t.Fatalf("the binaries' exit codes changed (wire.Exit*): update the policy and this test")
	}
	if strings.HasSuffix(c.Command[0], "/backfill") {
		// backfill lists its exit codes in --help: they must still say what the policy assumes.
		for _, line := range []string{"3  interrupted", "2  the configuration"} {
			if !strings.Contains(help, line) {
				t.Errorf("%s --help no longer says %q", c.Command[0], line)
			}
		}
	}
	for code, want := range map[int]string{wire.ExitInterrupted: "Ignore", wire.ExitUsage: "FailJob", wire.ExitFailed: "Count"} {
		if got := failureAction(j, c.Name, code); got != want {
			t.Errorf("%s %s: exit %d leads to %s, want %s", w.kind, w.name, code, got, want)
		}
	}
	disruption := false
	for i, r := range j.PodFailurePolicy.Rules {
		if !slices.Contains([]string{"FailJob", "Ignore", "Count", "FailIndex"}, r.Action) {
			t.Errorf("%s %s rule %d: action %q", w.kind, w.name, i, r.Action)
		}
		if (r.OnExitCodes == nil) == (len(r.OnPodConditions) == 0) {
			t.Errorf("%s %s rule %d: exactly one of onExitCodes and onPodConditions", w.kind, w.name, i)
		}
		if e := r.OnExitCodes; e != nil {
			if e.ContainerName != nil && *e.ContainerName != c.Name {
				t.Errorf("%s %s rule %d: containerName %q is not the container (%s)", w.kind, w.name, i, *e.ContainerName, c.Name)
			}
			if e.Operator != "In" && e.Operator != "NotIn" || len(e.Values) == 0 || !slices.IsSorted(e.Values) || len(slices.Compact(slices.Clone(e.Values))) != len(e.Values) ||
				(e.Operator == "In" && slices.Contains(e.Values, 0)) {
				t.Errorf("%s %s rule %d: operator In|NotIn, values sorted, unique, and no 0 with In (the API refuses it)", w.kind, w.name, i)
			}
		}
		for _, pc := range r.OnPodConditions {
			if pc.Type == "DisruptionTarget" && r.Action == "Ignore" {
				disruption = true
			}
		}
	}
	if !disruption {
		t.Errorf("%s %s: a pod disrupted (evicted, preempted) is not a failure: want an Ignore rule on DisruptionTarget", w.kind, w.name)
	}
	if j.PodReplacementPolicy != "Failed" {
		t.Errorf("%s %s: podReplacementPolicy %q, want Failed (the only value with podFailurePolicy)", w.kind, w.name, j.PodReplacementPolicy)
	}
}

func checkStatefulSet(t *testing.T, m *manifests) {
	t.Helper()
	s := m.sts
	if s.Replicas == nil || *s.Replicas != 1 {
		t.Error("cdc StatefulSet: replicas must be 1 (one mysql.server_id, one checkpoint)")
	}
	if s.PodManagementPolicy != "Parallel" {
		t.Error("cdc StatefulSet: podManagementPolicy Parallel, so an update replaces a pod that is not ready")
	}
	for k, v := range s.Selector.MatchLabels {
		if s.Template.Metadata.Labels[k] != v {
			t.Errorf("cdc StatefulSet: selector %s=%s does not match its pod template", k, v)
		}
	}
	if len(s.Selector.MatchLabels) == 0 {
		t.Error("cdc StatefulSet: no selector")
	}
	for _, c := range s.VolumeClaimTemplates {
		if !slices.Equal(c.Spec.AccessModes, []string{"ReadWriteOnce"}) || c.Spec.Resources.Requests["storage"] == "" {
			t.Errorf("cdc claim %s: want ReadWriteOnce with a storage request", c.Metadata.Name)
		}
	}
	// Volumes mounted by several pods at once must allow it.
	if j := m.job; j.Parallelism != nil && *j.Parallelism > 1 {
		for _, v := range j.Template.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && !slices.Contains(m.pvcs[v.PersistentVolumeClaim.ClaimName].AccessModes, "ReadWriteMany") {
				t.Errorf("Job: %d pods mount claim %s at once: it must be ReadWriteMany", *j.Parallelism, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
}

func checkCronJob(t *testing.T, m *manifests) {
	t.Helper()
	c := m.cron
	if c.ConcurrencyPolicy != "Forbid" {
		t.Errorf("CronJob: concurrencyPolicy %q, want Forbid (never two runs at once)", c.ConcurrencyPolicy)
	}
	sched, err := cron.ParseStandard(c.Schedule)
	if err != nil {
		t.Fatalf("CronJob schedule %q: %v", c.Schedule, err)
	}
	if c.TimeZone != nil {
		if _, err := time.LoadLocation(*c.TimeZone); err != nil {
			t.Errorf("CronJob timeZone %q: %v", *c.TimeZone, err)
		}
	}
	first := sched.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	every := sched.Next(first).Sub(first)
	if c.StartingDeadlineSeconds == nil || time.Duration(*c.StartingDeadlineSeconds)*time.Second >= every {
		t.Errorf("CronJob: startingDeadlineSeconds %v should be shorter than the schedule's %s", c.StartingDeadlineSeconds, every)
	}
}

// checkServerID: cdc's replica id is set, not a server's usual own id,
// and not the one the compose file's bridge uses.
func checkServerID(t *testing.T, m *manifests) {
	t.Helper()
	var k8s, compose struct {
		MySQL struct {
			ServerID uint32 `yaml:"server_id"`
		} `yaml:"mysql"`
	}
	if err := yaml.Unmarshal([]byte(m.byKind["ConfigMap"]["bridge-config"].Data["config.yaml"]), &k8s); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../docker/config.yaml")
	if err == nil {
		err = yaml.Unmarshal(data, &compose)
	}
	if err != nil {
		t.Fatal(err)
	}
	if id := k8s.MySQL.ServerID; id == 0 || id == 1 || id == compose.MySQL.ServerID {
		t.Errorf("mysql.server_id %d: set one of its own (not 0, not 1, not docker/config.yaml's %d)", id, compose.MySQL.ServerID)
	}
}
