//go:build compose

package composetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Image names. The product's image name is the one docker-compose.yml uses.
const (
	productImage = "mysql-iotdb-bridge:local"
	standinImage = "bridge-composetest/iotdbtest-test-double:local"
	mariadbImage = "bridge-composetest/mariadb:10.11"
	// mariadbBase is the Debian root with mariadb-server, imported from the
	// debootstrap tarball; kept between runs (the slow part of the first run).
	mariadbBase = "bridge-composetest/mariadb-base:bookworm"
	// testDoubleLabel marks the stand-in image as a test double.
	testDoubleLabel = "io.github.mysql-iotdb-bridge.test-double"
)

// repoRoot is the module root (the test runs in docker/composetest).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", dir, err)
	}
	return dir
}

// requireDocker returns the Compose command (the plugin when the docker CLI
// has it, else docker-compose). Without a reachable engine or a Compose
// tool the test fails under CI=true and skips otherwise.
func requireDocker(t *testing.T) []string {
	t.Helper()
	missing := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("compose test under CI=true: %s", msg)
		}
		t.Skipf("SKIPPING the compose test: %s (CI=true makes this a failure)", msg)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		missing("no docker CLI on PATH (install Docker Engine and Compose)")
	}
	out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		missing("the Docker engine does not answer: %v: %s", err, bytes.TrimSpace(out))
	}
	t.Logf("docker engine %s", bytes.TrimSpace(out))
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err == nil {
		t.Logf("compose: docker compose (%s)", firstLine(string(out)))
		return []string{"docker", "compose"}
	}
	if out, err := exec.Command("docker-compose", "version").CombinedOutput(); err == nil {
		t.Logf("compose: docker-compose (%s)", firstLine(string(out)))
		return []string{"docker-compose"}
	}
	missing("neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)")
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// run runs a command and returns its combined output; it fails the test on
// a non-zero exit.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(out, 60))
	}
	return out
}

