package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPU returns the user+system CPU time a running process has used so far,
// from /proc/<pid>/stat. Threads that already exited are included.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields are
	// counted from the last ')'. After it come field 3 (state), ... so utime
	// (field 14) and stime (field 15) are at indexes 11 and 12.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procHWM returns a running process's peak resident set (VmHWM) in bytes.
func procHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// server is a long-running process whose CPU is sampled around each phase.
type server struct {
	name string
	pid  int
}

// childRun is what a finished child process cost.
type childRun struct {
	wall   time.Duration
	cpu    time.Duration // user+system, from the child's rusage
	maxRSS int64         // bytes, from the child's rusage
	stdout []byte
}

// runChild runs cmd to completion and reads its cost from the kernel's
// accounting: every phase's client is a child so that its CPU and peak RSS
// are its own and nobody else's. stderr goes to logPath; on failure the tail
// of that log is part of the error.
func runChild(ctx context.Context, cmd *exec.Cmd, logPath string) (childRun, error) {
	var out bytes.Buffer
	logf, err := os.Create(logPath)
	if err != nil {
		return childRun{}, err
	}
	defer logf.Close()
	cmd.Stdout = &out
	cmd.Stderr = logf
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL // never outlive the bench
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second

	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	var r childRun
	r.wall = wall
	r.stdout = out.Bytes()
	if len(r.stdout) > 0 { // keep it with the log (--keep), e.g. backfill's summary
		fmt.Fprintf(logf, "--- stdout ---\n%s", r.stdout)
	}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			r.maxRSS = ru.Maxrss << 10 // Linux reports KiB
		}
	}
	if err != nil {
		return r, fmt.Errorf("%s: %w\n%s", cmd.Path, err, tailFile(logPath, 2000))
	}
	return r, nil
}

// tailFile returns the last n bytes of a file, for error messages.
func tailFile(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return strings.TrimSpace(string(b))
}
