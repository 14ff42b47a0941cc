package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Names of the directories this package creates in os.TempDir(). Run and
// partial-template directories carry the creating process id so that
// cleanStaleDirs can tell which ones belong to dead processes.
const (
	runDirPrefix      = "bridge-mariadb-run-"      // + <pid>-<random>
	templateDirPrefix = "bridge-mariadb-tmpl-"     // + <hash of version and recipe>
	templateTmpPrefix = "bridge-mariadb-tmpl-tmp-" // + <pid>-<random>, renamed when complete
)

// binaries are the server programs, found once per process.
type binaries struct {
	mariadbd  string
	installDB string
}

var (
	binOnce sync.Once
	binVal  binaries
	binErr  error
)

// errNoMariaDB wraps "mariadbd is not installed" so StartMariaDB can skip.
var errNoMariaDB = errors.New("mariadbd not found")

// findBinaries looks for mariadbd and mariadb-install-db on PATH and in the
// Debian locations (/usr/sbin is not on a non-root PATH). $MARIADBD and
// $MARIADB_INSTALL_DB override.
func findBinaries() (binaries, error) {
	binOnce.Do(func() {
		binVal.mariadbd, binErr = lookBinary("MARIADBD", "mariadbd", "/usr/sbin/mariadbd", "/usr/libexec/mariadbd")
		if binErr != nil {
			return
		}
		binVal.installDB, binErr = lookBinary("MARIADB_INSTALL_DB", "mariadb-install-db", "/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db")
	})
	return binVal, binErr
}

func lookBinary(env, name string, fallbacks ...string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Errorf("testenv: %w: $%s=%s is not a program", errNoMariaDB, env, p)
		}
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, p := range fallbacks {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("testenv: %w: %s is not on PATH nor in %s (Debian: apt-get install mariadb-server; or set $%s)",
		errNoMariaDB, name, strings.Join(fallbacks, ", "), env)
}

// templateSQL runs inside mariadb-install-db's bootstrap, after the system
// tables exist. FLUSH PRIVILEGES loads the grant tables so that account
// statements work in bootstrap mode. The repl account is in the template
// (rather than created by StartReplica) so that every server has it without
// a write to its binlog, and so that a replica has it too. install-db also creates root@<hostname>,
// root@::1 and anonymous users; they are deleted so only the documented
// accounts exist (and the template does not depend on the host name).
const templateSQL = `FLUSH PRIVILEGES;
DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost', '127.0.0.1'));
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1');
FLUSH PRIVILEGES;
ALTER USER 'root'@'localhost' IDENTIFIED BY '` + rootPassword + `';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '` + rootPassword + `';
CREATE USER '` + bridgeUser + `'@'127.0.0.1' IDENTIFIED BY '` + bridgePassword + `';
CREATE USER '` + bridgeUser + `'@'localhost' IDENTIFIED BY '` + bridgePassword + `';
GRANT ` + bridgeGrants + ` ON *.* TO '` + bridgeUser + `'@'127.0.0.1', '` + bridgeUser + `'@'localhost';
CREATE USER '` + replUser + `'@'127.0.0.1' IDENTIFIED BY '` + replPassword + `';
GRANT REPLICATION SLAVE ON *.* TO '` + replUser + `'@'127.0.0.1';
`

// installArgs is the mariadb-install-db command line for dir. Flags it does
// not know are passed to the bootstrap mariadbd.
func installArgs(dir, extraFile string) []string {
	args := []string{
		"--no-defaults",
		"--auth-root-authentication-method=normal",
		"--datadir=" + dir,
		"--skip-test-db",
		"--skip-name-resolve",
		"--extra-file=" + extraFile,
		// Bootstrap options (passed through to mariadbd):
		"--skip-log-bin", // the template has no binlog; each server starts its own
		"--innodb-log-file-size=" + innodbLogFileSize, // same as the server: no resize at start
		"--innodb-buffer-pool-size=64M",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	return args
}

// installDataDir runs mariadb-install-db into dir (which must not hold a
// data directory yet).
func installDataDir(ctx context.Context, bins binaries, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("testenv: creating %s: %w", dir, err)
	}
	extra := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-init.sql")
	if err := os.WriteFile(extra, []byte(templateSQL), 0o600); err != nil {
		return fmt.Errorf("testenv: writing %s: %w", extra, err)
	}
	defer os.Remove(extra)
	cmd := exec.CommandContext(ctx, bins.installDB, installArgs(dir, extra)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("testenv: %s %s: %w\n%s", bins.installDB, strings.Join(cmd.Args[1:], " "), err, out.String())
	}
	return nil
}

var (
	versionOnce sync.Once
	versionVal  string
	versionErr  error
	templateMu  sync.Mutex
)

func serverVersion(bins binaries) (string, error) {
	versionOnce.Do(func() {
		out, err := exec.Command(bins.mariadbd, "--no-defaults", "--version").CombinedOutput()
		if err != nil {
			versionErr = fmt.Errorf("testenv: %s --version: %w: %s", bins.mariadbd, err, out)
			return
		}
		versionVal = strings.TrimSpace(string(out))
	})
	return versionVal, versionErr
}

// templateDir returns a pristine data directory, installing it the first
// time. It lives in os.TempDir() and is shared by all processes of this user;
// its name hashes the mariadbd binary, its version and the install recipe, so
// an upgrade or a change here makes a new one. Creation is race-free between
// processes: install into a private directory, then rename; the loser of the
// rename discards its copy.
func templateDir(ctx context.Context, bins binaries) (string, error) {
	version, err := serverVersion(bins)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%d\n%s\n%s", bins.mariadbd, version, os.Geteuid(), strings.Join(installArgs("", ""), " "), templateSQL)
	final := filepath.Join(os.TempDir(), templateDirPrefix+hex.EncodeToString(h.Sum(nil))[:16])
	data := filepath.Join(final, "data")

	templateMu.Lock()
	defer templateMu.Unlock()
	if _, err := os.Stat(filepath.Join(data, "mysql")); err == nil {
		return data, nil
	}
	tmp, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", templateTmpPrefix, os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("testenv: creating template dir: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	if err := installDataDir(ctx, bins, filepath.Join(tmp, "data")); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(filepath.Join(data, "mysql")); serr == nil {
			return data, nil // another process won the race
		}
		return "", fmt.Errorf("testenv: publishing template %s: %w", final, err)
	}
	return data, nil
}

// prepareDataDir makes dir a usable data directory: left alone when it
// already holds one (mysql/ exists), otherwise filled from the template (or
// by mariadb-install-db when noTemplate).
func prepareDataDir(ctx context.Context, bins binaries, dir string, noTemplate bool) error {
	if _, err := os.Stat(filepath.Join(dir, "mysql")); err == nil {
		return nil
	}
	if noTemplate {
		return installDataDir(ctx, bins, dir)
	}
	src, err := templateDir(ctx, bins)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("testenv: creating %s: %w", dir, err)
	}
	// cp -a keeps modes and uses reflinks/copy_file_range where the file
	// system offers them; about 0.1s for the ~80MB template.
	out, err := exec.CommandContext(ctx, "cp", "-a", src+"/.", dir+"/").CombinedOutput()
	if err != nil {
		return fmt.Errorf("testenv: copying template %s to %s: %w: %s", src, dir, err, out)
	}
	return nil
}