func runErr(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// goBuild builds static binaries (CGO_ENABLED=0) of pkgs into dir.
func goBuild(t *testing.T, repo, dir string, pkgs ...string) {
	t.Helper()
	env := append(os.Environ(), "CGO_ENABLED=0")
	run(t, repo, env, "go", append([]string{"build", "-trimpath", "-o", dir + string(os.PathSeparator)}, pkgs...)...)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, st.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies a folder, skipping the names in skip (first level only).
func copyTree(t *testing.T, src, dst string, skip ...string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		for _, s := range skip {
			if rel == s {
				if fi.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), fi.Mode().Perm())
		}
		copyFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// buildImages builds the three images the test runs: the product's (from
// docker/Dockerfile, --target prebuilt, with binaries built here), the
// iotdbtest stand-in and the MariaDB stand-in.
func buildImages(t *testing.T, repo string) {
	t.Helper()
	start := time.Now()
	ca := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(ca); err != nil {
		t.Fatalf("the product image copies the host's CA bundle %s: %v (apt-get install ca-certificates)", ca, err)
	}

	// The product image: the build context has the layout of the repository
	// root that `make image` prepares (bin/ and docker/passwd, docker/group).
	ctx := t.TempDir()
	goBuild(t, repo, filepath.Join(ctx, "bin"), "./cmd/backfill", "./cmd/cdc", "./cmd/sync", "./cmd/verify", "./cmd/discover")
	copyFile(t, ca, filepath.Join(ctx, "bin", "ca-certificates.crt"))
	for _, f := range []string{".dockerignore", "docker/passwd", "docker/group"} {
		copyFile(t, filepath.Join(repo, f), filepath.Join(ctx, f))
	}
	run(t, repo, nil, "docker", "build", "-q", "-f", filepath.Join(repo, "docker", "Dockerfile"), "--target", "prebuilt", "-t", productImage, ctx)

	// The IoTDB stand-in: the iotdbtest test double, static, on scratch.
	sctx := t.TempDir()
	goBuild(t, repo, sctx, "./docker/composetest/standin")
	for _, f := range []string{"Dockerfile", "passwd"} {
		copyFile(t, filepath.Join(repo, "docker", "composetest", "iotdbtest", f), filepath.Join(sctx, f))
	}
	run(t, repo, nil, "docker", "build", "-q", "-t", standinImage, sctx)
	if got := strings.TrimSpace(run(t, repo, nil, "docker", "image", "inspect", "--format",
		`{{index .Config.Labels "`+testDoubleLabel+`"}}`, standinImage)); got != "true" {
		t.Fatalf("%s: label %s = %q, want true", standinImage, testDoubleLabel, got)
	}

	ensureMariaDBBase(t)
	run(t, repo, nil, "docker", "build", "-q", "--build-arg", "BASE="+mariadbBase, "-t", mariadbImage,
		filepath.Join(repo, "docker", "composetest", "mariadb"))
	t.Logf("images built in %s", time.Since(start).Round(time.Second))
}

// cacheDir holds the debootstrap tarball between runs: $COMPOSE_TEST_CACHE,
// else the user's cache folder.
func cacheDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("COMPOSE_TEST_CACHE")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			t.Fatalf("no cache folder (set COMPOSE_TEST_CACHE): %v", err)
		}
		dir = filepath.Join(base, "mysql-iotdb-bridge", "composetest")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func imageExists(name string) bool {
	return exec.Command("docker", "image", "inspect", name).Run() == nil
}

// ensureMariaDBBase provides mariadbBase: the image if it exists, else an
// import of the cached tarball, else a debootstrap run (Debian's
// mariadb-server included) that also fills the cache.
func ensureMariaDBBase(t *testing.T) {
	t.Helper()
	if imageExists(mariadbBase) {
		t.Logf("%s: cached image", mariadbBase)
		return
	}
	mirror, suite := debianMirror(t)
	tarball := filepath.Join(cacheDir(t), "debian-"+suite+"-mariadb-server.tar")
	if _, err := os.Stat(tarball); err != nil {
		if os.Geteuid() != 0 {
			t.Fatalf("building %s needs debootstrap as root (or a cached %s)", mariadbBase, tarball)
		}
		debootstrap, err := exec.LookPath("debootstrap")
		if err != nil {
			if _, err2 := os.Stat("/usr/sbin/debootstrap"); err2 != nil {
				t.Fatalf("debootstrap is not installed (apt-get install debootstrap): %v", err)
			}
			debootstrap = "/usr/sbin/debootstrap"
		}
		root := tarball + ".rootfs"
		_ = os.RemoveAll(root)
		defer os.RemoveAll(root)
		start := time.Now()
		run(t, "", nil, debootstrap, "--variant=minbase", "--include=mariadb-server", suite, root, mirror)
		t.Logf("debootstrap %s with mariadb-server from %s: %s", suite, mirror, time.Since(start).Round(time.Second))
		// No package caches, no data directory (the entrypoint makes one on
		// the first start, as the mysql image does), no documentation.
		for _, glob := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "var/lib/mysql/*", "usr/share/doc/*", "usr/share/man/*"} {
			matches, _ := filepath.Glob(filepath.Join(root, glob))
			for _, m := range matches {
				if err := os.RemoveAll(m); err != nil {
					t.Fatal(err)
				}
			}
		}
		run(t, "", nil, "tar", "--numeric-owner", "-C", root, "-cf", tarball+".tmp", ".")
		if err := os.Rename(tarball+".tmp", tarball); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("%s: from the cached %s", mariadbBase, tarball)
	}
	start := time.Now()
	run(t, "", nil, "docker", "import", tarball, mariadbBase)
	t.Logf("docker import %s: %s", tarball, time.Since(start).Round(time.Second))
}

// debianMirror is the Debian archive and suite apt uses here
// (/etc/apt/sources.list*), or $DEBIAN_MIRROR.
func debianMirror(t *testing.T) (mirror, suite string) {
	t.Helper()
	suite = "bookworm"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		if m := regexp.MustCompile(`(?m)^VERSION_CODENAME=(\w+)`).FindSubmatch(b); m != nil {
			suite = string(m[1])
		}
	}
	if m := os.Getenv("DEBIAN_MIRROR"); m != "" {
		return m, suite
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if strings.HasSuffix(f, ".sources") {
			// deb822: blocks of "Key: value" lines.
			for _, block := range strings.Split(string(b), "\n\n") {
				kv := map[string]string{}
				for _, line := range strings.Split(block, "\n") {
					if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
						kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
					}
				}
				if strings.Contains(kv["Types"], "deb") && containsWord(kv["Suites"], suite) {
					if uris := strings.Fields(kv["URIs"]); len(uris) > 0 {
						return uris[0], suite
					}
				}
			}
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 3 && f[0] == "deb" {
				if strings.HasPrefix(f[1], "[") {
					for len(f) > 1 && !strings.HasSuffix(f[1], "]") {
						f = append(f[:1], f[2:]...)
					}
					f = append(f[:1], f[2:]...)
				}
				if len(f) >= 3 && f[2] == suite {
					return f[1], suite
				}
			}
		}
	}
	return "http://deb.debian.org/debian", suite
}

