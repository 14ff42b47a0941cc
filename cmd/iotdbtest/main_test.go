package main

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "iotdbtest")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var listeningRE = regexp.MustCompile(`listening on 127\.0\.0\.1:(\d+)`)

// --tls-cert/--tls-key make the process serve TLS only: the unmodified
// client with the CA connects, a plain one is refused.
func TestTLSFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	ca := testenv.NewCA(t, "ca")
	cert, key := ca.Server(t, "iotdb", "127.0.0.1")

	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				if !strings.Contains(sc.Text(), "tls true") {
					t.Errorf("start line does not say TLS is on: %s", sc.Text())
				}
				port <- m[1]
			}
		}
	}()
	var p string
	select {
	case p = <-port:
	case <-time.After(30 * time.Second):
		t.Fatal("no listening line")
	}
	run := func(tc *client.TLSConfig) error {
		s := client.NewSession(&client.Config{Host: "127.0.0.1", Port: p, UserName: "root", Password: "root", TimeZone: "UTC", TLSConfig: tc})
		if err := s.Open(false, 2000); err != nil {
			return err
		}
		defer s.Close()
		return s.ExecuteNonQueryStatement("CREATE DATABASE root.flags")
	}
	if err := run(&client.TLSConfig{CAFile: ca.CertFile}); err != nil {
		t.Fatalf("TLS session with the CA: %v", err)
	}
	if err := run(nil); err == nil {
		t.Fatal("a plain session against --tls-cert succeeded")
	}
}

func TestTLSFlagsGoTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	for _, args := range [][]string{{"--tls-cert", "c.pem"}, {"--tls-key", "k.pem"}, {"--tls-client-ca", "ca.pem"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, bin, append([]string{"--listen", "127.0.0.1:0"}, args...)...).CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "go together") {
			t.Errorf("%v: exit %v, output %q; want exit 2 saying the flags go together", args, err, out)
		}
	}
}
