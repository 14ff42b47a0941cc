package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

var sigTerm os.Signal = syscall.SIGTERM

var cleanStaleOnce sync.Once

// cleanStaleDirs removes run and half-built template directories left in
// os.TempDir() by processes that died without running Stop (SIGKILL, a test
// timeout panic, a crash). Their servers are already gone: Pdeathsig killed
// them with the parent. A directory whose creator, or whose mariadbd (per its
// pid file), is still alive is left alone. Best effort, once per process.
func cleanStaleDirs() {
	tmp := os.TempDir()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		pid, ok := staleDirPID(e.Name())
		if !ok || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		if b, err := os.ReadFile(filepath.Join(dir, "mysqld.pid")); err == nil {
			if spid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && processAlive(spid) {
				continue
			}
		}
		_ = os.RemoveAll(dir)
	}
}

// staleDirPID parses the creator pid out of a run or partial-template
// directory name ("bridge-mariadb-run-<pid>-<random>"). Finished templates
// ("bridge-mariadb-tmpl-<hash>") are shared and never stale.
func staleDirPID(name string) (int, bool) {
	var rest string
	switch {
	case strings.HasPrefix(name, runDirPrefix):
		rest = strings.TrimPrefix(name, runDirPrefix)
	case strings.HasPrefix(name, templateTmpPrefix):
		rest = strings.TrimPrefix(name, templateTmpPrefix)
	default:
		return 0, false
	}
	pidStr, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// processAlive reports whether pid exists. In doubt (e.g. EPERM: someone
// else's process), it says yes, so nothing in use is deleted.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	if err != nil {
		return !(errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH))
	}
	// A SIGKILLed server whose parent died stays a zombie until init reaps
	// it, which can take seconds in containers; a zombie holds no files.
	if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	return true
}