func containsWord(list, w string) bool {
	for _, x := range strings.Fields(list) {
		if x == w {
			return true
		}
	}
	return false
}

// freePort is a free TCP port on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond until it reports true; after timeout the test fails
// with what cond last said.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s; last: %s", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// container is the part of `docker inspect` the test reads.
type container struct {
	ID           string `json:"Id"`
	RestartCount int
	State        struct {
		Status   string
		Running  bool
		Pid      int
		ExitCode int
		Health   *struct {
			Status string
			Log    []struct {
				Start    time.Time
				End      time.Time
				ExitCode int
				Output   string
			}
		}
	}
	HostConfig struct {
		PortBindings map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string
		}
	}
	NetworkSettings struct {
		Ports map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string
		}
	}
}

func (c container) health() string {
	if c.State.Health == nil {
		return "none"
	}
	return c.State.Health.Status
}

// httpGet returns the status code and body of a GET (0 when no answer).
func httpGet(url string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)`)
var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func parseMetrics(text string) []sample {
	var out []sample
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			continue
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelRE.FindAllStringSubmatch(m[3], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

// metricSum adds the samples of name whose labels include every pair of want.
func metricSum(ss []sample, name string, want map[string]string) float64 {
	var sum float64
next:
	for _, s := range ss {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		sum += s.value
	}
	return sum
}

// stats is the stand-in's /stats answer.
type stats struct {
	Stats        map[string]int64 `json:"stats"`
	Load         map[string]int64 `json:"load"`
	LoadedPoints int64            `json:"loaded_points"`
	Loaded       bool             `json:"loaded"`
	TotalPoints  int64            `json:"total_points"`
}

// written is the points written since the stand-in loaded its state.
func (s stats) written() int64 { return s.Stats["PointsWritten"] - s.Load["PointsWritten"] }

// deleted is the points deleted since the stand-in loaded its state.
func (s stats) deleted() int64 { return s.Stats["PointsDeleted"] - s.Load["PointsDeleted"] }

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	code, body := httpGet(url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// diffStates describes how two states differ ("" when equal).
func diffStates(want, got map[string]map[int64]string) string {
	var missing, extra, differ []string
	for s, pts := range want {
		for tm, v := range pts {
			g, ok := got[s][tm]
			switch {
			case !ok:
				missing = append(missing, fmt.Sprintf("%s@%d=%s", s, tm, v))
			case g != v:
				differ = append(differ, fmt.Sprintf("%s@%d: want %s, IoTDB has %s", s, tm, v, g))
			}
		}
	}
	for s, pts := range got {
		for tm, v := range pts {
			if _, ok := want[s][tm]; !ok {
				extra = append(extra, fmt.Sprintf("%s@%d=%s", s, tm, v))
			}
		}
	}
	if len(missing)+len(extra)+len(differ) == 0 {
		return ""
	}
	for _, l := range [][]string{missing, extra, differ} {
		sort.Strings(l)
	}
	first := func(l []string) string {
		if len(l) > 8 {
			return strings.Join(l[:8], "; ") + fmt.Sprintf("; ... (%d in all)", len(l))
		}
		return strings.Join(l, "; ")
	}
	return fmt.Sprintf("%d points missing from IoTDB [%s]; %d extra [%s]; %d different [%s]",
		len(missing), first(missing), len(extra), first(extra), len(differ), first(differ))
}

func points(s map[string]map[int64]string) int {
	n := 0
	for _, m := range s {
		n += len(m)
	}
	return n
}

// bgContext is a context for one statement.
func bgContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}
